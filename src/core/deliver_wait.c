/* Bounded waits for transport children (see deliver_wait.h for the limit and why). A child's
 * exit is waited for through a pidfd, so a delivery pays no polling delay; where pidfds are not
 * available the wait falls back to short sleeps. */
#include "core/deliver_wait.h"
#include "lib/clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int dwait_readable(int fd, int64_t deadline_ms)
{
	return wait_fd_until(fd, POLLIN, deadline_ms);
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
	return dwait_reap_pidfd(pid, -1, deadline_ms, status);
}

bool dwait_reap_pidfd(pid_t pid, int pidfd, int64_t deadline_ms, int *status)
{
	*status = 0;
#ifdef SYS_pidfd_open
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	bool ended = false;
	for (;;) {
		int left = ms_until(deadline_ms);
		if (pidfd >= 0 && left != 0) {
			/* The pidfd first: readable once the child has ended (at once if it has), so the
			 * wait below finds it, without a look that finds it still running first. */
			struct pollfd p = { .fd = pidfd, .events = POLLIN };
			if (poll(&p, 1, left) < 0 && errno != EINTR) {
				close(pidfd);
				pidfd = -1;
			}
		}
		if ((ended = reaped(pid, status)))
			break;
		if (ms_until(deadline_ms) == 0)
			break;
		if (pidfd < 0) {
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
