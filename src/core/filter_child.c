/* A filter interpreted in a child under another uid: see filter_child.h. */
#include "core/filter_child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fdio.h"
#include "lib/clock.h"

/* The child: become the user, interpret, write the encoded result. Never returns. */
static void child(const filter_child_opts *o, filter_child_fn fn, void *ctx, arena *a, int out)
{
	gid_t gid = o->gid;
	if ((o->gid_as_group ? setgroups(1, &gid) : setgroups(0, NULL)) != 0 || setgid(gid) != 0
		|| setuid(o->uid) != 0 || (o->uid != 0 && getuid() == 0))
		_exit(2);
	filter_result r;
	fn(ctx, a, &r);
	xbuf enc;
	xbuf_init(&enc, a);
	filter_result_encode(&r, &enc);
	_exit(fd_write_all(out, enc.p ? enc.p : "", enc.len) ? 0 : 3);
}

filter_child_status filter_child_run(const filter_child_opts *o, filter_child_fn fn, void *ctx, arena *a,
	filter_result *res, int *detail)
{
	*detail = 0;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		*detail = errno;
		return FCHILD_PIPE;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*detail = errno;
		close(p[0]);
		close(p[1]);
		return FCHILD_FORK;
	}
	if (pid == 0) {
		close(p[0]);
		child(o, fn, ctx, a, p[1]);
	}
	close(p[1]);
	xbuf in;
	xbuf_init(&in, a);
	char buf[8192];
	filter_child_status st = FCHILD_OK;
	long long deadline = monotonic_ms() + o->timeout_ms;
	for (;;) {
		long long left = deadline - monotonic_ms();
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int pr = left > 0 ? poll(&pf, 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			st = FCHILD_TIMEOUT;
			break;
		}
		ssize_t k = read(p[0], buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (in.len + (size_t)k > o->max_result) {
			st = FCHILD_TOO_BIG;
			break;
		}
		xbuf_put(&in, buf, (size_t)k);
	}
	close(p[0]);
	if (st != FCHILD_OK)
		kill(pid, SIGKILL);
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (st != FCHILD_OK)
		return st;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		if (WIFEXITED(ws) && WEXITSTATUS(ws) == 2)
			return FCHILD_SETID;
		*detail = ws;
		return FCHILD_STATUS;
	}
	return filter_result_decode(xbuf_sv(&in), a, res) ? FCHILD_OK : FCHILD_MALFORMED;
}
