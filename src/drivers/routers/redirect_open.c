/* Opening a redirect file as its user (redirect_open.h). A child gives up root for the user,
 * opens the file and passes the descriptor back over a socket pair (SCM_RIGHTS); the parent
 * reads it as before. Only the open needs the user's rights: permissions are checked when a
 * file is opened, so what the parent reads is what the user could read. The child does nothing
 * but the open, and its answer is waited for at most OPEN_TIMEOUT_MS. */
#include "drivers/routers/redirect_open.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OPEN_TIMEOUT_MS = 120 * 1000 };   /* a hung file system must not hold the delivery */

redirect_opener redirect_opener_for(const address_item *a)
{
	redirect_opener o = { .as_user = false };
	if (a && a->uid_set && a->uid != 0 && geteuid() == 0) {
		o.as_user = true;
		o.uid = a->uid;
		o.gid = a->gid_set ? a->gid : getegid();
	}
	return o;
}

static int open_here(const char *path, int *err)
{
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		*err = errno;
	return fd;
}

/* In the child: become the user, open, send {errno} with the descriptor attached (if any). */
static void child_open(const redirect_opener *o, const char *path, int sock)
{
	int e = 0, fd = -1;
	if (setgroups(1, &o->gid) != 0 || setgid(o->gid) != 0 || setuid(o->uid) != 0)
		e = EPERM;
	else
		fd = open_here(path, &e);
	struct iovec iov = { .iov_base = &e, .iov_len = sizeof e };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	_exit(sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof e ? 0 : 1);
}

/* In the parent: one message, within the time bound. */
static int receive_fd(int sock, int *err)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int pr;
	while ((pr = poll(&p, 1, OPEN_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (pr <= 0) {
		*err = ETIMEDOUT;
		return -1;
	}
	int e = 0;
	struct iovec iov = { .iov_base = &e, .iov_len = sizeof e };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
		.msg_controllen = sizeof ctl.buf };
	ssize_t n;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	int fd = -1;
	for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
	if (n != (ssize_t)sizeof e || (fd < 0 && e == 0) || (msg.msg_flags & MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		*err = EIO;
		return -1;
	}
	if (fd < 0)
		*err = e;
	return fd;
}

int redirect_open(const redirect_opener *o, const char *path, int *err)
{
	if (!o->as_user)
		return open_here(path, err);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
		*err = EAGAIN;
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		*err = EAGAIN;
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		child_open(o, path, sv[1]);
	}
	close(sv[1]);
	int fd = receive_fd(sv[0], err);
	close(sv[0]);
	if (fd < 0 && *err == ETIMEDOUT)
		kill(pid, SIGKILL);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return fd;
}
