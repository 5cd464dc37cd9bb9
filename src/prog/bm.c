/* Local submission: the sendmail interface (`postern [-odq] [-f addr] [-t] [-oi] [-F name]
 * recipients < message`), as Exim 4.96 behaves (ch-the_exim_command_line, ch-message_processing).
 *
 * Steps: who the caller is (login, uid, gid, full name, trusted or not); the envelope sender
 * (-f for trusted callers, untrusted_set_sender, the null sender for anyone, else
 * login@qualify_domain); recipients from the arguments (comma lists, qualified with
 * qualify_recipient) or, with -t, from the headers; acl_not_smtp_start; the message from stdin
 * (a line "." ends it unless -oi/-i); the header fix-ups; acl_not_smtp; the durable commit;
 * the "<=" log line.
 *
 * Delivery follows per -od* (start_delivery). Errors in the message (bad recipients, no -t
 * recipients, refusal by acl_not_smtp, message_size_limit) are reported as -oe* says: mailed
 * to the sender (-oem, -oew, -oee) or on stderr (-oep, -oeq) (bm_error.c).
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/acl.h"
#include "core/receive.h"
#include "core/receive_space.h"
#include "core/route_verify.h"
#include "core/spool.h"
#include "lib/log.h"
#include "lib/logsel.h"
#include "lib/printing.h"
#include "mail/address.h"
#include "mail/smtp_cmd.h"
#include "prog/bm_fromline.h"
#include "prog/bm_error.h"
#include "prog/bm_gecos.h"
#include "core/deliver.h"
#include "core/priv_receive.h"
#include "core/priv_reexec.h"
#include "core/priv_trust.h"
#include "lib/caller_id.h"
#include "prog/cmdline.h"
#include "prog/sender_arg.h"
#include "search/match.h"
#include "search/search.h"
#include "lib/clock.h"

#define BM_READ_CHUNK 65536

/* ---- log set-up ---- */

/* The logs as the configuration says (log_file_path, log_selector, log_timezone, syslog_*).
 * Panic lines are echoed on stderr, as Exim does for command-line processes. */
static void setup_logs(xp_env *env)
{
	log_config lc;
	log_config_default(&lc);
	xbuf out, err;
	xbuf_init(&out, pool_perm);
	xbuf_init(&err, pool_scratch);
	if (conf_main.log_file_path && xp_expand(env, sv_cstr(conf_main.log_file_path), &out, &err) == XP_OK)
		lc.file_path = xbuf_cstr(&out);
	xbuf spool;
	xbuf_init(&spool, pool_perm);
	if (conf_main.spool_directory && xp_expand(env, sv_cstr(conf_main.spool_directory), &spool, &err) == XP_OK)
		lc.spool_directory = xbuf_cstr(&spool);
	if (conf_main.log_selector) {
		xbuf lerr;
		xbuf_init(&lerr, pool_scratch);
		logsel s;
		if (logsel_parse(sv_cstr(conf_main.log_selector), &s, &lerr))
			lc.selector = s;
	}
	lc.timezone = conf_main.log_timezone;
	lc.write_rejectlog = conf_main.write_rejectlog;
	lc.syslog_facility = conf_main.syslog_facility;
	lc.syslog_processname = conf_main.syslog_processname;
	lc.syslog_timestamp = conf_main.syslog_timestamp;
	lc.syslog_pid = conf_main.syslog_pid;
	lc.syslog_duplication = conf_main.syslog_duplication;
	xbuf cerr;
	xbuf_init(&cerr, pool_scratch);
	if (!log_configure(&lc, &cerr))
		fprintf(stderr, "exim: %s\n", xbuf_cstr(&cerr));
}

/* ---- the caller ---- */

typedef struct caller {
	uid_t uid;
	gid_t gid;
	const char *login;
	const char *fullname;     /* -F or gecos; "" when none */
	bool trusted;
} caller;

/* Whether uid (or gid) is in a colon-separated list of user (group) names or numbers. */
static bool in_id_list(const char *list, bool groups, uid_t uid, gid_t gid)
{
	if (!list || !*list)
		return false;
	sv l = sv_cstr(list);
	size_t i = 0;
	while (i < l.len) {
		size_t j = i;
		while (j < l.len && l.p[j] != ':')
			j++;
		char *item = sv_dup(pool_scratch, sv_trim(sv_make(l.p + i, j - i)));
		i = j + 1;
		if (!*item)
			continue;
		char *end;
		unsigned long n = strtoul(item, &end, 10);
		bool numeric = *end == '\0';
		if (groups) {
			struct group *g = numeric ? NULL : getgrnam(item);
			gid_t want = numeric ? (gid_t)n : g ? g->gr_gid : (gid_t)-1;
			if (want == gid)
				return true;
			gid_t sup[256];
			int ns = getgroups(256, sup);
			for (int k = 0; k < ns; k++)
				if (sup[k] == want)
					return true;
		} else {
			struct passwd *pw = numeric ? NULL : getpwnam(item);
			uid_t want = numeric ? (uid_t)n : pw ? pw->pw_uid : (uid_t)-1;
			if (want == uid)
				return true;
		}
	}
	return false;
}

static void identify_caller(const cmdline *cl, caller *c)
{
	c->uid = caller_id_uid();
	c->gid = caller_id_gid();
	struct passwd *pw = getpwuid(c->uid);
	if (pw)
		c->login = arena_strdup(pool_perm, pw->pw_name);
	else
		c->login = conf_main.unknown_login && *conf_main.unknown_login ? conf_main.unknown_login : "unknown";
	/* Root and the Exim user are always trusted; so are trusted_users and trusted_groups. */
	c->trusted = c->uid == 0 || (conf_main.exim_user != (uid_t)-1 && c->uid == conf_main.exim_user)
		|| in_id_list(conf_main.trusted_users, false, c->uid, c->gid)
		|| in_id_list(conf_main.trusted_groups, true, c->uid, c->gid);
	/* A trusted caller's -f sends for someone else: no name from the caller's gecos (Exim 4.96,
	 * observed: "From: root" becomes "From:  <root@...>"). */
	c->fullname = cl->fullname ? cl->fullname
		: cl->sender && c->trusted ? ""
		: pw ? bm_gecos_name(pool_perm, pw->pw_gecos, pw->pw_name, conf_main.gecos_pattern, conf_main.gecos_name) : "";
}

/* ---- addresses ---- */

/* Why a command-line item does not parse, in Exim's words (those of the SMTP address parser,
 * which reproduces Exim's parser: "domain missing or malformed", "no local part" ...; observed
 * from Exim 4.96, which shows them after the whole argument, escaped as in log lines). */
static const char *parse_reason(sv item, const char *why)
{
	xbuf out, reason;
	xbuf_init(&out, pool_scratch);
	xbuf_init(&reason, pool_scratch);
	bool is_null = false, has_domain = false;
	if (!smtp_parse_address_opts(sv_trim(item), false, true, conf_main.strip_trailing_dot, true, &out,
			&is_null, &has_domain, &reason) && reason.len)
		return xbuf_cstr(&reason);
	return why && *why ? why : "malformed address";
}

/* Parse one command-line address item; qualify when unqualified. NULL (why set) when bad.
 * UTF-8 domains are taken (observed from Exim 4.96, whatever allow_utf8_domains says). */
static const char *parse_address(sv item, const char *domain, const char **why)
{
	xbuf out;
	xbuf_init(&out, pool_msg);
	addr_parsed info;
	if (!addr_extract_opts(sv_trim(item), NULL, ADDR_UTF8_DOMAINS, &out, &info, why))
		return NULL;
	if (info.empty)
		return "";
	if (!info.has_domain)
		xbuf_printf(&out, "@%s", domain);
	return xbuf_cstr(&out);
}

static const char *expand_var(xp_env *env, const char *name)
{
	xbuf out, err;
	xbuf_init(&out, pool_perm);
	xbuf_init(&err, pool_scratch);
	xp_expand(env, sv_cstr(name), &out, &err);
	return xbuf_cstr(&out);
}

/* untrusted_set_sender: an address list; the caller's login is $sender_ident. */
static bool untrusted_may_set(xp_env *env, const char *addr)
{
	const char *list = conf_main.untrusted_set_sender;
	if (!list || !*list)
		return false;
	xbuf out, err;
	xbuf_init(&out, pool_scratch);
	xbuf_init(&err, pool_scratch);
	if (xp_expand(env, sv_cstr(list), &out, &err) != XP_OK)
		return false;
	match_ctx mc = { 0 };
	return match_isinlist(sv_cstr(addr), xbuf_sv(&out), ':', MATCH_ADDRESS, true, &mc, &err) == SEARCH_OK;
}

/* ---- ACLs ---- */

typedef struct bm_acl {
	acl_ctx c;
	acl_result rc;
	acl_ops ops;               /* verify = sender/recipient through the router chain */
	route_verify_ctx verify;
} bm_acl;

static void bm_acl_init(bm_acl *out, acl_where where, xp_env *env, message *m, msg_origin *o)
{
	acl_ctx_init(&out->c, m->a, where, env);
	out->c.msg = m;
	out->c.origin = o;
	out->c.smtp_session = false;
	route_acl_ops_init(&out->ops, &out->verify, env, m->a, m->sender, NULL, NULL, NULL, NULL);
	out->c.ops = &out->ops;
	out->c.ops_ctx = &out->verify;
}

static acl_result run_acl(const char *spec, acl_where where, xp_env *env, message *m, msg_origin *o, bm_acl *out)
{
	bm_acl_init(out, where, env, m, o);
	/* The engine expands the ACL option itself (once, as Exim does). */
	out->rc = acl_check(&out->c, sv_cstr(spec));
	return out->rc;
}

/* A rejection by the non-SMTP ACL, as Exim 4.96 words it (deny and defer alike): main and
 * reject log "F=<sender> rejected by non-SMTP ACL: <log message, else user message, else
 * NULL>" (the reject log adds the envelope and headers); then reported per -oe (bm_error.c):
 * by mail to the sender, or on stderr "exim: message rejected by non-SMTP ACL: <user message,
 * else local configuration problem>". */
static int acl_rejected(const cmdline *cl, const bm_acl *a, receive_ctx *r, message *m)
{
	sv user = xbuf_sv(&a->c.user_msg);
	sv logm = xbuf_sv(&a->c.log_msg);
	const char *why = logm.len ? sv_dup(pool_scratch, logm) : user.len ? sv_dup(pool_scratch, user) : "NULL";
	xbuf line;
	xbuf_init(&line, pool_scratch);
	xbuf_printf(&line, "F=<" SV_FMT "> rejected by non-SMTP ACL: %s", SV_ARG(m->sender), why);
	log_set_id(m->id);
	log_write(LOG_MAIN, "%s", xbuf_cstr(&line));
	xbuf_putc(&line, '\n');
	receive_reject_details(r, &line);
	log_write(LOG_REJECT, "%s", xbuf_cstr(&line));
	log_set_id(NULL);
	sv body = SV_NULL;
	if (!receive_body(r, &body))
		body = SV_NULL;
	return bm_acl_refused(cl, m, body, user.len ? sv_dup(pool_scratch, user) : "local configuration problem");
}

/* The "H=" text for a host given with -oMa (and -oMs). */
static const char *host_text(const msg_origin *o)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	xbuf_puts(&b, "H=");
	if (o->host_name.len)
		xbuf_printf(&b, SV_FMT " ", SV_ARG(o->host_name));
	xbuf_printf(&b, "[" SV_FMT "]", SV_ARG(o->host_address));
	return xbuf_cstr(&b);
}

/* ---- reading stdin within receive_timeout ---- */

/* read(0) that gives up at deadline (ms, 0: never): -2 on timeout. */
static ssize_t read_input(char *buf, size_t n, long long deadline)
{
	for (;;) {
		if (deadline) {
			long long left = deadline - monotonic_ms();
			if (left <= 0)
				return -2;
			struct pollfd pfd = { .fd = 0, .events = POLLIN };
			int pr = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0)
				return -2;
		}
		ssize_t k = read(0, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		return k;
	}
}

/* ---- main ---- */

static int fail(const char *fmt, const char *arg)
{
	fputs("exim: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

/* After reception: -odi/-odf delivers in this process, -odb and the default in a detached
 * background process, -odq and queue_only leave the message for a queue runner; -odqs routes
 * everything but delivers only locally (Exim's "queue_smtp"). The spool lock is released before
 * (receive_end), so the delivery can take it. */
static void start_delivery(const cmdline *cl, const spool_config *sc, const message *m)
{
	if (cl->deliver == DELIVER_QUEUE)
		return;
	struct stat st;
	bool queue_config = conf_main.queue_only
		|| (conf_main.queue_only_file && *conf_main.queue_only_file && stat(conf_main.queue_only_file, &st) == 0);
	/* An explicit -od option overrides the configuration's queueing unless
	 * queue_only_override is false. */
	if (queue_config && (cl->deliver == DELIVER_DEFAULT || !conf_main.queue_only_override))
		return;
	deliver_opts o = { .dont_deliver = cl->dont_deliver, .queue_smtp = cl->deliver == DELIVER_QUEUE_SMTP };
	char id[MSG_ID_LEN + 1];
	memcpy(id, m->id, sizeof id);
	/* A detached delivery lets go of stderr here, as Exim's does after -bm (observed; after
	 * -bs it keeps it: core/deliver_start.c). */
	if (priv_receive_hand_off(sc, id, &o, cl->deliver == DELIVER_FOREGROUND))
		return;   /* received as the exim user: the root parent starts it (core/priv_receive.h) */
	if (priv_reexec_wanted())
		priv_reexec_delivery(sc, id, &o, cl->deliver == DELIVER_FOREGROUND, false);
	else if (cl->deliver == DELIVER_FOREGROUND)
		deliver_message(sc, id, &o);
	else
		deliver_start_background(sc, id, &o);
}

int bm_main(const cmdline *cl)
{
	message *m = message_new(pool_msg);
	msg_origin *o = arena_calloc(pool_msg, 1, sizeof *o);
	m->origin = o;
	message_vars mv;
	message_vars_init(&mv, m, o);
	xp_env env;
	xp_env_init(&env, pool_scratch);
	env.state = pool_msg;
	xp_env_push_provider(&env, &mv.p);
	setup_logs(&env);

	caller c;
	identify_caller(cl, &c);
	/* A reception by root with an untrusted -C or -D runs as the exim user, as Exim's does. */
	if (!priv_reexec_receive_as_exim())
		return 1;
	/* By root with a trusted configuration: received as the exim user in a child, delivered
	 * by this root process (core/priv_receive.h). */
	int split = priv_receive_split();
	if (split >= 0)
		return split;
	o->login = sv_cstr(c.login);
	o->uid = c.uid;
	o->gid = c.gid;
	o->ident = sv_cstr(c.login);
	o->protocol = sv_cstr("local");
	if (c.trusted) {
		/* -oM* overrides are for trusted callers only (Exim ignores them otherwise). */
		if (cl->oMr)
			o->protocol = sv_cstr(cl->oMr);
		if (cl->oMt)
			o->ident = sv_tainted(sv_cstr(cl->oMt));
		if (cl->oMs)
			o->host_name = sv_tainted(sv_cstr(cl->oMs));
		if (cl->oMa)
			o->host_address = sv_tainted(sv_cstr(cl->oMa));
		if (cl->oMi)
			o->interface_address = sv_cstr(cl->oMi);
	}
	m->allow_unqualified_recipient = true;
	m->allow_unqualified_sender = true;
	m->deliver_firsttime = true;
	m->dont_deliver = cl->dont_deliver;

	const char *qd = expand_var(&env, "$qualify_domain");
	const char *qr = expand_var(&env, "$qualify_recipient");
	const char *own = arena_printf(pool_msg, "%s@%s", c.login, qd);

	/* The envelope sender. */
	bool sender_local = true;
	m->sender = sv_cstr(own);
	if (cl->sender) {
		const char *s = sender_arg_parse(pool_msg, cl->sender, qd);
		if (!s)
			return 1;
		if (c.trusted || !*s) {
			m->sender = sv_cstr(s);
			sender_local = false;
		} else if (untrusted_may_set(&env, s)) {
			m->sender = sv_cstr(s);
			m->sender_set_untrusted = true;
			sender_local = false;
		}
	}
	m->sender.taint = 0;
	if (addr_is_8bit(m->sender))
		m->smtputf8 = true;
	/* Without -f the message carries the caller's identity (-auth_id); when the sender is the
	 * caller's own address it is also "local" (-local, -auth_sender). Exim decides the latter
	 * after a UUCP From line may have changed the sender (below). */
	if (!cl->sender || sender_local)
		o->auth_id = sv_cstr(c.login);

	/* Room on the disks, before the recipients are looked at and the message is read (Exim's
	 * order: a bad -f address and no arguments at all are reported first). */
	if ((cl->extract_recipients || cl->nargs > 0) && !receive_space_ok())
		return fail("%s", "insufficient disk space");

	/* Recipients: each argument is a comma-separated list. With -t they are exclusions. */
	const char **exclude = arena_calloc(pool_msg, cl->nargs + 1, sizeof *exclude);
	size_t nexclude = 0;
	for (size_t i = 0; i < cl->nargs; i++) {
		sv list = sv_cstr(cl->args[i]);
		size_t pos = 0;
		sv item;
		while (addr_next_item(list, &pos, &item)) {
			if (!sv_trim(item).len)
				continue;
			const char *why = "";
			const char *a = parse_address(item, qr, &why);
			if (!a || !*a)
				return bm_bad_recipient(cl, m->sender, printing_dup(pool_scratch, list, PRINT_TAB_LITERAL
					| (conf_main.print_topbitchars ? PRINT_TOPBIT : 0)), parse_reason(item, a ? "empty address" : why), 0);
			if (cl->extract_recipients)
				exclude[nexclude++] = a;
			else {
				message_add_recipient(m, sv_tainted(sv_cstr(a)));
				if (addr_is_8bit(sv_cstr(a)))
					m->smtputf8 = true;
			}
		}
	}
	if (!cl->extract_recipients && m->nrcpt == 0) {
		/* What Exim says when called with neither recipients nor -t. */
		fputs("Exim is a Mail Transfer Agent. It is normally called by Mail User Agents,\n"
			"not directly from a shell command line. Options and/or arguments control\n"
			"what it does when called. For a list of options, see the Exim documentation.\n", stderr);
		return 1;
	}

	bm_acl acl;
	acl_controls controls;
	memset(&controls, 0, sizeof controls);
	/* acl_not_smtp_start: Exim 4.96 runs it for its modifiers (controls such as
	 * suppress_local_fixups, variables) and ignores its verdict: a deny there does not stop
	 * the message. */
	if (conf_main.acl_not_smtp_start && *conf_main.acl_not_smtp_start) {
		run_acl(conf_main.acl_not_smtp_start, ACL_WHERE_NOTSMTP_START, &env, m, o, &acl);
		controls = acl.c.controls;
	}

	/* The message. */
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_msg);
	if (!spool_config_from_main(&sc, &err))
		return fail("%s", xbuf_cstr(&err));
	receive_ctx *r = receive_begin(m, &sc, cl->dot_ends ? RECV_LOCAL_DOT : RECV_LOCAL_EOF, &err);
	if (!r && priv_caller_lacks_trust()) {
		/* Exim's end: status 1. Its line for a spool directory it cannot make is followed by an
		 * empty one (observed; not after "Failed to create spool file"). */
		const char *why = xbuf_cstr(&err);
		log_write(LOG_MAIN | LOG_PANIC | LOG_DIE, strncmp(why, "Failed to create directory", 26) == 0 ? "%s\n" : "%s",
			why);
	}
	if (!r) {
		/* Exim's line names the message (its id is made first) and is all the caller sees
		 * (the panic log's copy on stderr), status 1: observed with a spool the exim user
		 * cannot write. */
		if (m->id[0])
			log_set_id(m->id);
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
		return 1;
	}
	/* With -oMa the message counts as from that host: Exim 4.96 then adds no Message-Id:,
	 * Date: or From: (observed); its headers are still qualified. */
	receive_opts ro = {
		.local = !o->host_address.len, .trusted = c.trusted, .sender_local = sender_local,
		.extract_recipients = cl->extract_recipients, .t_exclude = exclude, .nt_exclude = nexclude,
		.login = sv_cstr(c.login), .fullname = sv_cstr(c.fullname), .env = &env,
	};
	receive_set_opts(r, &ro);
	receive_apply_controls(r, &controls);
	receive_status st = RECV_MORE;
	char *buf = arena_alloc(pool_msg, BM_READ_CHUNK);
	/* The first line, for the UUCP From line: read until it is complete (or long enough). */
	size_t have = 0;
	bool eof = false;
	/* receive_timeout bounds the whole read (0: no limit), as in Exim. */
	long long deadline = conf_main.receive_timeout > 0 ? monotonic_ms() + conf_main.receive_timeout * 1000LL : 0;
	bool timed_out = false;
	while (have < BM_FROMLINE_MAX && !memchr(buf, '\n', have)) {
		ssize_t n = read_input(buf + have, BM_FROMLINE_MAX - have, deadline);
		if (n == -2) {
			timed_out = true;
			break;
		}
		if (n <= 0) {
			eof = true;
			break;
		}
		have += (size_t)n;
	}
	xbuf uucp_sender;
	xbuf_init(&uucp_sender, pool_msg);
	size_t skip = bm_uucp_from_line(buf, have, &env, &uucp_sender);
	if (skip) {
		const char *nl = memchr(buf, '\n', skip);
		size_t len = nl ? (size_t)(nl - buf) : skip;
		bool crlf = len && buf[len - 1] == '\r';
		receive_note_skipped_line(r, crlf ? len - 1 : len, crlf);
		/* A trusted caller without -f: the From line names the sender. */
		if (c.trusted && !cl->sender && uucp_sender.len) {
			const char *why = NULL;
			const char *s = parse_address(xbuf_sv(&uucp_sender), qd, &why);
			if (s && *s) {
				m->sender = sv_tainted(sv_cstr(s));
				sender_local = false;
			}
		}
	}
	if (sender_local) {
		m->local = true;
		o->auth_sender = sv_cstr(own);
	}
	ro.sender_local = sender_local;
	receive_set_opts(r, &ro);
	if (have > skip) {
		size_t used = 0;
		st = receive_feed(r, buf + skip, have - skip, &used, false);
	}
	if (st == RECV_MORE && eof)
		st = receive_eof(r);
	while (st == RECV_MORE && !timed_out) {
		ssize_t n = read_input(buf, BM_READ_CHUNK, deadline);
		if (n == -2) {
			timed_out = true;
			break;
		}
		if (n <= 0) {
			st = receive_eof(r);
			break;
		}
		size_t used = 0;
		st = receive_feed(r, buf, (size_t)n, &used, false);
	}
	if (timed_out) {
		log_set_id(m->id);
		log_write(LOG_MAIN, "timed out while reading local message");
		log_set_id(NULL);
		receive_abort(r);
		fprintf(stderr, "exim: timed out while reading - message abandoned\n");
		return 1;
	}
	if (st != RECV_END) {
		xbuf reply;
		xbuf_init(&reply, pool_scratch);
		receive_reject(r, st, o->host_address.len ? host_text(o) : "", &reply);
		if (st == RECV_TOO_BIG) {
			/* Reported per -oe: the error message copies the message as read, with the header
			 * fix-ups, so reading is ended where it stopped (the last line completed). */
			sv body = SV_NULL;
			receive_eof(r);
			if (!receive_prepare_headers(r, &err) || !receive_body(r, &body))
				body = SV_NULL;
			int rc = bm_too_big(cl, m, body, receive_size(r), receive_size_limit(r));
			receive_abort(r);
			return rc;
		}
		long long maxsize;
		if (st == RECV_HEADER_TOO_BIG && receive_header_section_too_big(r, &maxsize)) {
			int rc = bm_header_too_big(cl, m, receive_header_text(r), maxsize);
			receive_abort(r);
			return rc;
		}
		if (st == RECV_HEADER_TOO_BIG && receive_header_line_too_long(r, &maxsize)) {
			int rc = bm_header_line_too_long(cl, m, receive_header_text(r), maxsize);
			receive_abort(r);
			return rc;
		}
		xbuf text;
		xbuf_init(&text, pool_scratch);
		receive_reject_local_text(r, st, &text);
		receive_abort(r);
		fprintf(stderr, "exim: %s\n", xbuf_cstr(&text));
		return 1;
	}
	if (!receive_prepare_headers(r, &err)) {
		receive_abort(r);
		return fail("%s", xbuf_cstr(&err));
	}
	sv bad_report, bad_first;
	size_t nbad = receive_bad_recipients(r, &bad_report, &bad_first);
	if (nbad) {
		/* Told before the message is accepted, so the report arrives first (as in Exim). */
		sv body = SV_NULL;
		if (!receive_body(r, &body))
			body = SV_NULL;
		bool refused;
		int rc = bm_bad_header_recipients(cl, m, body, bad_report, nbad, bad_first, &refused);
		if (m->nrcpt == 0 || refused) {
			receive_abort(r);
			return rc;
		}
	}
	if (m->nrcpt == 0) {
		log_set_id(m->id);
		/* Exim writes this to the panic log as well (so it is echoed on stderr), with the id
		 * twice. */
		log_write(LOG_MAIN | LOG_PANIC, "%s no recipients found in headers", m->id);
		log_set_id(NULL);
		if (!m->nnonrcpt) {
			/* Reported per -oe (bm_error.c): by mail, or on stderr. */
			sv body = SV_NULL;
			if (!receive_body(r, &body))
				body = SV_NULL;
			int rc = bm_no_recipients(cl, m, body);
			receive_abort(r);
			return rc;
		}
		receive_abort(r);
		return fail("%s", "all -t recipients overridden by command line");
	}
	/* $h_*, $message_body... for acl_not_smtp_mime and acl_not_smtp (Exim shows them there). */
	xp_message xpmsg;
	sv body_view = SV_NULL;
	if (!receive_body(r, &body_view))
		body_view = SV_NULL;
	message_to_xp(m, body_view, &xpmsg, pool_msg);
	env.msg = &xpmsg;
	/* acl_not_smtp_mime: once per MIME part, before acl_not_smtp. Exim 4.96 ends a local
	 * submission it rejects with status 1 and writes nothing at all (no log line, no message
	 * on stderr); so does this. */
	if (conf_main.acl_not_smtp_mime && *conf_main.acl_not_smtp_mime) {
		bm_acl_init(&acl, ACL_WHERE_MIME, &env, m, o);
		if (receive_mime_acl(r, sv_cstr(conf_main.acl_not_smtp_mime), &env, &acl.c) != ACL_OK) {
			receive_abort(r);
			return 1;
		}
		receive_apply_acl_headers(r, &acl.c);
		message_to_xp(m, body_view, &xpmsg, pool_msg);   /* acl_not_smtp sees them */
	}
	if (conf_main.acl_not_smtp && *conf_main.acl_not_smtp) {
		log_set_id(m->id);  /* logwrite lines carry the id, as in Exim */
		acl_result rc = run_acl(conf_main.acl_not_smtp, ACL_WHERE_NOTSMTP, &env, m, o, &acl);
		log_set_id(NULL);
		if (rc == ACL_DISCARD) {
			/* Exim logs the arrival and a blackhole delivery, and exits with status 1. */
			receive_discard(r, "non-SMTP ACL discarded recipients");
			return 1;
		}
		if (rc != ACL_OK) {
			int ret = acl_rejected(cl, &acl, r, m);
			receive_abort(r);
			return ret;
		}
		receive_apply_acl_headers(r, &acl.c);
		if (acl.c.controls.freeze)
			m->frozen = m->received_time;
	}
	if (!receive_commit(r, &err)) {
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
		receive_abort(r);
		return fail("%s", xbuf_cstr(&err));
	}
	receive_log_arrival(r);
	receive_end(r);
	start_delivery(cl, &sc, m);
	return 0;
}
