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
	*status = 0;
	int pidfd = -1;
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	bool ended = false;
	while (!(ended = reaped(pid, status))) {
		int left = ms_until(deadline_ms);
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
