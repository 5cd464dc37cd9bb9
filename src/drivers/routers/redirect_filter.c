/* The redirect router's filter hook (Exim 4.96 "The redirect router", allow_filter): data that
 * starts with "# Exim filter" or "# Sieve filter" is run as a filter, and what it sets up becomes
 * the router's children, as Exim's redirect router makes them:
 *   deliver / redirect      an address, routed from the first router (or redirect_router);
 *   save / fileinto / keep  a file item for file_transport (directory_transport for a name
 *                           ending in "/"); an Exim filter's relative name gets $home/ in front
 *                           when filter_prepend_home is set, Sieve names stay as written
 *                           ("inbox" for keep: the transport decides where that is);
 *   pipe                    a pipe item for pipe_transport;
 *   mail / vacation /       an autoreply item ">to" for reply_transport, carrying the reply
 *   Sieve vacation, notify  (core/addr_reply.h).
 * forbid_file, forbid_pipe and forbid_filter_reply mark items forbidden (they then fail, as with
 * a .forward list); forbid_filter_* (expansion features) restrict the Exim filter's expansions;
 * forbid_exim_filter / forbid_sieve_filter refuse a kind of filter. An Exim filter that sets up
 * no significant delivery lets the address go on to the next router, with its children; a Sieve
 * filter always keeps or discards (its errors keep, silently, as in Exim). Log texts observed
 * from Exim 4.96: "error in filter file: <reason>", errno -17. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "conf/main_options.h"
#include "core/addr.h"
#include "core/addr_reply.h"
#include "core/filter.h"
#include "core/sieve.h"
#include "core/spool.h"
#include "core/submit.h"
#include "drivers/routers/redirect.h"
#include "drivers/routers/redirect_filter.h"
#include "drivers/routers/redirect_filter_user.h"
#include "drivers/routers/route_ops.h"
#include "lib/log.h"
#include "mail/address.h"

/* Exim's errno for a filter error ("defer (-17)"). */
enum { ERRNO_FILTER = -17 };

static unsigned expansion_forbids(const struct redirect_router_options *o)
{
	unsigned f = 0;
	f |= o->forbid_filter_dlfunc ? RDO_DLFUNC : 0;
	f |= o->forbid_filter_existstest ? RDO_EXISTS : 0;
	f |= o->forbid_filter_lookup ? RDO_LOOKUP : 0;
	f |= o->forbid_filter_perl ? RDO_PERL : 0;
	f |= o->forbid_filter_readfile ? RDO_READFILE : 0;
	f |= o->forbid_filter_readsocket ? RDO_READSOCK : 0;
	f |= o->forbid_filter_run ? RDO_RUN : 0;
	f |= o->forbid_filter_logwrite ? RDO_LOG : 0;
	return f;
}

/* The transport for a pipe, file or reply item (expanded), or the item's error. */
static void set_pfr_transport(const driver_instance *r, route_ctx *c, xp_env *env, address_item *k)
{
	const struct redirect_router_options *o = r->priv;
	const char *tname, *oname;
	switch (k->kind) {
	case ADDR_PIPE:
		tname = o->pipe_transport;
		oname = "pipe_transport";
		k->pfr_forbidden = o->forbid_pipe;
		if (k->pfr_forbidden)
			k->pfr_error_text = SV_LIT("delivery to pipe forbidden");   /* Exim's "** |cmd ...: ..." */
		break;
	case ADDR_REPLY:
		tname = o->reply_transport;
		oname = "reply_transport";
		k->pfr_forbidden = o->forbid_filter_reply;
		if (k->pfr_forbidden)
			k->pfr_error_text = SV_LIT("autoreply forbidden");   /* Exim's "** >to ...: autoreply forbidden" */
		break;
	case ADDR_DIRECTORY:
		tname = o->directory_transport ? o->directory_transport : o->file_transport;
		oname = "directory_transport";
		k->pfr_forbidden = o->forbid_file;
		break;
	default:
		tname = o->file_transport;
		oname = "file_transport";
		k->pfr_forbidden = o->forbid_file;
		break;
	}
	if (k->pfr_forbidden && (k->kind == ADDR_FILE || k->kind == ADDR_DIRECTORY))
		k->pfr_error_text = SV_LIT("delivery to file forbidden");   /* as Exim logs it, for directories too */
	k->router = r;
	if (!tname) {
		k->pfr_error = true;
		k->pfr_error_text = sv_cstr(arena_printf(c->a, "%s unset in %s router", oname, r->name));
		return;
	}
	xbuf err;
	xbuf_init(&err, c->a);
	sv tv;
	if (route_expand(env, tname, &tv, &err) == XP_OK) {
		k->transport = sv_dup(c->a, tv);
	} else {
		k->pfr_error = true;
		k->pfr_error_text = sv_cstr(arena_printf(c->a, "failed to expand \"%s\" in %s router: %s",
			tname, r->name, xbuf_cstr(&err)));
	}
}

/* A relative file name in the autoreply's file, log or once: the user's home directory, where
 * Exim's transport runs (it changes to $home first). */
static sv in_home(route_ctx *c, const address_item *a, sv path)
{
	if (sv_is_null(path) || !path.len || path.p[0] == '/' || !a->home.len)
		return path;
	sv v = sv_cstr(arena_printf(c->a, SV_FMT "/" SV_FMT, SV_ARG(a->home), SV_ARG(path)));
	v.taint = path.taint | a->home.taint;
	return v;
}

/* Sieve's vacation directory: "Exim will create it if necessary", as the filter's user (the
 * filter runs as that user: redirect_filter_user.c). Failures are not logged: the autoreply
 * finds them (Exim 4.96 logs nothing either). */
static void make_vacation_directory(route_ctx *c, const address_item *a, sv dir)
{
	char *path = sv_dup(c->a, dir);
	if (mkdir(path, 0700) != 0)
		return;
	if (a->uid_set && geteuid() == 0)
		(void)chown(path, a->uid, a->gid_set ? a->gid : (gid_t)-1);
}

/* What Exim 4.96 does when a Sieve script requires "vacation" (observed): it opens the
 * vacation directory as the filter's user; a directory that does not exist yet is fine, any
 * other failure (not a directory, not readable) is a Sieve error at the require. In an open
 * directory every entry whose name is 32 characters long (a once file) and older than 31 days
 * is removed. The filter runs here as root: the user's read permission is checked from the
 * mode bits. */
enum { VACATION_MAX_DAYS = 31 };

typedef struct vacation_check {
	route_ctx *c;
	const address_item *a;
	sv dir;
} vacation_check;

static bool user_can_read(const struct stat *st, const address_item *a)
{
	if (!a->uid_set || a->uid == 0)
		return true;
	if (st->st_uid == a->uid)
		return (st->st_mode & S_IRUSR) != 0;
	if (a->gid_set && st->st_gid == a->gid)
		return (st->st_mode & S_IRGRP) != 0;
	return (st->st_mode & S_IROTH) != 0;
}

static bool vacation_open(void *ctx)
{
	vacation_check *v = ctx;
	char *path = sv_dup(v->c->a, v->dir);
	DIR *dir = opendir(path);
	if (dir == NULL)
		return errno == ENOENT;
	struct stat st;
	if (fstat(dirfd(dir), &st) != 0 || !user_can_read(&st, v->a)) {
		closedir(dir);
		return false;
	}
	time_t now = time(NULL);
	struct dirent *e;
	while (v->c->mode == ROUTE_MODE_DELIVER && (e = readdir(dir)) != NULL) {
		if (strlen(e->d_name) != 32)
			continue;
		struct stat fs;
		if (fstatat(dirfd(dir), e->d_name, &fs, 0) == 0 && fs.st_mtime + VACATION_MAX_DAYS * 86400L < now)
			(void)unlinkat(dirfd(dir), e->d_name, 0);
	}
	closedir(dir);
	return true;
}

/* An Exim filter's reply item is named by the first address of its "to" list that parses
 * (observed: "mail to \"good@x, y@@z\"" and "mail to \"y@@z, good@x\"" both give ">good@x";
 * the reply's reception then reports y@@z, see receive_headers.c). None that parses makes Exim
 * 4.96 name it ">**bad-reply**" and fail it at routing, "filter autoreply generated
 * syntactically invalid recipient", with the error ignored (observed, e.g. for a message
 * without From: or Reply-To: replied to at $reply_address). SV_NULL: bad. */
static sv first_reply_address(route_ctx *c, sv to)
{
	size_t pos = 0;
	sv item;
	while (addr_next_item(to, &pos, &item)) {
		while (item.len && (item.p[0] == ' ' || item.p[0] == '\t' || item.p[0] == '\n'))
			item = sv_sub(item, 1, item.len - 1);
		if (item.len == 0)
			continue;
		xbuf out;
		xbuf_init(&out, c->a);
		addr_parsed info;
		const char *why;
		if (!addr_extract(item, NULL, &out, &info, &why) || info.empty || out.len == 0)
			continue;
		sv v = xbuf_sv(&out);
		v.taint = to.taint;
		return v;
	}
	return SV_NULL;
}

static addr_reply *make_reply(route_ctx *c, xp_env *env, const address_item *a, const filter_mail *m)
{
	addr_reply *rp = filter_mail_reply(c->a, m);
	if (sv_is_null(rp->to)) {
		/* Exim filter: "If no to argument appears, the message is sent to $reply_address". */
		xbuf err;
		xbuf_init(&err, c->a);
		if (route_expand(env, "$reply_address", &rp->to, &err) != XP_OK)
			rp->to = SV_LIT("");
	}
	rp->file = in_home(c, a, rp->file);
	rp->log = in_home(c, a, rp->log);
	rp->once = in_home(c, a, rp->once);
	return rp;
}

/* logfile/logwrite of an Exim filter: written by a child running as the router's user (Exim
 * allows logging only under an unprivileged uid; as root nothing is written). */
static void write_logs(route_ctx *c, const address_item *a, const filter_result *res)
{
	if (!a->uid_set || a->uid == 0)
		return;
	bool any = false;
	for (const filter_action *act = res->actions; act && !any; act = act->next)
		any = act->kind == FA_LOGWRITE;
	if (!any)
		return;
	pid_t pid = fork();
	if (pid < 0) {
		route_log(c, LOG_MAIN, "filter logwrite: fork failed: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		if ((a->gid_set && setgid(a->gid) != 0) || setuid(a->uid) != 0)
			_exit(1);
		int fd = -1;
		for (const filter_action *act = res->actions; act; act = act->next) {
			if (act->kind == FA_LOGFILE) {
				if (fd >= 0)
					close(fd);
				sv path = in_home(c, a, act->arg);
				fd = open(sv_dup(c->a, path), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
					act->mode >= 0 ? (mode_t)act->mode : 0600);
			} else if (act->kind == FA_LOGWRITE && fd >= 0) {
				if (write(fd, act->arg.p, act->arg.len) < 0)
					_exit(1);
			}
		}
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* A Sieve notify, submitted at once as Exim 4.96 does while filtering (observed: "<= user@domain
 * R=<id> U=<the filter's user> P=local", delivered before the message's own deliveries). A
 * failure is logged; the filtering goes on. */
static void send_notification(route_ctx *c, const address_item *a, const filter_mail *m)
{
	xbuf text;
	xbuf_init(&text, c->a);
	xbuf_puts(&text, "From: ");
	xbuf_putsv(&text, m->from);
	xbuf_puts(&text, "\nTo: ");
	xbuf_putsv(&text, m->to);
	xbuf_putc(&text, '\n');
	xbuf_putsv(&text, m->extra_headers);
	xbuf_puts(&text, "\nSubject: ");
	xbuf_putsv(&text, m->subject);
	xbuf_puts(&text, "\n\n");
	xbuf_putsv(&text, m->text);
	xbuf err;
	xbuf_init(&err, c->a);
	sv id = SV_NULL;
	if (route_expand(c->env, "$message_exim_id", &id, &err) != XP_OK)
		id = SV_NULL;
	submit_request req = {
		.sender = m->from, .text = xbuf_sv(&text), .reference_id = id,
		.extract_recipients = true, .by_uid = a->uid_set, .uid = a->uid,
		.gid = a->gid_set ? a->gid : (gid_t)conf_main.exim_group,
	};
	char new_id[MSG_ID_LEN + 1];
	spool_config sc;
	if (!spool_config_from_main(&sc, &err) || !submit_message(&sc, &req, new_id, &err))
		route_log(c, LOG_MAIN, "Sieve notify to " SV_FMT " failed: %s", SV_ARG(m->to), xbuf_cstr(&err));
}

/* Turn the actions into children. Returns how many were queued. */
static size_t make_children(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env,
	const filter_result *res, bool sieve)
{
	const struct redirect_router_options *o = r->priv;
	size_t n = 0;
	for (const filter_action *act = res->actions; act; act = act->next)
		n += act->kind == FA_DELIVER || act->kind == FA_SAVE || act->kind == FA_PIPE
			|| (act->kind == FA_MAIL && !act->mail->notify);
	if (!n)
		return 0;
	address_item **kids = arena_calloc(c->a, n, sizeof *kids);
	size_t i = 0;
	for (const filter_action *act = res->actions; act; act = act->next) {
		address_item *k;
		switch (act->kind) {
		case FA_DELIVER: {
			sv to = act->arg;
			if (o->check_ancestor) {
				for (const address_item *p = a; p; p = p->parent)
					if (sv_eqi(p->address, to))
						to = a->address;
			}
			k = route_child_address(c, a, to, ADDR_MAIL);
			k->router = NULL;
			if (act->errors_to.len)
				k->errors_address = act->errors_to;
			break;
		}
		case FA_SAVE: {
			sv path = act->arg;
			if (!sieve && path.len && path.p[0] != '/' && o->filter_prepend_home && a->home.len)
				path = in_home(c, a, path);
			bool dir = path.len > 1 && path.p[path.len - 1] == '/';
			k = route_child_address(c, a, path, dir ? ADDR_DIRECTORY : ADDR_FILE);
			k->home = a->home;
			set_pfr_transport(r, c, env, k);
			break;
		}
		case FA_PIPE:
			/* The item is "|command", as a .forward list writes it (and Exim logs it). */
			k = route_child_address(c, a, sv_cstr(arena_printf(c->a, "|" SV_FMT, SV_ARG(act->arg))), ADDR_PIPE);
			k->home = a->home;
			set_pfr_transport(r, c, env, k);
			break;
		case FA_MAIL: {
			if (act->mail->notify) {
				if (c->mode == ROUTE_MODE_DELIVER)
					send_notification(c, a, act->mail);
				continue;
			}
			addr_reply *reply = make_reply(c, env, a, act->mail);
			sv first = sieve ? reply->to : first_reply_address(c, reply->to);
			bool bad = !sieve && sv_is_null(first);
			k = route_child_address(c, a, sv_cstr(arena_printf(c->a, ">" SV_FMT,
				SV_ARG(bad ? SV_LIT("**bad-reply**") : first))), ADDR_REPLY);
			k->home = a->home;
			k->reply = reply;
			/* Observed from Exim 4.96: a Sieve vacation reply that fails is logged "error
			 * ignored" and bounces nothing; an Exim filter's mail bounces. */
			k->ignore_error = (sieve && act->mail->vacation) || bad;
			set_pfr_transport(r, c, env, k);
			if (bad && !k->pfr_error) {
				k->pfr_error = true;
				k->pfr_error_text = SV_LIT("filter autoreply generated syntactically invalid recipient");
			}
			break;
		}
		default:
			continue;
		}
		k->hide_child = o->hide_child_in_errmsg;
		/* Files and pipes run as the filter's user. */
		if (k->kind != ADDR_MAIL) {
			k->uid_set = a->uid_set;
			k->uid = a->uid;
			k->gid_set = a->gid_set;
			k->gid = a->gid;
		}
		kids[i++] = k;
	}
	const char *rr = route_opt_str(r, "redirect_router");
	if (rr) {
		const driver_instance *start = conf_driver_instances("routers");
		while (start && strcmp(start->name, rr) != 0)
			start = start->next;
		for (size_t j = 0; j < i; j++)
			if (kids[j]->kind == ADDR_MAIL)
				kids[j]->start_router = start;
	}
	/* Exim delivers a filter's items last first (its list of generated addresses is built by
	 * prepending; observed: "save A, save B, pipe P" logs P, B, A). */
	for (size_t j = 0; j < i; j++)
		route_queue(c, kids[j]);
	return i;
}

/* Everything the interpretation needs, so that it can run in a child under the user's uid
 * (redirect_filter_user.c) as well as here. */
typedef struct interp_job {
	const struct redirect_router_options *o;
	address_item *a;
	route_ctx *c;
	xp_env *env;
	sv text;
	bool sieve;
	sv vdir, owner, sub, user;    /* Sieve: the expanded sieve_* options */
	sv qualify;                   /* Exim filter: the domain for unqualified addresses */
} interp_job;

static void interpret(void *ctx, arena *ar, filter_result *res)
{
	interp_job *j = ctx;
	address_item *a = j->a;
	if (j->sieve) {
		vacation_check vc = { .c = j->c, .a = a, .dir = j->vdir };
		sieve_options so = { .vacation = !sv_is_null(j->vdir), .enotify = !sv_is_null(j->owner),
			.vacation_open = sv_is_null(j->vdir) ? NULL : vacation_open, .vacation_ctx = &vc };
		sieve_program *p = sieve_parse(ar, j->text, &so);
		sieve_ctx sc = {
			.msg = (xp_message *)j->env->msg, .return_path = j->c->sender, .local_part = a->local_part,
			.domain = a->domain, .prefix = a->prefix, .suffix = a->suffix, .useraddress = j->user,
			.subaddress = j->sub, .vacation_directory = j->vdir, .enotify_mailto_owner = j->owner,
			.message_size = j->env->msg ? j->env->msg->size : 0,
		};
		sieve_run(p, &sc, ar, res);
		for (const filter_action *act = res->actions; act; act = act->next)
			if (act->kind == FA_MAIL && act->mail->vacation && !sv_is_null(j->vdir)
				&& j->c->mode == ROUTE_MODE_DELIVER) {
				make_vacation_directory(j->c, a, j->vdir);
				break;
			}
		return;
	}
	const struct redirect_router_options *o = j->o;
	xbuf err;
	xbuf_init(&err, ar);
	filter_parse_opts po = { .allow_fail = o->allow_fail, .allow_freeze = o->allow_freeze,
		.allow_defer = o->allow_defer };
	filter *f = filter_parse_with(ar, j->text, &po, &err);
	if (!f) {
		/* Told as a run-time error is: "error in filter file: <why>". */
		memset(res, 0, sizeof *res);
		res->outcome = FILTER_ERROR;
		res->error = sv_cstr(arena_strdup(ar, xbuf_cstr(&err)));
		return;
	}
	filter_ctx fc = {
		.env = j->env, .msg = (xp_message *)j->env->msg, .local_part = a->local_part, .domain = a->domain,
		.prefix = a->prefix, .suffix = a->suffix, .qualify_domain = j->qualify,
		.error_message = j->c->sender.len == 0, .null_return_path = j->c->sender.len == 0,
		.first_delivery = j->c->first_delivery, .manually_thawed = j->c->manually_thawed,
		.forbid_logwrite = o->forbid_filter_logwrite,
	};
	unsigned saved = j->env->forbid;
	j->env->forbid |= expansion_forbids(o);
	filter_run(f, &fc, ar, res);
	j->env->forbid = saved;
}

/* The router options the interpretation needs, expanded here (as root). */
static route_rc prepare(const driver_instance *r, interp_job *j)
{
	const struct redirect_router_options *o = j->o;
	address_item *a = j->a;
	route_ctx *c = j->c;
	xbuf err;
	xbuf_init(&err, c->a);
	if (j->sieve) {
		const char *opts[] = { o->sieve_vacation_directory, o->sieve_enotify_mailto_owner,
			o->sieve_subaddress, o->sieve_useraddress };
		sv *outs[] = { &j->vdir, &j->owner, &j->sub, &j->user };
		for (size_t i = 0; i < 4; i++) {
			*outs[i] = SV_NULL;
			if (!opts[i])
				continue;
			if (route_expand(j->env, opts[i], outs[i], &err) != XP_OK) {
				a->message = sv_cstr(arena_printf(c->a, "failed to expand \"%s\" (%s router): %s", opts[i],
					r->name, xbuf_cstr(&err)));
				return ROUTE_DEFER;
			}
		}
		return ROUTE_OK;
	}
	if (o->qualify_preserve_domain) {
		j->qualify = a->domain;
	} else if (o->qualify_domain) {
		if (route_expand(j->env, o->qualify_domain, &j->qualify, &err) != XP_OK) {
			a->message = sv_cstr(arena_printf(c->a, "failed to expand \"%s\": %s", o->qualify_domain, xbuf_cstr(&err)));
			return ROUTE_DEFER;
		}
	} else {
		const char *qd = conf_main_string("qualify_recipient");
		if (!qd || !*qd)
			qd = conf_main_string("qualify_domain");
		j->qualify = sv_cstr(qd ? qd : "");
	}
	return ROUTE_OK;
}

/* An Exim filter's outcome: errors, fail, defer and freeze end the routing here. */
static route_rc exim_outcome(const driver_instance *r, address_item *a, route_ctx *c, const filter_result *res)
{
	const struct redirect_router_options *o = r->priv;
	switch (res->outcome) {
	case FILTER_ERROR:
		if (o->skip_syntax_errors) {
			/* Observed from Exim 4.96 (Debian's userforward): the error is logged and the
			 * router declines, as if there were no filter. */
			route_log(c, LOG_MAIN, "%s router: skipped error: " SV_FMT, r->name, SV_ARG(res->error));
			return ROUTE_DECLINE;
		}
		a->message = sv_cstr(arena_printf(c->a, "error in filter file: " SV_FMT, SV_ARG(res->error)));
		a->basic_errno = ERRNO_FILTER;
		return ROUTE_DEFER;
	case FILTER_FAIL:
		a->message = res->tail && res->tail->arg.len ? res->tail->arg : SV_LIT("filter forced failure");
		a->user_message = a->message;
		return ROUTE_FAIL;
	case FILTER_DEFER:
		a->message = res->tail && res->tail->arg.len ? res->tail->arg : SV_LIT("filter forced delivery deferral");
		a->user_message = a->message;
		return ROUTE_DEFER;
	case FILTER_FREEZE:
		a->message = res->tail && res->tail->arg.len ? res->tail->arg : SV_LIT("filter forced freeze");
		a->freeze = true;
		return ROUTE_DEFER;
	default:
		break;
	}
	if (c->mode == ROUTE_MODE_DELIVER)   /* verification and -bt write no logs */
		write_logs(c, a, res);
	return ROUTE_OK;
}

route_rc redirect_filter(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env, sv text)
{
	const struct redirect_router_options *o = r->priv;
	bool sieve = filter_is_sieve_filter(text);
	/* The file is the user's own: its words are not tainted (Exim taints only what comes from
	 * the message and the network; those arrive through expansions, tainted there). */
	text.taint = 0;
	if (sieve ? o->forbid_sieve_filter : o->forbid_exim_filter) {
		a->message = sv_cstr(arena_printf(c->a, "error in filter file: %s filtering not enabled", sieve ? "Sieve" : "Exim"));
		a->basic_errno = ERRNO_FILTER;
		return ROUTE_DEFER;
	}
	/* user/group/errors_to first: the filter runs for that user (its logwrite, its vacation
	 * directory, its files and pipes). */
	route_rc grc = route_generic_props(c, r, a, env);
	if (grc != ROUTE_OK)
		return grc;
	interp_job job = { .o = o, .a = a, .c = c, .env = env, .text = text, .sieve = sieve };
	route_rc prc = prepare(r, &job);
	if (prc != ROUTE_OK)
		return prc;
	filter_result res;
	if (rf_needs_user(a)) {
		const char *why;
		if (!rf_interpret_as_user(a, interpret, &job, c->a, &res, &why)) {
			a->message = sv_cstr(arena_printf(c->a, "internal problem in %s router (recipient is " SV_FMT "): %s",
				r->name, SV_ARG(a->address), why));
			route_log(c, LOG_MAIN | LOG_PANIC, "%s", sv_dup(c->a, a->message));
			return ROUTE_DEFER;
		}
	} else {
		interpret(&job, c->a, &res);
	}
	if (sieve) {
		/* A Sieve error keeps the message (inbox is among the actions); Exim logs nothing.
		 * Exim 4.96's -bt prints the filter's verdict on the standard error (observed):
		 * "Implicit keep", "No implicit keep" or "Sieve error: <reason> in line <n>". */
		if (c->mode == ROUTE_MODE_ADDRESS_TEST) {
			fflush(stdout);
			if (res.outcome == FILTER_ERROR)
				fprintf(stderr, "Sieve error: %.*s\n", SV_ARG(res.error));
			else
				fprintf(stderr, "%s\n", res.outcome == FILTER_NOT_DELIVERED ? "Implicit keep" : "No implicit keep");
			fflush(stderr);
		}
	} else {
		route_rc rc = exim_outcome(r, a, c, &res);
		if (rc != ROUTE_OK)
			return rc;
	}
	size_t n = make_children(r, a, c, env, &res, sieve);
	if (!sieve && !res.significant)
		return ROUTE_DECLINE;   /* normal delivery continues with the next router */
	if (n == 0) {
		a->filter_discarded = true;
		return ROUTE_DISCARD;
	}
	return ROUTE_REROUTED;
}
