/* The system filter (Exim 4.96 "System-wide message filtering"), run at the start of every
 * delivery attempt before routing. Its log lines, recorded from Exim 4.96:
 *   Frozen by the system filter: <text>
 *   cancelled by system filter: <text>          (then the bounce, then Completed)
 *   Delivery deferred by system filter
 *   original recipients ignored (system filter) (a significant deliver/save/pipe)
 * "headers add/remove" change the message's headers, which go back to -H.
 *
 * As in Exim, the filter runs in a child process as system_filter_user (system_filter_group),
 * by default the Exim user; only system_filter_user = root runs it here, as root. The child
 * hands its actions back over a pipe (filter_wire.c) and writes logwrite lines itself. save,
 * pipe and mail set up deliveries through system_filter_file_transport (a name ending in "/":
 * system_filter_directory_transport), system_filter_pipe_transport and
 * system_filter_reply_transport, run as the filter's user. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver_internal.h"
#include "core/addr_reply.h"
#include "core/filter.h"
#include "core/filter_child.h"
#include "core/priv.h"
#include "lib/log.h"

#define SYSTEM_FILTER_MAX ((size_t)1 << 20)
#define SYSTEM_FILTER_RESULT_MAX ((size_t)64 << 20)   /* what a child may hand back */
#define SYSTEM_FILTER_TIMEOUT_MS (10 * 60 * 1000)      /* a filter child that runs longer is killed */

static void push_failed(dctx *d, address_item *a)
{
	if (d->nfailed == d->cap_failed) {
		size_t nc = d->cap_failed ? d->cap_failed * 2 : 16;
		address_item **x = arena_alloc(pool_msg, nc * sizeof *x);
		if (d->nfailed)
			memcpy(x, d->failed, d->nfailed * sizeof *x);
		d->failed = x;
		d->cap_failed = nc;
	}
	d->failed[d->nfailed++] = a;
}

static void logfile_write(sv file, sv text)
{
	char *path = sv_dup(pool_scratch, file);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "system filter: failed to open %s for logwrite: %s", path, strerror(errno));
		return;
	}
	if (write(fd, text.p, text.len) != (ssize_t)text.len)
		log_write(LOG_MAIN | LOG_PANIC, "system filter: failed to write %s: %s", path, strerror(errno));
	close(fd);
}

/* The filter's user and group: system_filter_user (its group from the password data unless
 * system_filter_group is set), else the Exim user. */
static void filter_ids(uid_t *uid, gid_t *gid)
{
	if (conf_main.system_filter_user != POSTERN_UNSET_ID) {
		*uid = conf_main.system_filter_user;
		struct passwd *pw = getpwuid(*uid);
		*gid = pw ? pw->pw_gid : priv_exim_gid();
	} else {
		*uid = priv_exim_uid();
		*gid = priv_exim_gid();
	}
	if (conf_main.system_filter_group != (gid_t)POSTERN_UNSET_ID)
		*gid = conf_main.system_filter_group;
}

static void set_ids(address_item *a)
{
	uid_t uid;
	gid_t gid;
	filter_ids(&uid, &gid);
	a->uid_set = a->gid_set = true;
	a->uid = uid;
	a->gid = gid;
}

/* A transport option (expanded, as Exim's "string†" options are). NULL: unset or failed (why
 * set). */
static const char *transport_name(dctx *d, const char *opt, const char *optname, const char **why)
{
	if (!opt || !*opt) {
		*why = arena_printf(pool_msg, "%s is unset", optname);
		return NULL;
	}
	xbuf out, err;
	xbuf_init(&out, pool_msg);
	xbuf_init(&err, pool_msg);
	if (xp_expand(d->env, sv_cstr(opt), &out, &err) != XP_OK) {
		*why = arena_printf(pool_msg, "failed to expand \"%s\" (%s): %s", opt, optname, xbuf_cstr(&err));
		return NULL;
	}
	return xbuf_cstr(&out);
}

/* A save, pipe or mail item the filter set up, for its system_filter_*_transport. */
static address_item *pfr_item(dctx *d, const filter_action *act, address_item **parent)
{
	const char *opt, *optname;
	address_item *a;
	if (act->kind == FA_MAIL) {
		addr_reply *rp = filter_mail_reply(pool_msg, act->mail);
		if (sv_is_null(rp->to)) {
			xbuf out, err;
			xbuf_init(&out, pool_msg);
			xbuf_init(&err, pool_msg);
			rp->to = xp_expand(d->env, SV_LIT("$reply_address"), &out, &err) == XP_OK ? xbuf_sv(&out) : SV_LIT("");
		}
		a = route_new_address(pool_msg, sv_cstr(arena_printf(pool_msg, ">" SV_FMT, SV_ARG(rp->to))));
		a->kind = ADDR_REPLY;
		a->reply = rp;
		opt = conf_main.system_filter_reply_transport;
		optname = "system_filter_reply_transport";
	} else if (act->kind == FA_PIPE) {
		a = route_new_address(pool_msg, sv_cstr(arena_printf(pool_msg, "|" SV_FMT, SV_ARG(act->arg))));
		a->kind = ADDR_PIPE;
		opt = conf_main.system_filter_pipe_transport;
		optname = "system_filter_pipe_transport";
	} else {
		a = route_new_address(pool_msg, act->arg);
		bool dir = act->arg.len > 1 && act->arg.p[act->arg.len - 1] == '/';
		a->kind = dir ? ADDR_DIRECTORY : ADDR_FILE;
		opt = dir ? conf_main.system_filter_directory_transport : conf_main.system_filter_file_transport;
		optname = dir ? "system_filter_directory_transport" : "system_filter_file_transport";
	}
	/* Exim shows these as generated by "system-filter" ("=> /file <system-filter> T=t"). */
	if (!*parent)
		*parent = route_new_address(pool_msg, SV_LIT("system-filter"));
	a->parent = *parent;
	/* Unique per item, as the router engine keys pipe and file items. */
	a->unique = sv_cstr(arena_printf(pool_msg, SV_FMT ":system-filter", SV_ARG(a->address)));
	const char *why = NULL;
	const char *tp = transport_name(d, opt, optname, &why);
	if (!tp) {
		a->pfr_error = true;
		a->pfr_error_text = sv_cstr(why);
		return a;
	}
	a->transport = tp;
	set_ids(a);
	return a;
}

/* The logwrite lines of a result, written by whoever runs the filter. */
static void write_logs(const filter_result *res)
{
	sv logfile = SV_NULL;
	for (const filter_action *act = res->actions; act; act = act->next) {
		if (act->kind == FA_LOGFILE)
			logfile = act->arg;
		else if (act->kind == FA_LOGWRITE && logfile.len)
			logfile_write(logfile, act->arg);
	}
}

typedef struct system_filter_job {
	const filter *f;
	filter_ctx *ctx;
} system_filter_job;

/* In the child: interpret, and write its logwrite lines there (as that user). */
static void interpret_in_child(void *job, arena *a, filter_result *res)
{
	system_filter_job *j = job;
	filter_run(j->f, j->ctx, a, res);
	write_logs(res);
}

/* Run the filter in a child as uid/gid. false: the child failed (why set). */
static bool run_in_child(const filter *f, filter_ctx *ctx, uid_t uid, gid_t gid, filter_result *res,
	const char **why)
{
	filter_child_opts o = {
		.uid = uid, .gid = gid, .gid_as_group = false,
		.max_result = SYSTEM_FILTER_RESULT_MAX, .timeout_ms = SYSTEM_FILTER_TIMEOUT_MS,
	};
	system_filter_job job = { f, ctx };
	int detail;
	switch (filter_child_run(&o, interpret_in_child, &job, pool_msg, res, &detail)) {
	case FCHILD_OK:
		return true;
	case FCHILD_PIPE:
		*why = arena_printf(pool_msg, "pipe() failed: %s", strerror(detail));
		break;
	case FCHILD_FORK:
		*why = arena_printf(pool_msg, "fork() failed: %s", strerror(detail));
		break;
	case FCHILD_SETID:
		*why = arena_printf(pool_msg, "failed to set uid %u / gid %u for the system filter", (unsigned)uid, (unsigned)gid);
		break;
	case FCHILD_STATUS:
		*why = arena_printf(pool_msg, "system filter process failed (status 0x%04x)", (unsigned)detail);
		break;
	case FCHILD_TOO_BIG:
		*why = "system filter result too large";
		break;
	case FCHILD_TIMEOUT:
		*why = "system filter process timed out";
		break;
	default:
		*why = "system filter process returned a malformed result";
		break;
	}
	return false;
}

void dfilter_run(dctx *d, address_item **extra_route, address_item **extra_local)
{
	*extra_route = *extra_local = NULL;
	const char *file = conf_main.system_filter;
	if (!file || !*file)
		return;
	xbuf text, err;
	xbuf_init(&text, pool_msg);
	xbuf_init(&err, pool_msg);
	int e = 0;
	if (!spool_read_file(file, SYSTEM_FILTER_MAX, &text, &e)) {
		log_write(LOG_MAIN | LOG_PANIC, "Failed to read system filter file %s: %s", file, strerror(e));
		d->originals_stop = true;
		return;
	}
	filter *f = filter_parse(pool_msg, xbuf_sv(&text), true, &err);
	if (!f) {
		log_write(LOG_MAIN | LOG_PANIC, "Error in system filter: %s", xbuf_cstr(&err));
		d->originals_stop = true;
		return;
	}
	message *m = d->m;
	const char *qd = conf_main.qualify_recipient && *conf_main.qualify_recipient ? conf_main.qualify_recipient
		: conf_main.qualify_domain ? conf_main.qualify_domain : "";
	filter_ctx ctx = {
		.env = d->env, .msg = (xp_message *)d->env->msg,
		.qualify_domain = sv_cstr(qd), .domain = sv_cstr(qd),
		.error_message = m->sender.len == 0, .null_return_path = m->sender.len == 0,
		.first_delivery = m->deliver_firsttime, .manually_thawed = m->manual_thaw,
	};
	filter_result res;
	uid_t uid;
	gid_t gid;
	filter_ids(&uid, &gid);
	/* In this process when it is to run as root, or as whoever we already are. */
	bool here = uid == 0 || (geteuid() == uid && getegid() == gid) || geteuid() != 0;
	if (here) {
		filter_run(f, &ctx, pool_msg, &res);
		write_logs(&res);
	} else {
		const char *why = NULL;
		if (!run_in_child(f, &ctx, uid, gid, &res, &why)) {
			log_write(LOG_MAIN | LOG_PANIC, "Error in system filter: %s", why);
			d->originals_stop = true;
			for (size_t i = 0; i < m->nrcpt; i++)
				d->top_pending[i] = true;
			return;
		}
		/* The child changed its own view of the headers; routers read this process's. */
		filter_apply_headers_view((xp_message *)d->env->msg, &res, pool_msg);
	}
	filter_apply_headers(m, &res);
	address_item **lt = extra_local;
	address_item *sf_parent = NULL;   /* "system-filter", made when first needed */
	for (const filter_action *act = res.actions; act; act = act->next) {
		switch (act->kind) {
		case FA_DELIVER: {
			/* Observed with 4.96: generated by "system-filter" as the items are ("=> a
			 * <system-filter>"), a generation below the recipients (so delivered before them),
			 * and routed newest first ("deliver a1", "deliver a2" delivers a2, then a1). */
			address_item *a = route_new_address(pool_msg, act->arg);
			if (act->errors_to.len)
				a->errors_address = act->errors_to;
			if (!sf_parent)
				sf_parent = route_new_address(pool_msg, SV_LIT("system-filter"));
			a->parent = sf_parent;
			a->redirect_depth = 1;
			a->next = *extra_route;
			*extra_route = a;
			break;
		}
		case FA_SAVE:
		case FA_PIPE:
		case FA_MAIL: {
			address_item *a = pfr_item(d, act, &sf_parent);
			*lt = a;
			lt = &a->next;
			break;
		}
		default:
			break;
		}
	}
	switch (res.outcome) {
	case FILTER_FREEZE:
		if (m->manual_thaw)
			break; /* a manual thaw wins over the filter's freeze */
		log_write(LOG_MAIN, "Frozen by the system filter: %.*s", SV_ARG(res.actions ? res.tail->arg : SV_NULL));
		d->freeze = true;
		d->freeze_logged = true;
		d->originals_stop = true;
		break;
	case FILTER_DEFER:
		log_write(LOG_MAIN, "Delivery deferred by system filter");
		d->originals_stop = true;
		for (size_t i = 0; i < m->nrcpt; i++)
			d->top_pending[i] = true;
		break;
	case FILTER_FAIL: {
		sv why = res.tail ? res.tail->arg : SV_NULL;
		log_write(LOG_MAIN, "cancelled by system filter: %.*s", SV_ARG(why));
		d->originals_stop = true;
		for (size_t i = 0; i < m->nrcpt; i++) {
			if (message_is_nonrecipient(m, m->rcpt[i].address))
				continue;
			address_item *a = route_new_address(pool_msg, m->rcpt[i].address);
			a->rcpt_index = (int)i;
			a->dsn_flags = m->rcpt[i].dsn_flags;
			a->orcpt = m->rcpt[i].orcpt;
			a->result = ADDR_FAIL;
			a->message = why.len ? why : SV_LIT("cancelled by system filter");
			push_failed(d, a);
		}
		break;
	}
	case FILTER_ERROR:
		log_write(LOG_MAIN | LOG_PANIC, "Error in system filter: %.*s", SV_ARG(res.error));
		d->originals_stop = true;
		for (size_t i = 0; i < m->nrcpt; i++)
			d->top_pending[i] = true;
		break;
	default:
		if (res.significant) {
			log_write(LOG_MAIN, "original recipients ignored (system filter)");
			d->originals_stop = true;
			for (size_t i = 0; i < m->nrcpt; i++)
				message_add_nonrecipient(m, m->rcpt[i].address);
		}
		break;
	}
}
