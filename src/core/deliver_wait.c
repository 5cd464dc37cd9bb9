/* Bounded waits for transport children (see deliver_wait.h for the limit and why). A child's
 * exit is waited for through a pidfd, so a delivery pays no polling delay; where pidfds are not
 * available the wait falls back to short sleeps. */
#include "core/deliver_wait.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t dwait_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline_ms)
{
	int64_t left = deadline_ms - dwait_now_ms();
	if (left <= 0)
		return 0;
	return left > 3600000 ? 3600000 : (int)left;
}

int dwait_readable(int fd, int64_t deadline_ms)
{
	for (;;) {
		int left = ms_left(deadline_ms);
		if (left == 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static bool reaped(pid_t pid, int *status)
{
	pid_t w;
	while ((w = waitpid(pid, status, WNOHANG)) < 0 && errno == EINTR)
		;
	return w == pid || (w < 0 && errno == ECHILD);
}

bool dwait_reap(pid_t pid, int64_t deadline_ms, int *status)
{
	*status = 0;
	int pidfd = -1;
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	bool ended = false;
	while (!(ended = reaped(pid, status))) {
		int left = ms_left(deadline_ms);
		if (left == 0)
			break;
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };
			if (poll(&p, 1, left) < 0 && errno != EINTR) {
				close(pidfd);
				pidfd = -1;
			}
		} else {
			struct timespec ts = { 0, 10 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (ended)
		return true;
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return false;
}
