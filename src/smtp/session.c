/* The SMTP server session: connection checks, banner, and the command loop with Exim 4.96's
 * limits, synchronisation rules, replies and log lines. Command handlers live in
 * session_cmds.c (HELO/EHLO, MAIL, RCPT, VRFY, EXPN, ETRN, HELP), session_auth.c (AUTH) and
 * session_data.c (DATA, BDAT).
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/dns.h"
#include "lib/caller_id.h"
#include "lib/debug.h"
#include "lib/log.h"
#include "lib/printing.h"
#include "lib/timefmt.h"
#include "search/match.h"
#include "smtp/proxy_read.h"
#include "smtp/rfc1413.h"
#include "smtp/session_int.h"
#include "smtp/tfo.h"

/* ---- Replies and logs --------------------------------------------------------------------- */

/* The first reply to a RCPT is remembered for DATA's "All RCPT commands were rejected"
 * (an ACL's refusal by its text alone: sess_note_rcpt_reply; other replies with their code). */
static void note_rcpt_reply(smtp_session *s, sv text, bool coded)
{
	if (!s->rcpt_in_progress) return;
	s->rcpt_in_progress = false;
	if (!s->rcpt_error.p) {
		/* In pool_msg: forgotten with it (sess_reset_transaction), not kept for the connection. */
		s->rcpt_error = sv_copy(pool_msg, text);
		s->rcpt_error_coded = coded;
	} else if (s->rcpt_error_trimmed || !sv_eq(text, s->rcpt_error)) {
		s->rcpt_errors_differ = true;
	}
}

void sess_note_rcpt_reply(smtp_session *s, sv text)
{
	note_rcpt_reply(s, text, false);
}

static void reply_lines(smtp_session *s, int code, sv text, bool whole);

void sess_reply_text(smtp_session *s, int code, sv text)
{
	reply_lines(s, code, text, !s->no_multiline);
}

void sess_reply_lines(smtp_session *s, int code, sv text)
{
	reply_lines(s, code, text, true);
}

static void reply_lines(smtp_session *s, int code, sv text, bool whole)
{
	xbuf_reset(&s->last_reply);
	xbuf_putsv(&s->last_reply, text);
	if (s->rcpt_in_progress) {
		const char *coded = arena_printf(s->work, "%d " SV_FMT, code, SV_ARG(text));
		note_rcpt_reply(s, sv_cstr(coded), true);
	}
	if (s->mode == SMTP_MODE_BATCH) return;   /* -bS: no replies */
	size_t start = 0;
	for (;;) {
		const char *nl = memchr(text.p + start, '\n', text.len - start);
		size_t end = nl ? (size_t)(nl - text.p) : text.len;
		bool last = nl == NULL || end + 1 >= text.len || !whole;
		bio_printf(&s->io, "%d%c%.*s\r\n", code, last ? ' ' : '-', (int)(end - start), text.p + start);
		if (last) break;
		start = end + 1;
	}
}

/* Lines of a reply that more lines follow: every line "code-text". */
void sess_reply_continued(smtp_session *s, int code, sv text)
{
	if (s->mode == SMTP_MODE_BATCH || s->no_multiline) return;
	size_t start = 0;
	while (start <= text.len) {
		const char *nl = memchr(text.p + start, '\n', text.len - start);
		size_t end = nl ? (size_t)(nl - text.p) : text.len;
		bio_printf(&s->io, "%d-%.*s\r\n", code, (int)(end - start), text.p + start);
		if (!nl) break;
		start = end + 1;
	}
}

/* Length of an extended status code ("5.7.1 ") of code's class at the start of text, or 0. */
size_t sess_esc_len(int code, sv text)
{
	size_t i = 0;
	if (text.len < 6 || text.p[0] != '0' + code / 100 || text.p[1] != '.') return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (i < text.len && d < 3 && isdigit((unsigned char)text.p[i])) { i++; d++; }
		if (!d) return 0;
		if (part == 0) {
			if (i >= text.len || text.p[i] != '.') return 0;
			i++;
		}
	}
	return i < text.len && text.p[i] == ' ' ? i + 1 : 0;
}

void sess_reply_coded(smtp_session *s, int code, sv text)
{
	size_t n = sess_esc_len(code, text);
	if (!n) {
		sess_reply_text(s, code, text);
		return;
	}
	/* Exim repeats the extended code at the start of every line of the reply. */
	sv esc = sv_sub(text, 0, n);
	xbuf b;
	xbuf_init(&b, s->work);
	for (size_t i = 0; i < text.len; i++) {
		if (i == 0 || text.p[i - 1] == '\n') {
			if (i == 0) i = n;
			if (i >= text.len) break;
			xbuf_putsv(&b, esc);
		}
		xbuf_putc(&b, text.p[i]);
	}
	sess_reply_text(s, code, xbuf_sv(&b));
}

void sess_reply(smtp_session *s, int code, const char *fmt, ...)
{
	xbuf t;
	xbuf_init(&t, s->work);
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(&t, fmt, ap);
	va_end(ap);
	sess_reply_text(s, code, xbuf_sv(&t));
}

bool sess_flush(smtp_session *s)
{
	if (s->p->log_pump) s->p->log_pump(s->p->log_pump_ctx);
	return bio_flush(&s->io);
}

void sess_set_log_id(smtp_session *s, const char *id)
{
	/* Exim keeps the last message's id on its log lines until the next MAIL, RSET or HELO;
	 * under -bh an accepted message's id stays until another message starts (nothing was
	 * spooled, so Exim never clears it). */
	if (!id && s->log_id_sticky) return;
	snprintf(s->log_id_buf, sizeof s->log_id_buf, "%s", id ? id : "");
	s->log_id = id ? s->log_id_buf : NULL;
	log_set_id(id);   /* under -bh too: other modules' lines reach stderr through the log layer */
}

void sess_log(smtp_session *s, unsigned which, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC) {
		/* Host checking writes no log files: the lines go to stderr, after the replies sent so
		 * far (Exim flushes its output before each). A reject-log-only line (the copy with the
		 * headers) is not shown: the caller does not write it under -bh. */
		if (!(which & (LOG_MAIN | LOG_PANIC | LOG_REJECT))) { va_end(ap); return; }
		if (s->p->log_pump) s->p->log_pump(s->p->log_pump_ctx);
		bio_flush(&s->io);
		xbuf t;
		xbuf_init(&t, s->work);
		/* Exim cuts the 20 characters of the timestamp off its log line; what log_selector
		 * adds after it stays: the milliseconds (the rest of ".mmm") and "[pid]". */
		const log_config *lc = log_current_config();
		if (lc && logsel_has(&lc->selector, LS_MILLISEC)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			xbuf_printf(&t, "%03ld ", ts.tv_nsec / 1000000);
		}
		if (lc && logsel_has(&lc->selector, LS_PID)) xbuf_printf(&t, "[%d] ", (int)getpid());
		if (s->log_id) xbuf_printf(&t, "%s ", s->log_id);
		xbuf_vprintf(&t, fmt, ap);
		fprintf(stderr, "LOG: %s\n", xbuf_cstr(&t));
		fflush(stderr);
	} else {
		log_vwrite(which, fmt, ap);
	}
	va_end(ap);
}

/* The client as Exim names it in log lines: "name (helo) [ip]", "(helo) [ip]", "[ip]"; with
 * ":port" after the address under log_selector incoming_port; " U=ident" when known. Local
 * sessions are named by their login. */
bool sess_log_selected(logsel_id id)
{
	const log_config *lc = log_current_config();
	return !lc || logsel_has(&lc->selector, id);
}

bool sess_log_connection(smtp_session *s)
{
	/* log_selector smtp_connection, except for hosts_connection_nolog hosts */
	const log_config *lc = log_current_config();
	if (!lc || !logsel_has(&lc->selector, LS_SMTP_CONNECTION)) return false;
	if (s->conn_nolog < 0) s->conn_nolog = sess_host_in(s, conf_main.hosts_connection_nolog) ? 1 : 0;
	return s->conn_nolog == 0;
}

const char *sess_printable(smtp_session *s, sv v)
{
	xbuf b;
	xbuf_init(&b, s->work);
	printing_escape(v, 0, &b);
	return xbuf_cstr(&b);
}

/* Client text in the log lines where Exim writes it as it came (HELO names in H=, MAIL and
 * RCPT arguments in ACL lines): 8-bit bytes and tabs as they are, but other control
 * characters escaped, so that a log line cannot carry terminal controls (a deliberate
 * difference from Exim, which writes them raw). */
const char *sess_loggable(smtp_session *s, sv v)
{
	xbuf b;
	xbuf_init(&b, s->work);
	printing_escape(v, PRINT_TAB_LITERAL | PRINT_TOPBIT, &b);
	return xbuf_cstr(&b);
}

/* As sess_loggable, but line breaks stay: Exim writes a multi-line ACL text (a discard's
 * message) as it is, the lines after the first on lines of their own. */
const char *sess_loggable_lines(smtp_session *s, sv v)
{
	xbuf b;
	xbuf_init(&b, s->work);
	for (size_t start = 0; start <= v.len;) {
		const char *nl = memchr(v.p + start, '\n', v.len - start);
		size_t end = nl ? (size_t)(nl - v.p) : v.len;
		printing_escape(sv_sub(v, start, end - start), PRINT_TAB_LITERAL | PRINT_TOPBIT, &b);
		if (!nl) break;
		xbuf_putc(&b, '\n');
		start = end + 1;
	}
	return xbuf_cstr(&b);
}

/* The "SMTP connection from ..." lines (Exim's smtp_get_connection_info): -bs names the local
 * caller even with -oMa; otherwise the client without its ident, and in the daemon the local
 * interface under log_selector incoming_interface. */
static const char *conn_name(smtp_session *s)
{
	if (s->mode == SMTP_MODE_BS)
		return sess_printable(s, s->origin.ident.len ? s->origin.ident : s->origin.login);
	size_t n = s->mode == SMTP_MODE_DAEMON ? s->host_conn_len : s->host_full_len;
	return sv_dup(s->work, sv_sub(s->host_ident, 0, n));
}

void sess_log_incomplete(smtp_session *s, const char *why)
{
	const log_config *lc = log_current_config();
	if (!s->mail_given || !lc || !logsel_has(&lc->selector, LS_SMTP_INCOMPLETE_TRANSACTION)) return;
	xbuf b;
	xbuf_init(&b, s->work);
	/* The addresses as Exim writes them here: 8-bit bytes as they are (observed with an
	 * SMTPUTF8 recipient), control characters escaped (sess_loggable). */
	xbuf_printf(&b, "%s incomplete transaction (%s) from <%s>", sv_dup(s->work, s->host_tag), why,
		sess_loggable(s, s->sender));
	if (s->msg && s->msg->nrcpt) {
		xbuf_puts(&b, " for");
		for (size_t i = 0; i < s->msg->nrcpt; i++)
			xbuf_printf(&b, " %s", sess_loggable(s, s->msg->rcpt[i].address));
	}
	sess_log(s, LOG_MAIN, "%s", xbuf_cstr(&b));
}

void sess_update_host_ident(smtp_session *s)
{
	xbuf b;
	xbuf_init(&b, s->conn);
	const msg_origin *o = &s->origin;
	msg_origin without_helo;
	o = msg_origin_for_texts(o, &without_helo);   /* -bS with -oMa, a refused HELO (core/message.h) */
	const log_config *lc = log_current_config();
	if (o->host_address.len) {
		xbuf_puts(&b, "H=");
		if (o->host_name.len) {
			xbuf_putsv(&b, o->host_name);
			if (o->helo_name.p && !sv_eqi(o->helo_name, o->host_name))
				xbuf_printf(&b, " (%s)", sess_loggable(s, o->helo_name));
		} else if (o->helo_name.p) {   /* an empty name given (helo_accept_junk_hosts) shows as "()" */
			xbuf_printf(&b, "(%s)", sess_loggable(s, o->helo_name));
		}
		if (b.len > 2) xbuf_putc(&b, ' ');
		xbuf_printf(&b, "[" SV_FMT "]", SV_ARG(o->host_address));
		/* The port is known for daemon connections and "-bh ip.port" (Exim shows no ":0"). */
		if (lc && logsel_has(&lc->selector, LS_INCOMING_PORT) && o->host_port > 0)
			xbuf_printf(&b, ":%d", o->host_port);
		s->host_full_len = b.len - 2;
		if (lc && logsel_has(&lc->selector, LS_INCOMING_INTERFACE) && o->interface_address.len)
			xbuf_printf(&b, " I=[" SV_FMT "]:%d", SV_ARG(o->interface_address), o->interface_port);
		s->host_conn_len = b.len - 2;
		if (o->ident.len) xbuf_printf(&b, " U=%s", sess_printable(s, o->ident));
		s->host_tag = xbuf_sv(&b);
		s->host_ident = sv_sub(s->host_tag, 2, s->host_tag.len - 2);
	} else {
		/* A local caller (-bs) is named by its login alone; the HELO name is not shown. */
		xbuf_printf(&b, "U=%s", sess_printable(s, o->ident.len ? o->ident : o->login));
		s->host_tag = xbuf_sv(&b);
		s->host_ident = sv_sub(s->host_tag, 2, s->host_tag.len - 2);
		s->host_full_len = s->host_conn_len = s->host_ident.len;
	}
	s->host_tag.taint = s->host_ident.taint = 0;
}

const char *sess_expand(smtp_session *s, const char *src)
{
	if (!src) return NULL;
	xbuf out, err;
	xbuf_init(&out, s->work);
	xbuf_init(&err, s->work);
	int rc = xp_expand(&s->env, sv_cstr(src), &out, &err);
	if (rc == XP_OK) return xbuf_cstr(&out);
	if (rc == XP_ERROR)
		sess_log(s, LOG_MAIN | LOG_PANIC, "failed to expand \"%s\": %s", src, xbuf_cstr(&err));
	return NULL;
}

static int expand_named_list(void *ctx, sv in, xbuf *out, xbuf *err)
{
	smtp_session *s = ctx;
	return xp_expand(&s->env, in, out, err);
}

bool sess_host_in(smtp_session *s, const char *list)
{
	if (!list || !*list) return false;
	const char *l = sess_expand(s, list);
	if (!l) return false;
	xbuf err;
	xbuf_init(&err, s->work);
	/* A pattern matched against the client's name: look it up now, as Exim does. */
	if (!s->origin.host_name.len && s->origin.host_address.len && acl_host_list_needs_name(sv_cstr(l)))
		sess_lookup_host_name(s);
	char *name = s->origin.host_name.len ? sv_dup(s->work, s->origin.host_name) : NULL;
	match_ctx mc = { .expand = expand_named_list, .ectx = s, .host_name = name,
		.primary_hostname = conf_main.primary_hostname };
	int rc = match_isinlist(s->origin.host_address, sv_cstr(l), 0, MATCH_HOST, true, &mc, &err);
	if (err.len) sess_log(s, LOG_MAIN, "%s", xbuf_cstr(&err));
	return rc == 0;   /* SEARCH_OK */
}

bool sess_domain_in(smtp_session *s, const char *list, sv domain)
{
	if (!list || !*list) return false;
	const char *l = sess_expand(s, list);
	if (!l) return false;
	xbuf err;
	xbuf_init(&err, s->work);
	match_ctx mc = { .expand = expand_named_list, .ectx = s,
		.primary_hostname = conf_main.primary_hostname };
	int rc = match_isinlist(domain, sv_cstr(l), 0, MATCH_DOMAIN, true, &mc, &err);
	return rc == 0;   /* SEARCH_OK */
}

/* ---- Connection start --------------------------------------------------------------------- */

static int receive_timeout_ms(smtp_session *s)
{
	const char *t = conf_main.smtp_receive_timeout;
	if (!t) return 300000;
	if (*t == '$') t = sess_expand(s, t);
	int secs;
	if (!t || !interval_parse(sv_cstr(t), &secs)) return 300000;
	return secs <= 0 ? -1 : secs * 1000;
}

/* D= on connection lines: with log_selector millisec, durations under 5 s have milliseconds
 * ("D=0.531s"), longer ones the plain form ("D=7s", "D=1m1s"), as Exim 4.96 shows them. */
const char *sess_duration(smtp_session *s)
{
	xbuf b;
	xbuf_init(&b, s->work);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long ms = ((long long)now.tv_sec - s->start_ts.tv_sec) * 1000 + (now.tv_nsec - s->start_ts.tv_nsec) / 1000000;
	if (ms < 0) ms = 0;
	const log_config *lc = log_current_config();
	if (ms < 5000 && lc && logsel_has(&lc->selector, LS_MILLISEC))
		xbuf_printf(&b, "%lld.%03llds", ms / 1000, ms % 1000);
	else
		interval_format(ms / 1000, &b);
	return xbuf_cstr(&b);
}

/* Exim keeps the latest SMTP_HISTORY commands in a ring; once it has been filled, the list
 * starts with "..." (even with nothing lost yet). */
void sess_history_add(smtp_session *s, smtp_verb v)
{
	if (v == SMTP_UNKNOWN) return;
	if (s->nhistory == SMTP_HISTORY + 1) {
		memmove(s->history, s->history + 1, SMTP_HISTORY * sizeof s->history[0]);
		s->nhistory--;
		s->history_overflow = true;
	}
	s->history[s->nhistory++] = v;
}

/* " C=EHLO,MAIL,..." as Exim appends it to drop and no-MAIL lines; NULL when no command was
 * recorded (Exim then writes nothing, or "NULL" in the drop line). */
static const char *history(smtp_session *s)
{
	if (s->nhistory == 0 && !s->history_overflow) return NULL;
	xbuf b;
	xbuf_init(&b, s->work);
	xbuf_puts(&b, " C=");
	int first = s->nhistory > SMTP_HISTORY ? s->nhistory - SMTP_HISTORY : 0;
	if (s->nhistory >= SMTP_HISTORY || s->history_overflow) xbuf_puts(&b, "...");
	for (int i = first; i < s->nhistory; i++)
		xbuf_printf(&b, "%s%s", i > first ? "," : "", smtp_verb_name(s->history[i]));
	return xbuf_cstr(&b);
}

/* The real uid's login name, remembered per process: the daemon looks up the one its sessions
 * will run as before it forks them (smtp_session_prepare_login), so they inherit it; a process
 * whose uid differs looks its own up while it waits for its connection (smtp_session_prepare),
 * not between the client's connect and the banner. */
static struct {
	bool known, found;
	uid_t uid;
	char name[256];
} login_cache;

/* The login name of uid (the caller's: caller_id.h), looked up once per process and uid. */
static bool real_login(uid_t uid, sv *out, arena *a)
{
	if (!login_cache.known || login_cache.uid != uid) {
		struct passwd *pw = getpwuid(uid);
		login_cache.known = true;
		login_cache.uid = uid;
		login_cache.found = pw && strlen(pw->pw_name) < sizeof login_cache.name;
		if (login_cache.found)
			strcpy(login_cache.name, pw->pw_name);
	}
	if (login_cache.found)
		*out = sv_copy(a, sv_cstr(login_cache.name));
	return login_cache.found;
}

void smtp_session_prepare_login(uid_t uid)
{
	sv unused;
	arena_mark m = arena_getmark(pool_scratch);
	real_login(uid, &unused, pool_scratch);
	arena_reset(pool_scratch, m);
}

/* The last session run: what it holds outside pool_conn is freed by smtp_session_reset. */
static smtp_session *last_session;

void smtp_session_reset(void)
{
	smtp_session *s = last_session;
	last_session = NULL;
	if (s) {
		acl_ctx_release(&s->acl);        /* the engines' own arenas */
		acl_ctx_release(&s->expand_acl);
		xp_env_release(&s->env);         /* compiled regexes of the connection */
	}
	sess_die_install(NULL);
	sess_die_after_data(false);
}

void smtp_session_prepare(void)
{
	smtp_session_prepare_login(caller_id_uid());
}

static void init_origin(smtp_session *s)
{
	const smtp_conn_params *p = s->p;
	msg_origin *o = &s->origin;
	memset(o, 0, sizeof *o);
	o->host_address = p->host_address;
	o->host_port = p->host_port;
	o->interface_address = p->interface_address;
	o->interface_port = p->interface_port;
	o->host_name = p->host_name;
	o->ident = p->ident;
	o->auth_driver = p->auth_driver;
	o->auth_id = p->auth_id;
	s->authenticated = p->auth_driver.len > 0;   /* -oMaa: as if AUTH had succeeded */
	o->uid = caller_id_uid();
	o->gid = caller_id_gid();
	/* The caller's login is the name of the real uid (not the terminal's login name). */
	if (!real_login(o->uid, &o->login, s->conn))
		o->login = sv_cstr(conf_main.unknown_login && *conf_main.unknown_login ? conf_main.unknown_login : "unknown");
	/* A -bs caller is identified by its login, also when -oMa names a remote host. */
	if (!o->ident.p && (!o->host_address.len || s->mode == SMTP_MODE_BS || s->mode == SMTP_MODE_BATCH))
		o->ident = o->login;   /* -oMt "" gives none */
	/* -active_hostname is written only when smtp_active_hostname differs from primary_hostname */
	o->active_hostname = SV_NULL;
	/* $received_protocol before HELO/EHLO */
	o->protocol = p->protocol.len ? p->protocol : sv_cstr(o->host_address.len ? "smtp" : "local-smtp");
	o->host_texts_before_helo = s->mode == SMTP_MODE_BATCH && o->host_address.len;
}

/* The PROXY header (facts §14): the TCP peer becomes the proxy, the header's source the client. */
static void proxy_start(smtp_session *s)
{
	if (s->mode != SMTP_MODE_DAEMON || !sess_host_in(s, conf_main.hosts_proxy)) return;
	proxy_info *info = arena_alloc(s->conn, sizeof *info);
	xbuf err;
	xbuf_init(&err, s->work);
	int timeout = conf_main.proxy_protocol_timeout > 0 ? conf_main.proxy_protocol_timeout * 1000 : 3000;
	msg_origin *o = &s->origin;
	o->proxy_session = true;
	if (!proxy_read_header(s->p->in_fd, timeout, info, &err)) {
		/* As in Exim, nothing is logged; every command but QUIT is refused. */
		s->proxy_failed = true;
		return;
	}
	/* The v2 TLV variables ($proxy_alpn, ...) read the header from now on. */
	s->proxy_vars.ctx = info;
	/* LOCAL (v2) and UNKNOWN (v1): the proxy speaks for itself; Exim leaves the proxy
	 * addresses empty and the client is the TCP peer. */
	if (info->local) return;
	o->proxy_local_address = o->host_address;
	o->proxy_local_port = o->host_port;
	o->host_address = sv_tainted(sv_copy(s->conn, sv_cstr(info->src_addr)));
	o->host_port = info->src_port;
	o->proxy_external_address = sv_tainted(sv_copy(s->conn, sv_cstr(info->dst_addr)));
	o->proxy_external_port = info->dst_port;
	sess_update_host_ident(s);
}

void sess_lookup_host_name(smtp_session *s)
{
	msg_origin *o = &s->origin;
	if (o->host_lookup_failed || o->host_lookup_deferred) return;
	sess_lookup_host_name_again(s);
}

/* The lookup even when one failed before: Exim does it again (and logs it again) for every
 * HELO naming one of helo_lookup_domains. */
void sess_lookup_host_name_again(smtp_session *s)
{
	msg_origin *o = &s->origin;
	if (o->host_name.len || !o->host_address.len) return;
	o->host_lookup_failed = o->host_lookup_deferred = false;
	sv name = SV_NULL, *aliases = NULL;
	size_t naliases = 0;
	bool secure = false;
	dns_rc rc = dns_host_name_lookup_secure(s->conn, o->host_address, &name, &aliases, &naliases, &secure);
	if (rc == DNS_SUCCEED) { o->host_name = name; o->host_dnssec = secure; }
	else if (rc == DNS_AGAIN) o->host_lookup_deferred = true;
	else {
		o->host_lookup_failed = true;
		o->host_lookup_reason = dns_host_lookup_reason(s->conn, rc, o->host_address, name);
	}
	const log_config *lc = log_current_config();
	if (rc == DNS_NOMATCH && (!lc || logsel_has(&lc->selector, LS_HOST_LOOKUP_FAILED)))
		sess_log(s, LOG_MAIN, "no host name found for IP address " SV_FMT, SV_ARG(o->host_address));
	sess_update_host_ident(s);
}

static void host_lookup(smtp_session *s)
{
	if (sess_host_in(s, conf_main.host_lookup)) sess_lookup_host_name(s);
}

static bool host_rejected(smtp_session *s)
{
	if (!sess_host_in(s, conf_main.host_reject_connection)) return false;
	sess_log(s, LOG_MAIN | LOG_REJECT, "refused connection from %s (host_reject_connection)",
		sv_dup(s->work, s->host_ident));
	sess_reply(s, 554, "SMTP service not available");
	return true;
}

/* The connect ACL; false: the connection is refused (reply sent). */
static bool connect_acl(smtp_session *s)
{
	if (conf_main.acl_smtp_connect) {
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_CONNECT, conf_main.acl_smtp_connect, SV_NULL, &c);
		if (rc != ACL_OK) {
			sess_acl_reply(s, ACL_WHERE_CONNECT, rc, &c, "connection");
			/* A drop (not a deny) runs the not-QUIT ACL, as it does later in the session. */
			if (rc == ACL_FAIL_DROP) (void)sess_notquit(s, "acl-drop", NULL);
			return false;
		}
		/* An accepting "message =" is the greeting instead of smtp_banner. */
		if (c.user_msg.len) s->connect_message = sv_copy(s->conn, xbuf_sv(&c.user_msg));
		acl_ctx_warned_reset(&s->acl);   /* the connect ACL's warn texts log again later (observed) */
	}
	return true;
}

/* False: smtp_banner did not expand (forced failure too); Exim logs it to the panic log and
 * ends the session without a greeting. */
static bool banner(smtp_session *s)
{
	/* Exim drops white space at the end of the greeting, wherever it came from. */
	if (s->connect_message.len) {
		sv m = s->connect_message;
		while (m.len && isspace((unsigned char)m.p[m.len - 1])) m.len--;
		sess_reply_message(s, 220, m);
		return true;
	}
	xbuf out, err;
	xbuf_init(&out, s->work);
	xbuf_init(&err, s->work);
	if (xp_expand(&s->env, sv_cstr(conf_main.smtp_banner), &out, &err) != XP_OK) {
		s->exit_code = 1;
		sess_log(s, LOG_MAIN | LOG_PANIC | LOG_DIE, "Expansion of \"%s\" (smtp_banner) failed: %s", conf_main.smtp_banner,
			xbuf_cstr(&err));
		return false;
	}
	sv m = xbuf_sv(&out);
	while (m.len && isspace((unsigned char)m.p[m.len - 1])) m.len--;
	sess_reply_text(s, 220, m);
	return true;
}

/* ---- The command loop --------------------------------------------------------------------- */

/* What the client has sent so far without waiting (for the synchronisation error lines). */
static sv pending_input(smtp_session *s)
{
	const char *p;
	size_t n;
	if (bio_buffered(&s->io).len == 0) (void)bio_peek(&s->io, &p, &n, 0);
	return bio_buffered(&s->io);
}

/* Exim's synchronisation rule: after a command that may not be pipelined, the client must wait
 * for the reply; input already waiting is an error. */
static bool sync_ok(smtp_session *s, smtp_verb v)
{
	if (!s->enforce_sync || s->controls.no_enforce_sync) return true;
	/* A client that may use PIPECONNECT is not held to synchronisation until its first message
	 * has been accepted (Exim 4.96, observed: EHLO, MAIL, RCPT, DATA and the message in one
	 * packet are accepted; the next message's pipelined DATA is a synchronisation error). */
	if (s->pipe_connect_ok && !s->messages_accepted) return true;
	/* QUIT is answered whatever follows it, as Exim 4.96 does (clients send TLS close_notify or
	 * pipeline QUIT behind BDAT LAST): nothing after it is read anyway. */
	if (v == SMTP_QUIT) return true;
	/* RFC 2920: EHLO, DATA, VRFY, EXPN, QUIT and NOOP end a group (as do the commands that
	 * change the connection: HELO, AUTH, STARTTLS). */
	bool pipelinable = s->adv_pipelining && (v == SMTP_MAIL || v == SMTP_RCPT || v == SMTP_RSET
		|| v == SMTP_ETRN || v == SMTP_BDAT || v == SMTP_UNKNOWN);
	if (pipelinable) return true;
	if (!bio_input_pending(&s->io, 0)) return true;
	sv next = pending_input(s);
	/* Exim checks before it takes the command: it is not in the C= history. */
	if (s->nhistory && !s->history_overflow) s->nhistory--;
	sess_log_incomplete(s, "sync failure");
	const char *text = sess_notquit(s, "synchronization-error", "SMTP synchronization error");
	xbuf shown;
	xbuf_init(&shown, s->work);
	printing_escape(sv_sub(next, 0, 150), 0, &shown);
	xbuf cmd;
	xbuf_init(&cmd, s->work);
	printing_escape(s->cmd_line, PRINT_TAB_LITERAL, &cmd);
	sess_log(s, LOG_MAIN | LOG_REJECT, "SMTP protocol synchronization error (next input sent too soon: "
		"pipelining was%s advertised): rejected \"%s\" %s next input=\"%s\"",
		s->adv_pipelining ? "" : " not", xbuf_cstr(&cmd), sv_dup(s->work, s->host_tag),
		xbuf_cstr(&shown));
	sess_reply(s, 554, "%s", text);
	return false;
}

/* An ACL error's text for the QUIT and not-QUIT lines: Exim prints a missing one as "NULL"
 * (observed: a nested discard there, "ACL for QUIT returned ERROR: NULL"). */
static const char *error_text(smtp_session *s, const acl_ctx *c)
{
	sv t = acl_log_text(c);
	return t.len ? sv_dup(s->work, t) : "NULL";
}

/* The connection is about to end without QUIT: the not-QUIT ACL runs first (its log lines come
 * before the session's), and its message, if any, replaces the reply's text. */
const char *sess_notquit(smtp_session *s, const char *reason, const char *deflt)
{
	s->notquit_reason = reason;
	if (s->notquit_ran || !conf_main.acl_smtp_notquit) return deflt;
	s->notquit_ran = true;
	acl_ctx c;
	if (sess_acl(s, ACL_WHERE_NOTQUIT, conf_main.acl_smtp_notquit, SV_NULL, &c) == ACL_ERROR)
		sess_log(s, LOG_MAIN | LOG_PANIC, "ACL for not-QUIT returned ERROR: %s", error_text(s, &c));
	return c.user_msg.len ? sv_dup(s->work, xbuf_sv(&c.user_msg)) : deflt;
}

/* Count a syntax or protocol error; true when the limit is now exceeded (reply and log done:
 * the caller drops the connection). The error's own reply is prefixed with "-" then. */
void sess_exit_failure(smtp_session *s)
{
	if (s->mode == SMTP_MODE_BS) s->exit_code = 1;
}

static void drop_synprot(smtp_session *s)
{
	sess_exit_failure(s);
	/* Exim does not run the not-QUIT ACL for this end of a session. */
	s->notquit_ran = true;
	xbuf cmd;
	xbuf_init(&cmd, s->work);
	printing_escape(s->cmd_line, PRINT_TAB_LITERAL, &cmd);   /* log lines keep tabs */
	sess_log(s, LOG_MAIN | LOG_REJECT, "SMTP call from %s dropped: too many syntax or protocol "
		"errors (last command was \"%s\", %s)", sv_dup(s->work, s->host_ident),
		xbuf_cstr(&cmd), history(s) ? history(s) : "NULL");
}

bool sess_count_synprot(smtp_session *s)
{
	if (++s->synprot_errors <= conf_main.smtp_max_synprot_errors) return false;
	drop_synprot(s);
	return true;
}

/* "SMTP syntax|protocol error in ..." under its log_selector item. */
static void log_synprot(smtp_session *s, bool protocol, const char *reason)
{
	const log_config *lc = log_current_config();
	if (lc && logsel_has(&lc->selector, protocol ? LS_SMTP_PROTOCOL_ERROR : LS_SMTP_SYNTAX_ERROR)) {
		xbuf cmd;
		xbuf_init(&cmd, s->work);
		printing_escape(s->cmd_line, PRINT_TAB_LITERAL, &cmd);   /* a tab stays a tab */
		sess_log(s, LOG_MAIN, "SMTP %s error in \"%s\" %s %s", protocol ? "protocol" : "syntax",
			xbuf_cstr(&cmd), sv_dup(s->work, s->host_tag), reason);
	}
}

static bool synprot_error(smtp_session *s, int code, bool protocol, const char *reason, const char *text)
{
	log_synprot(s, protocol, reason);
	if (++s->synprot_errors > conf_main.smtp_max_synprot_errors) {
		drop_synprot(s);
		sess_reply_lines(s, code, sv_cstr(arena_printf(s->work, "%s\nToo many syntax or protocol errors", text)));
		return true;
	}
	sess_reply(s, code, "%s", text);
	return false;
}

/* Batched SMTP (-bS) stops at the first error: what went wrong goes to stdout (for the
 * program that fed us) and a report to stderr, and the rest of the batch is abandoned. Exim
 * words a few of these replies differently in batch mode. */
static sess_next batch_error_at(smtp_session *s, int code, const char *text, bool show_command);

static sess_next batch_error(smtp_session *s, int code, const char *text)
{
	return batch_error_at(s, code, text, true);
}

sess_next sess_batch_data_error(smtp_session *s, int code, const char *text)
{
	return batch_error_at(s, code, text, false);
}

/* show_command: Exim names the command at fault, except for an error found after the data
 * (a refusal by acl_not_smtp). */
static sess_next batch_error_at(smtp_session *s, int code, const char *text, bool show_command)
{
	static const struct { const char *interactive, *batch; } words[] = {
		{ "unrecognized command", "Command unrecognized" },
		{ "sender already given", "Sender already given" },
		{ "sender not yet given", "No sender yet given" },
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(text, words[i].interactive) == 0) text = words[i].batch;
	xbuf cmd;
	xbuf_init(&cmd, s->work);
	printing_escape(s->cmd_line, 0, &cmd);
	bio_printf(&s->io, "%d %s\nTransaction started in line %lu\nError detected in line %lu\n",
		code, text, s->txn_line, s->io.lines);
	if (show_command)
		bio_printf(&s->io, "%s\n", xbuf_cstr(&cmd));
	bio_flush(&s->io);
	fprintf(stderr, "An error was detected while processing a file of BSMTP input.\n"
		"The error message was:\n\n  %d %s\n\n"
		"The SMTP transaction started in line %lu.\n"
		"The error was detected in line %lu.\n",
		code, text, s->txn_line, s->io.lines);
	if (show_command)
		fprintf(stderr, "The SMTP command at fault was:\n\n   %s\n\n", xbuf_cstr(&cmd));
	fprintf(stderr, "%d previous message%s successfully processed.\n"
		"The rest of the batch was abandoned.\n", s->messages_accepted,
		s->messages_accepted == 1 ? " was" : "s were");
	fflush(stderr);
	s->exit_code = s->messages_accepted ? 1 : 2;
	return SESS_DROP;
}

sess_next sess_syntax_error(smtp_session *s, int code, const char *reason, const char *text)
{
	if (s->mode == SMTP_MODE_BATCH) return batch_error(s, code, text);
	/* A command refused for its argument alone is not part of the "C=" history. */
	if (strcmp(text, "unexpected argument data") == 0 && s->nhistory > 0)
		s->nhistory--;
	return synprot_error(s, code, code == 503, reason, text) ? SESS_DROP : SESS_CONTINUE;
}

sess_next sess_protocol_error(smtp_session *s, int code, const char *reason, const char *text)
{
	if (s->mode == SMTP_MODE_BATCH) return batch_error(s, code, text);
	return synprot_error(s, code, true, reason, text) ? SESS_DROP : SESS_CONTINUE;
}

/* A command that is not MAIL/RCPT/DATA/BDAT/QUIT: counted against smtp_accept_max_nonmail. */
static bool nonmail_ok(smtp_session *s)
{
	/* A limit of 0 allows no counted command at all (Exim). */
	if (!s->nonmail_limited) return true;
	if ((s->cmd == SMTP_HELO || s->cmd == SMTP_EHLO) && s->helo_free) { s->helo_free = false; return true; }
	if (s->cmd == SMTP_RSET && s->rset_free) { s->rset_free = false; return true; }
	if (s->cmd == SMTP_AUTH && s->auth_free) { s->auth_free = false; return true; }
	if (s->cmd == SMTP_STARTTLS && s->starttls_free) { s->starttls_free = false; return true; }
	if (++s->nonmail_commands <= conf_main.smtp_accept_max_nonmail) return true;
	/* The command that is one too many is not part of the C= history (Exim). */
	if (s->nhistory > 0) s->nhistory--;
	/* Exim's line shows the command word alone; the not-QUIT ACL runs after it. */
	sv word = s->cmd_line;
	for (size_t i = 0; i < word.len; i++)
		if (isspace((unsigned char)word.p[i])) { word.len = i; break; }
	xbuf cmd;
	xbuf_init(&cmd, s->work);
	printing_escape(word, PRINT_TAB_LITERAL, &cmd);
	/* A transaction open then is logged first (Exim 4.96, log_selector +smtp_incomplete_transaction). */
	sess_log_incomplete(s, "too many non-mail commands");
	sess_log(s, LOG_MAIN | LOG_REJECT, "SMTP call from %s dropped: too many nonmail commands (last was \"%s\")",
		sv_dup(s->work, s->host_ident), xbuf_cstr(&cmd));
	sess_exit_failure(s);
	const char *text = sess_notquit(s, "bad-commands", "Too many nonmail commands");
	sess_reply(s, 554, "%s", text);
	return false;
}

static sess_next unknown_command(smtp_session *s)
{
	if (s->mode == SMTP_MODE_BATCH) return batch_error(s, 500, "unrecognized command");
	if (++s->unknown_commands > conf_main.smtp_max_unknown_commands) {
		log_synprot(s, false, "unrecognized command");   /* logged as ever, before the drop */
		sess_log_incomplete(s, "unrecognized command");   /* an open transaction (observed) */
		const char *text = sess_notquit(s, "bad-commands", "Too many unrecognized commands");
		xbuf cmd;
		xbuf_init(&cmd, s->work);
		printing_escape(s->cmd_line, PRINT_TAB_LITERAL, &cmd);
		sess_log(s, LOG_MAIN | LOG_REJECT, "SMTP call from %s dropped: too many unrecognized commands "
			"(last was \"%s\")", sv_dup(s->work, s->host_ident), xbuf_cstr(&cmd));
		sess_reply(s, 500, "%s", text);
		return SESS_DROP;
	}
	return sess_syntax_error(s, 500, "unrecognized command", "unrecognized command");
}

sess_next sess_quit(smtp_session *s)
{
	acl_ctx c;
	acl_result rc = ACL_OK;
	/* Exim's order: the incomplete-transaction line, the ACL (an error is logged), the reply. */
	sess_log_incomplete(s, "QUIT");
	if (conf_main.acl_smtp_quit) rc = sess_acl(s, ACL_WHERE_QUIT, conf_main.acl_smtp_quit, SV_NULL, &c);
	if (rc == ACL_ERROR)
		sess_log(s, LOG_MAIN | LOG_PANIC, "ACL for QUIT returned ERROR: %s", error_text(s, &c));
	/* Exim answers with the ACL's message whatever the result (observed: a refusing verb is an
	 * error here, but its message is still the 221 text; so is a nested ACL's). */
	if (conf_main.acl_smtp_quit && c.user_msg.len) sess_reply_text(s, 221, xbuf_sv(&c.user_msg));
	else sess_reply(s, 221, "%s closing connection", s->active_hostname);
	if (sess_log_connection(s))
		sess_log(s, LOG_MAIN, "SMTP connection from %s closed by QUIT", conn_name(s));
	return SESS_QUIT;
}

static sess_next starttls(smtp_session *s);

static sess_next dispatch(smtp_session *s)
{
	smtp_verb v = s->cmd;
	if (s->proxy_failed && v != SMTP_QUIT) {
		sess_reply(s, 503, "Command refused, required Proxy negotiation failed");
		return SESS_CONTINUE;
	}
	switch (v) {
	case SMTP_HELO: case SMTP_EHLO: case SMTP_RSET: case SMTP_NOOP: case SMTP_VRFY: case SMTP_EXPN:
	case SMTP_ETRN: case SMTP_HELP: case SMTP_AUTH: case SMTP_STARTTLS:
		/* Exim refuses an RSET with an argument and a STARTTLS it did not advertise before it
		 * counts the command (observed: neither counts, nor uses up the free RSET). */
		if ((v == SMTP_RSET || v == SMTP_STARTTLS) && s->cmd_arg.len) break;
		if (v == SMTP_STARTTLS && !s->adv_starttls) break;
		if (!nonmail_ok(s)) return SESS_DROP;
		break;
	default:
		break;
	}
	if (!sync_ok(s, v)) return SESS_DROP;
	switch (v) {
	case SMTP_HELO: return sess_helo(s, false);
	case SMTP_EHLO: return sess_helo(s, true);
	case SMTP_MAIL: return sess_mail(s);
	case SMTP_RCPT: return sess_rcpt(s);
	case SMTP_DATA: return sess_data(s);
	case SMTP_BDAT: return sess_bdat(s);
	case SMTP_RSET:
		if (s->cmd_arg.len) return sess_syntax_error(s, 501, "unexpected argument data", "unexpected argument data");
		sess_log_incomplete(s, "RSET");
		sess_reset_transaction(s);
		sess_set_log_id(s, NULL);
		s->txn_line = s->io.lines;
		sess_reply(s, 250, "Reset OK");
		return SESS_CONTINUE;
	case SMTP_NOOP:
		sess_reply(s, 250, "OK");
		return SESS_CONTINUE;
	case SMTP_QUIT:
		if (s->cmd_arg.len) return sess_syntax_error(s, 501, "unexpected argument data", "unexpected argument data");
		return sess_quit(s);
	case SMTP_VRFY: return sess_vrfy_expn(s, false);
	case SMTP_EXPN: return sess_vrfy_expn(s, true);
	case SMTP_ETRN: return sess_etrn(s);
	case SMTP_HELP: return sess_help(s);
	case SMTP_AUTH: return sess_auth(s);
	case SMTP_STARTTLS:
		return starttls(s);
	default:
		return unknown_command(s);
	}
}

/* ---- TLS ---------------------------------------------------------------------------------- */

static const smtp_tls_server *tls_server;

void smtp_tls_register(const smtp_tls_server *t)
{
	tls_server = t;
}

bool sess_tls_offerable(smtp_session *s)
{
	return tls_server && !s->origin.tls_cipher.len && tls_server->usable()
		&& sess_host_in(s, conf_main.tls_advertise_hosts);
}

/* Exim's line: "TLS error on connection from (helo) [ip] I=[ip]:port (SSL_accept): error:..."
 * (I= under log_selector incoming_interface); the error text brings its own "(what):". */
static void log_tls_error(smtp_session *s, const xbuf *err)
{
	const log_config *lc = log_current_config();
	const msg_origin *o = &s->origin;
	const char *iface = "";
	if (lc && logsel_has(&lc->selector, LS_INCOMING_INTERFACE) && o->interface_address.len)
		iface = arena_printf(s->work, " I=[" SV_FMT "]:%d", SV_ARG(o->interface_address), o->interface_port);
	sess_log(s, LOG_MAIN, "TLS error on connection from %s%s %s", sv_dup(s->work, sv_sub(s->host_ident, 0, s->host_full_len)), iface,
		xbuf_cstr(err));
}

/* The TLS server's checks that come before the go-ahead; false: logged, caller answers. */
static bool tls_prepare(smtp_session *s)
{
	if (!tls_server->prepare) return true;
	xbuf err;
	xbuf_init(&err, s->work);
	if (tls_server->prepare(&s->origin, &err)) return true;
	log_tls_error(s, &err);
	return false;
}

static bool tls_start(smtp_session *s)
{
	xbuf err;
	xbuf_init(&err, s->work);
	if (tls_server->start(&s->io, s->p->in_fd, s->p->out_fd, &s->origin, &err)) return true;
	(void)sess_notquit(s, "tls-failed", NULL);
	log_tls_error(s, &err);
	return false;
}

static sess_next starttls(smtp_session *s)
{
	/* An argument is refused first, advertised or not, with the words of RSET's (Exim 4.96). */
	if (s->cmd_arg.len) return sess_syntax_error(s, 501, "unexpected argument data", "unexpected argument data");
	if (!s->adv_starttls)
		return sess_syntax_error(s, 503, "STARTTLS command used when not advertised",
			"STARTTLS command used when not advertised");
	if (conf_main.acl_smtp_starttls) {
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_STARTTLS, conf_main.acl_smtp_starttls, SV_NULL, &c);
		if (rc != ACL_OK) return sess_acl_reply(s, ACL_WHERE_STARTTLS, rc, &c, "STARTTLS");
	}
	/* A problem found before the handshake (as Exim: certificate files, ciphers...): 454, and
	 * the session goes on in clear. */
	if (!tls_prepare(s)) {
		sess_reply(s, 454, "TLS currently unavailable");
		return SESS_CONTINUE;
	}
	sess_reply(s, 220, "TLS go ahead");
	if (!sess_flush(s) || !tls_start(s)) return SESS_DROP;
	/* A new start: the client must say EHLO again (RFC 3207 4.2). */
	sess_reset_transaction(s);
	s->helo_seen = s->esmtp = false;
	s->adv_starttls = s->adv_auth = s->adv_pipelining = s->adv_chunking = false;
	s->origin.helo_name = SV_NULL;
	s->origin.texts_helo_set = false;
	s->helo_free = s->auth_free = true;
	sess_update_host_ident(s);
	return SESS_CONTINUE;
}

/* The connection ended without QUIT: Exim's replies and log lines for each way. */
static void lost(smtp_session *s, bio_rc rc)
{
	sess_exit_failure(s);
	const char *who = sv_dup(s->work, s->host_ident);
	if (rc == BIO_TIMEOUT) {
		const char *dflt = arena_printf(s->work, "%s SMTP incoming data timeout - closing connection.", s->active_hostname);
		sess_reply(s, 421, "%s", sess_notquit(s, "command-timeout", dflt));
		if (sess_log_selected(LS_LOST_INCOMING_CONNECTION))
			sess_log(s, LOG_MAIN, "SMTP command timeout on connection from %s", who);
		return;
	}
	const char *dflt = arena_printf(s->work, "%s lost input connection", s->active_hostname);
	sess_reply(s, 421, "%s", sess_notquit(s, "connection-lost", dflt));
	sess_log_incomplete(s, "connection lost");
	if (s->mail_given) {
		if (sess_log_selected(LS_LOST_INCOMING_CONNECTION))
			sess_log(s, LOG_MAIN, "unexpected disconnection while reading SMTP command from %s D=%s", who,
				sess_duration(s));
	} else if (sess_log_connection(s)) {
		xbuf why;
		xbuf_init(&why, s->work);
		if (rc == BIO_ERROR) xbuf_printf(&why, " (error: %s)", strerror(s->io.err));
		sess_log(s, LOG_MAIN, "SMTP connection from %s lost%s D=%s", conn_name(s), xbuf_cstr(&why), sess_duration(s));
	}
}

static void host_checking_banner(smtp_session *s)
{
	bio_printf(&s->io, "\n**** SMTP testing session as if from host " SV_FMT "\n"
		"**** but without any ident (RFC 1413) callback.\n"
		"**** This is not for real!\n\n", SV_ARG(s->origin.host_address));
}

int smtp_session_run(const smtp_conn_params *p)
{
	static smtp_session sess;   /* one per process; large (I/O buffers) */
	static arena *cmd_arena;
	smtp_session *s = &sess;
	memset(s, 0, sizeof *s);
	last_session = s;
	s->p = p;
	s->mode = p->mode;
	s->conn = pool_conn;
	/* Per-command work (replies, log lines, expansions) goes to its own arena, emptied before
	 * each command, so a long connection does not grow; what lasts goes to pool_conn. */
	if (!cmd_arena) cmd_arena = arena_new("smtp-command");
	s->work = cmd_arena;
	s->start = time(NULL);
	clock_gettime(CLOCK_REALTIME, &s->start_ts);
	bio_init(&s->io, p->in_fd, p->out_fd);
	xbuf_init(&s->scratch, s->conn);
	xbuf_init(&s->last_reply, s->conn);
	xbuf_init(&s->cmd_buf, s->conn);
	xbuf_init(&s->auth_sender_buf, s->conn);
	s->helo_free = s->rset_free = s->starttls_free = s->auth_free = true;
	s->conn_nolog = -1;
	init_origin(s);
	/* Before the banner, as Exim: a Fast Open child may still be in SYN_RECV (smtp/tfo.c). */
	if (s->mode == SMTP_MODE_DAEMON)
		s->origin.tcp_fastopen = tfo_in_check(p->in_fd);
	xp_env_init(&s->env, s->work);
	s->env.state = s->conn;   /* $acl_c* and other lasting expansion state */
	sess_vars_init(s);
	sess_update_host_ident(s);
	s->receive_timeout_ms = receive_timeout_ms(s);
	s->enforce_sync = conf_main.smtp_enforce_sync && s->mode == SMTP_MODE_DAEMON;
	s->active_hostname = conf_main.primary_hostname ? conf_main.primary_hostname : "";
	sess_die_install(s);

	if (s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC) host_checking_banner(s);
	/* The daemon writes its own "SMTP connection from" line when it accepts. */
	if (s->mode != SMTP_MODE_DAEMON && sess_log_connection(s))
		sess_log(s, LOG_MAIN, "SMTP connection from %s", conn_name(s));
	rfc1413_session_lookup(s);   /* rfc1413_hosts (smtp/rfc1413_session.c) */
	/* host_reject_connection looks at the TCP peer, before any PROXY header. */
	if (host_rejected(s)) {
		sess_flush(s);
		return 0;
	}
	proxy_start(s);
	host_lookup(s);
	sess_ratelimit_start(s);
	if (conf_main.smtp_active_hostname) {
		const char *h = sess_expand(s, conf_main.smtp_active_hostname);
		if (h && *h) {
			h = arena_strdup(s->conn, h);
			s->active_hostname = h;
			if (!conf_main.primary_hostname || strcmp(h, conf_main.primary_hostname) != 0)
				s->origin.active_hostname = sv_cstr(h);
		}
	}
	s->nonmail_limited = sess_host_in(s, conf_main.smtp_accept_max_nonmail_hosts);
	if (!connect_acl(s)) {
		sess_flush(s);
		return 0;
	}
	/* An early talker (input before the banner) breaks synchronisation, unless the host may
	 * use PIPECONNECT. */
	s->pipe_connect_ok = s->mode == SMTP_MODE_DAEMON && s->origin.host_address.len
		&& sess_host_in(s, conf_main.pipelining_connect_advertise_hosts);
	/* Input before the banner from such a host is PIPECONNECT used ("L*" on the <= line). */
	if (s->pipe_connect_ok && bio_input_pending(&s->io, 0)) s->pipe_connect_used = true;
	if (s->enforce_sync && !s->pipe_connect_ok && bio_input_pending(&s->io, 0)) {
		xbuf shown;
		xbuf_init(&shown, s->work);
		printing_escape(sv_sub(pending_input(s), 0, 150), 0, &shown);
		sess_log(s, LOG_MAIN | LOG_REJECT, "SMTP protocol synchronization error (input sent without "
			"waiting for greeting): rejected connection from %s input=\"%s\"",
			sv_dup(s->work, s->host_tag), xbuf_cstr(&shown));
		sess_reply(s, 554, "SMTP synchronization error");
		sess_flush(s);
		return 0;
	}
	if (p->tls_on_connect && (!tls_server || !tls_prepare(s) || !tls_start(s))) {
		sess_flush(s);
		return 0;
	}
	if (!banner(s)) {
		sess_flush(s);
		return s->exit_code;
	}

	xbuf line;
	xbuf_init(&line, NULL);
	sess_next next = SESS_CONTINUE;
	s->commands_started = true;
	while (next == SESS_CONTINUE) {
		arena_clear(s->work);
		s->cur_rcpt = SV_NULL;
		/* -d+memory: what lasts the connection must not grow with each message (only then
		 * may a client send smtp_accept_max_per_connection of them) */
		DEBUG(D_MEMORY) debug_printf("connection arena: %zu bytes in use\n", arena_bytes_in_use(s->conn));
		/* Replies to pipelined commands go out together: when no more input is buffered, as
		 * Exim 4.96 flushes its output before it refills its input buffer (not a poll of the
		 * socket: one system call less per command). */
		if (!bio_input_buffered(&s->io) && !sess_flush(s)) break;
		bio_rc rc = bio_read_line(&s->io, &line, SMTP_CMD_MAX, s->receive_timeout_ms);
		/* A last command without its line end is lost with the connection (Exim). */
		if (rc == BIO_OK && s->io.last_unterminated && s->mode != SMTP_MODE_BATCH) rc = BIO_EOF;
		if (rc == BIO_EOF || rc == BIO_ERROR || rc == BIO_TIMEOUT) {
			if (s->in_bdat && s->mode != SMTP_MODE_BATCH) next = sess_bdat_lost(s, rc);
			else if (s->mode != SMTP_MODE_BATCH) lost(s, rc);
			break;
		}
		/* Kept in a buffer of its own: $smtp_command is still wanted by the not-QUIT ACL
		 * after the command's arena is emptied. */
		xbuf_reset(&s->cmd_buf);
		xbuf_putsv(&s->cmd_buf, xbuf_sv(&line));
		s->cmd_line = xbuf_sv(&s->cmd_buf);
		/* Exim drops trailing white space from a command line ($smtp_command, log lines). */
		while (s->cmd_line.len && isspace((unsigned char)s->cmd_line.p[s->cmd_line.len - 1])) s->cmd_line.len--;
		if (rc == BIO_TOOLONG) {
			s->cmd = SMTP_UNKNOWN;
			s->cmd_arg = SV_NULL;
		} else {
			s->cmd = smtp_cmd_split(s->cmd_line, &s->cmd_arg);
		}
		/* Between BDAT chunks Exim reads commands inside the message: they have their own
		 * rules (and most are not in the C= history). */
		if (s->in_bdat) {
			next = sess_bdat_between(s);
			continue;
		}
		sess_history_add(s, s->cmd);
		s->last_was_rcpt = s->was_rcpt;
		s->last_was_rej_mail = s->was_rej_mail;
		s->was_rcpt = s->was_rej_mail = s->rcpt_in_progress = false;
		if (memchr(s->cmd_line.p, '\0', s->cmd_line.len)) {
			/* Exim refuses a command containing NUL before looking at it; its log line shows
			 * each NUL as '?'. */
			for (size_t i = 0; i < s->cmd_line.len; i++)
				if (s->cmd_buf.p[i] == '\0') s->cmd_buf.p[i] = '?';
			if (s->nhistory > 0 && s->cmd != SMTP_UNKNOWN) s->nhistory--;
			s->cmd = SMTP_UNKNOWN;
			if (s->mode == SMTP_MODE_BATCH) {
				next = sess_syntax_error(s, 501, "NUL character(s) present (shown as '?')",
					"NUL characters are not allowed in SMTP commands");
				continue;
			}
			/* Counted, but a drop adds no "Too many" line to this reply (Exim). */
			log_synprot(s, false, "NUL character(s) present (shown as '?')");
			sess_reply(s, 501, "NUL characters are not allowed in SMTP commands");
			next = sess_count_synprot(s) ? SESS_DROP : SESS_CONTINUE;
			continue;
		}
		next = dispatch(s);
	}
	xbuf_free(&line);
	/* Every end but QUIT runs the not-QUIT ACL (drops, lost connections, timeouts). */
	if (next != SESS_QUIT) (void)sess_notquit(s, s->notquit_reason ? s->notquit_reason : "connection-lost", NULL);
	const log_config *lc = log_current_config();
	if (lc && logsel_has(&lc->selector, LS_SMTP_NO_MAIL) && !s->any_mail) {
		xbuf tls;   /* X= CV= DN= SNI= as on an arrival line (Exim 4.96, observed) */
		xbuf_init(&tls, s->work);
		receive_log_tls(&s->origin, &lc->selector, &tls);
		sess_log(s, LOG_MAIN, "no MAIL in SMTP connection from %s D=%s%s%s",
			sv_dup(s->work, s->host_ident), sess_duration(s), xbuf_cstr(&tls), history(s) ? history(s) : "");
	}
	sess_reset_transaction(s);
	sess_set_log_id(s, NULL);
	sess_flush(s);
	sess_die_install(NULL);
	return s->exit_code;
}
