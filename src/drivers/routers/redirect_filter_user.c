/* A user's filter runs as that user. Exim 4.96 interprets a redirect router's filter in a
 * subprocess under the uid and gid the router set (user/group, check_local_user): ${run}
 * commands, ${readfile}, logwrite and the Sieve vacation directory are the user's, not root's
 * (observed: "${run{id -u}}" in a .forward filter gives the user's uid). Here the delivery
 * process runs as root, so the interpretation goes to a child that gives up root first and
 * hands its actions back as a filter_result in bytes (core/filter_wire.c); the parent turns them
 * into children addresses as before. The child's answer is bounded in size and time. */
#include <string.h>
#include <unistd.h>

#include "core/filter_child.h"
#include "drivers/routers/redirect_filter_user.h"
#include "search/search.h"

enum {
	RF_RESULT_MAX = 16 << 20,        /* bytes of encoded actions */
	RF_TIMEOUT_MS = 10 * 60 * 1000,  /* a filter that runs longer is killed */
};

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
	filter_child_opts o = {
		.uid = a->uid, .gid = a->gid_set ? a->gid : getegid(), .gid_as_group = true,
		.max_result = RF_RESULT_MAX, .timeout_ms = RF_TIMEOUT_MS,
	};
	int detail;
	const char *fail;
	switch (filter_child_run(&o, fn, ctx, ar, res, &detail)) {
	case FCHILD_OK:
		return true;
	case FCHILD_PIPE:
		*why = arena_printf(ar, "pipe() failed: %s", strerror(detail));
		return false;
	case FCHILD_FORK:
		*why = arena_printf(ar, "fork() failed: %s", strerror(detail));
		return false;
	case FCHILD_SETID:
		fail = arena_printf(ar, "unable to set gid=%u or uid=%u", (unsigned)o.gid, (unsigned)o.uid);
		break;
	case FCHILD_STATUS:
		fail = arena_printf(ar, "status=%04x", (unsigned)detail);
		break;
	case FCHILD_TOO_BIG:
		fail = "result too large";
		break;
	case FCHILD_TIMEOUT:
		fail = "timed out";
		break;
	default:
		fail = "malformed result";
		break;
	}
	*why = arena_printf(ar, "failure to transfer data from subprocess: %s", fail);
	return false;
}
