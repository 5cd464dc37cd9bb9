/* Opening log files as the exim user (see log_open_exim.h). */
#include "core/log_open_exim.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/priv.h"
#include "lib/log.h"

/* The child's answer: errno 0 and one descriptor in SCM_RIGHTS, or the errno of the failure. */
static void child_send(int sock, int fd, int err)
{
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof err };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	while (sendmsg(sock, &m, 0) < 0 && errno == EINTR)
		;
}

/* The parent's side: at most 30 s for the child (it only opens a file). */
static int parent_receive(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int rc;
	while ((rc = poll(&p, 1, 30000)) < 0 && errno == EINTR)
		;
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	int err = EIO;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof err };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
		.msg_controllen = sizeof ctl.buf };
	ssize_t n;
	while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	int fd = -1;
	for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
	if (n != (ssize_t)sizeof err)
		err = EIO;
	if (fd >= 0 && err == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	errno = err ? err : EIO;
	return -1;
}

int log_open_as_exim(const char *name)
{
	if (geteuid() != 0 || priv_exim_uid() == 0)
		return log_open_path(name);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		xbuf err;
		xbuf_init(&err, NULL);
		int fd = -1, e = EPERM;
		if (priv_drop_to_exim(&err)) {
			fd = log_open_path(name);
			e = fd < 0 ? errno : 0;
		}
		child_send(sv[1], fd, e);
		_exit(0);
	}
	close(sv[1]);
	int fd = parent_receive(sv[0]);
	int e = errno;
	close(sv[0]);
	if (fd < 0 && e == ETIMEDOUT)
		kill(pid, SIGKILL); /* it did not answer in time; it is ours and not yet waited for */
	/* A SIGCHLD handler elsewhere may have reaped it already (ECHILD): nothing to wait for. */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	errno = e;
	return fd;
}
