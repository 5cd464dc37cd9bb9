/* A user's filter runs as that user. Exim 4.96 interprets a redirect router's filter in a
 * subprocess under the uid and gid the router set (user/group, check_local_user): ${run}
 * commands, ${readfile}, logwrite and the Sieve vacation directory are the user's, not root's
 * (observed: "${run{id -u}}" in a .forward filter gives the user's uid). Here the delivery
 * process runs as root, so the interpretation goes to a child that gives up root first and
 * hands its actions back as a filter_result in bytes (core/filter_wire.c); the parent turns them
 * into children addresses as before. The child's answer is bounded in size and time. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/routers/redirect_filter_user.h"
#include "lib/fdio.h"
#include "search/search.h"

enum {
	RF_RESULT_MAX = 16 << 20,        /* bytes of encoded actions */
	RF_TIMEOUT_MS = 10 * 60 * 1000,  /* a filter that runs longer is killed */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rf_needs_user(const address_item *a)
{
	return a->uid_set && a->uid != 0 && geteuid() == 0;
}

bool rf_interpret_as_user(const address_item *a, rf_interpret_fn fn, void *ctx, arena *ar,
	filter_result *res, const char **why)
{
	/* Cached lookup handles (database connections, open files) must not be shared with the
	 * child: it would talk on the parent's connections. Exim tidies them before its fork too. */
	search_tidyup();
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		*why = arena_printf(ar, "pipe() failed: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*why = arena_printf(ar, "fork() failed: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		close(p[0]);
		gid_t gid = a->gid_set ? a->gid : getegid();
		if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(a->uid) != 0 || getuid() == 0)
			_exit(2);
		filter_result r;
		fn(ctx, ar, &r);
		xbuf out;
		xbuf_init(&out, ar);
		filter_result_encode(&r, &out);
		_exit(fd_write_all(p[1], out.p ? out.p : "", out.len) ? 0 : 3);
	}
	close(p[1]);
	xbuf in;
	xbuf_init(&in, ar);
	char buf[8192];
	const char *fail = NULL;
	long long deadline = now_ms() + RF_TIMEOUT_MS;
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int pr = left > 0 ? poll(&pf, 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			fail = "timed out";
			break;
		}
		ssize_t k = read(p[0], buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (in.len + (size_t)k > RF_RESULT_MAX) {
			fail = "result too large";
			break;
		}
		xbuf_put(&in, buf, (size_t)k);
	}
	close(p[0]);
	if (fail)
		kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!fail && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		fail = WIFEXITED(st) && WEXITSTATUS(st) == 2
			? arena_printf(ar, "unable to set gid=%u or uid=%u", (unsigned)(a->gid_set ? a->gid : getegid()),
				(unsigned)a->uid)
			: arena_printf(ar, "status=%04x", (unsigned)st);
	if (!fail && !filter_result_decode(xbuf_sv(&in), ar, res))
		fail = "malformed result";
	if (fail) {
		*why = arena_printf(ar, "failure to transfer data from subprocess: %s", fail);
		return false;
	}
	return true;
}
