/* The monotonic clock and waiting on a descriptor against a deadline taken from it (clock.h).
 * One definition: earlier each timed reader had its own copy. */
#include "lib/clock.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ms_until(long long deadline)
{
	long long left = deadline - monotonic_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int wait_fd_until(int fd, short events, long long deadline)
{
	for (;;) {
		int left = ms_until(deadline);
		if (left == 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left);
		if (r > 0)
			return 1;
		/* r == 0: the wait was cut at INT_MAX or ended a little early; ms_until decides. */
		if (r < 0 && errno != EINTR)
			return -1;
	}
}
