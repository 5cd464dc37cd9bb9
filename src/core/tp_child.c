/* Shared by the pipe and lmtp transports (see tp_child.h). */
#include "core/tp_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Close every descriptor from lo up to hi (inclusive). */
static void close_from_to(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lo, hi, 0U) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	unsigned top = max > 0 && max < 65536 ? (unsigned)max : 65536;
	for (unsigned fd = lo; fd <= hi && fd < top; fd++)
		close((int)fd);
}

bool tp_child_wire(int in_fd, int out_fd, int err_fd, int *keep)
{
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	/* Move everything above the standard descriptors first, so no dup2 clobbers another. */
	int k = -1;
	if (keep) {
		k = fcntl(*keep, F_DUPFD_CLOEXEC, 10);
		if (k < 0)
			return false;
		*keep = k;
	}
	int i = fcntl(in_fd, F_DUPFD, 10), o = fcntl(out_fd, F_DUPFD, 10);
	int e = err_fd >= 0 ? fcntl(err_fd, F_DUPFD, 10) : open("/dev/null", O_WRONLY);
	if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
		return false;
	if (k >= 0) {
		close_from_to(3, (unsigned)k - 1);
		close_from_to((unsigned)k + 1, ~0U);
	} else {
		close_from_to(3, ~0U);
	}
	return true;
}

bool tp_child_reap(pid_t pid, int *status, int timeout_ms)
{
	int st = 0;
	if (timeout_ms < 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (status)
			*status = st;
		return true;
	}
	for (int waited = 0;; waited += 10) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR)) {
			if (status)
				*status = st;
			return true;
		}
		if (waited >= timeout_ms)
			break;
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
	return false;
}
