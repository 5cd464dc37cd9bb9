/* Running the SMTP ACLs and turning their results into Exim's replies and log lines:
 *   550 Administrative prohibition                    (deny, no message)
 *   451 Temporary local problem - please try later    (defer, no message)
 * A "message =" that starts with a code of the right class ("551 5.7.1 text") supplies the code.
 * The log line is "H=<host> [F=<sender> ][temporarily ]rejected <what>[: <reason>]", the reason
 * being log_message, else the user message.
 */
#include <ctype.h>
#include <errno.h>
#include <time.h>
#include <string.h>

#include "conf/main_options.h"
#include "core/receive.h"
#include "core/route_verify.h"
#include "lib/log.h"
#include "smtp/session_int.h"

/* The body for regex/mime_regex conditions: the message being received, if any. */
static bool body_view(void *ctx, sv *body)
{
	smtp_session *s = ctx;
	return s->recv && receive_body(s->recv, body);
}

/* The engine's own log lines go through the session, so under -bh they keep their place among
 * the session's lines and carry the message id. */
static void acl_log_line(void *ctx, unsigned which, const char *text)
{
	sess_log(ctx, which, "%s", text);
}

/* "delay =": replies already due go out first (unless control = no_delay_flush), then the wait. */
static void acl_delay(void *ctx, int seconds)
{
	smtp_session *s = ctx;
	if (!s->controls.no_delay_flush) sess_flush(s);
	struct timespec ts = { .tv_sec = seconds, .tv_nsec = 0 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static void need_host_name(void *ctx)
{
	sess_lookup_host_name(ctx);
}

/* verify = sender / recipient: the router chain (src/core/route_verify.h), with the session's
 * variables; its log lines go through the session like the engine's. */
static void route_log_line(void *ctx, unsigned which, const char *text)
{
	sess_log(ctx, which, "%s", text);
}

static acl_result verify_address(void *ctx, bool recipient, sv address, sv options, xbuf *user_msg, xbuf *log_msg,
	bool *empty_text)
{
	smtp_session *s = ctx;
	return route_verify(&s->env, s->work, s->sender, recipient, address, options, user_msg, log_msg,
		empty_text, route_log_line, s);
}

static const acl_ops session_acl_ops = { .verify_address = verify_address, .body = body_view, .log = acl_log_line,
	.delay = acl_delay, .need_host_name = need_host_name };

void sess_acl_reset(smtp_session *s)
{
	acl_ctx_init(&s->acl, s->conn, ACL_WHERE_UNKNOWN, &s->env);   /* the engine keeps its state here */
	s->acl.msg_arena = pool_msg;   /* emptied with the message's state (sess_reset_transaction) */
}

void sess_acl_message_done(smtp_session *s)
{
	acl_ctx_message_done(&s->acl);
	s->controls = s->acl.controls;
}

static acl_ctx *prepare(smtp_session *s, acl_where where, sv recipient)
{
	acl_ctx *c;
	/* One context per connection carries the engine's state (warn de-duplication, ratelimit
	 * results, a MAIL "discard" that makes every RCPT discarded) from one ACL to the next. */
	acl_ctx_begin(&s->acl, where);
	xbuf prefix;
	xbuf_init(&prefix, s->work);
	xbuf_putsv(&prefix, s->host_tag);
	s->acl.log_prefix = xbuf_cstr(&prefix);
	s->acl.msg = s->msg;
	/* $recipients has a value only where Exim shows it */
	s->msgvars.allow_recipients = where == ACL_WHERE_PREDATA || where == ACL_WHERE_DATA
		|| where == ACL_WHERE_PRDR || where == ACL_WHERE_MIME || where == ACL_WHERE_NOTSMTP;
	s->acl.origin = &s->origin;
	c = &s->acl;
	c->recipient = recipient;
	s->cur_rcpt = recipient;
	/* control = caseful_local_part applies to one recipient only */
	c->controls.caseful_local_part = c->controls.caselower_local_part = false;
	/* the session sees whether this ACL asked for cutthrough (sess_rcpt) */
	c->controls.cutthrough_delivery = false;
	c->authenticated = s->authenticated;
	c->helo_verified = s->helo_verified;
	c->helo_verify_failed = s->helo_verify_failed;
	c->smtp_session = true;
	c->host_checking = s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC;
	c->ops = &session_acl_ops;
	c->ops_ctx = s;
	return c;
}

static void finish(smtp_session *s, acl_ctx *c, acl_ctx *out)
{
	*out = *c;
	/* Controls that outlive the statement (no_pipelining, enforce_sync...) apply to the
	 * connection from now on. */
	s->controls = c->controls;
	if (c->controls.no_multiline_responses) s->no_multiline = true;
	if (c->controls.no_enforce_sync) s->enforce_sync = false;
	if (c->controls.enforce_sync_set) s->enforce_sync = c->controls.enforce_sync && s->mode == SMTP_MODE_DAEMON;
}

acl_result sess_acl(smtp_session *s, acl_where where, const char *spec, sv recipient, acl_ctx *out)
{
	acl_ctx *c = prepare(s, where, recipient);
	/* Batched SMTP (-bS) runs none of the SMTP ACLs: Exim 4.96 applies the non-SMTP ones to it
	 * instead (acl_not_smtp_start at MAIL, acl_not_smtp_mime and acl_not_smtp after the data;
	 * observed: with every ACL logging, only those three logged). */
	bool skipped = s->mode == SMTP_MODE_BATCH && where != ACL_WHERE_NOTSMTP && where != ACL_WHERE_NOTSMTP_START;
	acl_result rc = skipped ? ACL_OK : acl_check(c, sv_cstr(spec ? spec : ""));
	finish(s, c, out);
	return rc;
}

acl_result sess_acl_mime(smtp_session *s, acl_ctx *out)
{
	acl_ctx *c = prepare(s, ACL_WHERE_MIME, SV_NULL);
	const char *spec = s->mode == SMTP_MODE_BATCH ? conf_main.acl_not_smtp_mime : conf_main.acl_smtp_mime;
	acl_result rc = receive_mime_acl(s->recv, sv_cstr(spec ? spec : ""), &s->env, c);
	finish(s, c, out);
	return rc;
}

/* "NNN text" at the start of a message: the code is used when its first digit is the class
 * the result calls for; otherwise Exim logs the mistake and substitutes the default code,
 * dropping an extended code ("5.1.1 ") after the wrong one too, whatever its class. The text
 * then carries the code it was sent with (the log line's reason shows it). */
int sess_message_code(smtp_session *s, sv *text, int deflt)
{
	if (text->len >= 4 && isdigit((unsigned char)text->p[0]) && isdigit((unsigned char)text->p[1])
		&& isdigit((unsigned char)text->p[2]) && text->p[3] == ' ') {
		if (text->p[0] == '0' + deflt / 100) {
			int code = (text->p[0] - '0') * 100 + (text->p[1] - '0') * 10 + (text->p[2] - '0');
			*text = sv_sub(*text, 4, text->len - 4);
			return code;
		}
		sess_log(s, LOG_MAIN | LOG_PANIC, "configured error code starts with incorrect digit (expected %d) in \""
			SV_FMT "\"", deflt / 100, SV_ARG(*text));
		*text = sv_sub(*text, 4, text->len - 4);
		if (text->len && isdigit((unsigned char)text->p[0])) {
			size_t esc = sess_esc_len((text->p[0] - '0') * 100, *text);
			*text = sv_sub(*text, esc, text->len - esc);
		}
	}
	return deflt;
}

/* An ACL error is answered with the default text, but a "4NN 4.x.y " at the start of the
 * message the ACL had set still gives the reply its code and extended code (Exim 4.96,
 * observed with a discard refused in the connect ACL). *esc gets "4.x.y " (or nothing). */
static bool error_code(const acl_ctx *c, int *code, xbuf *esc)
{
	sv m = xbuf_sv(&c->user_msg);
	if (m.len < 4 || m.p[0] != '4' || !isdigit((unsigned char)m.p[1]) || !isdigit((unsigned char)m.p[2])
		|| m.p[3] != ' ')
		return false;
	*code = 400 + (m.p[1] - '0') * 10 + (m.p[2] - '0');
	sv rest = sv_sub(m, 4, m.len);
	xbuf_reset(esc);
	xbuf_putsv(esc, sv_sub(rest, 0, sess_esc_len(*code, rest)));
	return true;
}

sess_next sess_acl_reply(smtp_session *s, acl_where where, acl_result rc, acl_ctx *c, const char *what)
{
	if (rc == ACL_OK) return SESS_CONTINUE;
	bool temp = rc == ACL_DEFER || rc == ACL_ERROR;
	/* An error is answered with the default text, whatever message the ACL set (that goes to
	 * the log line). */
	sv user = rc == ACL_ERROR ? SV_NULL : xbuf_sv(&c->user_msg);
	/* An empty text given on purpose (":fail:" alone, verify = recipient) is sent and logged
	 * as it is: "550 " and a reason of nothing after ": " (Exim 4.96, observed). */
	bool empty_given = c->msg_empty_given && rc != ACL_ERROR && !user.len;
	/* VRFY, ETRN and AUTH refusals have their own codes. */
	int code = temp ? 451 : where == ACL_WHERE_VRFY ? 252 : where == ACL_WHERE_ETRN ? 458
		: where == ACL_WHERE_AUTH ? 503 : 550;
	xbuf coded;
	xbuf_init(&coded, s->work);
	if (user.len) {
		int given;
		if (where == ACL_WHERE_VRFY && user.len >= 4 && isdigit((unsigned char)user.p[0])
			&& isdigit((unsigned char)user.p[1]) && isdigit((unsigned char)user.p[2]) && user.p[3] == ' ') {
			/* VRFY takes any code its ACL's message starts with (Exim 4.96 does not check the
			 * first digit there: 252 and 550 are both usual). */
			given = (user.p[0] - '0') * 100 + (user.p[1] - '0') * 10 + (user.p[2] - '0');
			user = sv_sub(user, 4, user.len - 4);
		} else {
			given = sess_message_code(s, &user, code);
		}
		if (given != code || user.len != c->user_msg.len) {
			/* A code was written in the message: the log shows it (corrected if wrong). */
			xbuf_printf(&coded, "%d " SV_FMT, given, SV_ARG(user));
		}
		code = given;
	}
	sv reason = c->log_msg.len || rc == ACL_ERROR || c->log_msg_none ? acl_log_text(c)
		: coded.len ? xbuf_sv(&coded) : user;
	/* Only the first line of a multi-line message goes into the log line. */
	const char *nl = reason.len ? memchr(reason.p, '\n', reason.len) : NULL;
	if (nl) reason.len = (size_t)(nl - reason.p);

	/* The log line. */
	xbuf line;
	xbuf_init(&line, s->work);
	/* Refusals of recipients and messages name an authenticated client's A=driver:id. */
	xbuf auth;
	xbuf_init(&auth, s->work);
	if (s->origin.auth_driver.len) {
		xbuf_printf(&auth, " A=%s", sess_printable(s, s->origin.auth_driver));
		if (s->origin.auth_id.p) xbuf_printf(&auth, ":%s", sess_printable(s, s->origin.auth_id));
	}
	if (where == ACL_WHERE_DATA || where == ACL_WHERE_PRDR || where == ACL_WHERE_MIME) {
		xbuf_printf(&line, "%s F=<" SV_FMT ">%s %srejected %s", sv_dup(s->work, s->host_tag),
			SV_ARG(s->sender), xbuf_cstr(&auth), temp ? "temporarily " : "",
			where == ACL_WHERE_MIME ? "during MIME ACL checks" : "after DATA");
	} else if (where == ACL_WHERE_RCPT) {
		xbuf_printf(&line, "%s F=<" SV_FMT ">%s %srejected %s", sv_dup(s->work, s->host_tag),
			SV_ARG(s->sender), xbuf_cstr(&auth), temp ? "temporarily " : "", what);
	} else if (where == ACL_WHERE_CONNECT) {
		xbuf_printf(&line, "%s %srejected connection in \"connect\" ACL", sv_dup(s->work, s->host_tag),
			temp ? "temporarily " : "");
	} else {
		xbuf_printf(&line, "%s %srejected %s", sv_dup(s->work, s->host_tag), temp ? "temporarily " : "", what);
	}
	if (reason.len || (empty_given && !c->log_msg.len)) xbuf_printf(&line, ": " SV_FMT, SV_ARG(reason));
	/* log_reject_target may name no log at all: then nothing is written. */
	unsigned target = c->log_reject_target;
	if (where == ACL_WHERE_CONNECT && !sess_log_selected(LS_CONNECTION_REJECT)) target = 0;
	bool host_checking = s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC;
	if ((where == ACL_WHERE_DATA || where == ACL_WHERE_PRDR || where == ACL_WHERE_MIME) && s->recv
		&& (target & LOG_REJECT) && !host_checking) {
		/* After DATA the reject log also gets the envelope and the headers. */
		sess_log(s, target & ~(unsigned)LOG_REJECT, "%s", xbuf_cstr(&line));
		xbuf_putc(&line, '\n');
		receive_reject_details(s->recv, &line);
		sess_log(s, LOG_REJECT, "%s", xbuf_cstr(&line));
	} else if (target) {
		sess_log(s, target, "%s", xbuf_cstr(&line));
	}

	/* The reply. An ACL's refusal of a RCPT is remembered for DATA by its text alone, without
	 * code or extended code, nor the sender verify details before it (as Exim does). */
	if (user.len) {
		sv own = user;
		if (c->user_msg_details <= own.len) own = sv_sub(own, c->user_msg_details, own.len);
		sess_note_rcpt_reply(s, sv_sub(own, sess_esc_len(code, own), own.len - sess_esc_len(code, own)));
	}
	else if (empty_given) sess_note_rcpt_reply(s, SV_LIT(""));
	else sess_note_rcpt_reply(s, temp ? SV_LIT("Temporary local problem - please try later")
		: SV_LIT("Administrative prohibition"));
	if (empty_given) {
		sess_reply_text(s, code, SV_LIT(""));
	} else if (user.len) {
		if (coded.len) sess_reply_coded(s, code, user);
		else sess_reply_text(s, code, user);
	} else if (rc == ACL_ERROR && error_code(c, &code, &coded)) {
		/* the default text under the code and extended code the ACL's message gave */
		xbuf_puts(&coded, "Temporary local problem - please try later");
		sess_reply_coded(s, code, xbuf_sv(&coded));
	} else if (temp) {
		sess_reply(s, code, "Temporary local problem - please try later");
	} else {
		sess_reply(s, code, "Administrative prohibition");
	}
	if (rc != ACL_FAIL_DROP) return SESS_CONTINUE;
	s->notquit_reason = "acl-drop";
	if (sess_log_connection(s))
		sess_log(s, LOG_MAIN, "SMTP connection from %s closed by DROP in ACL", sv_dup(s->work, s->host_ident));
	/* The not-QUIT ACL runs now, before the command's own clean-up (Exim 4.96: after a HELO
	 * refused by drop it still sees the HELO name, H=(name) in its log lines; observed). */
	(void)sess_notquit(s, "acl-drop", NULL);
	return SESS_DROP;
}

void sess_accept_reply(smtp_session *s, const acl_ctx *c, int code, const char *deflt)
{
	/* "message =" on an accepting statement replaces the positive reply's text; a leading code
	 * of the same class replaces the code too. */
	sv text = xbuf_sv(&c->user_msg);
	if (!text.len) {
		sess_reply(s, code, "%s", deflt);
		return;
	}
	sess_reply_message(s, code, text);
}

void sess_reply_message(smtp_session *s, int code, sv text)
{
	sv rest = text;
	int given = sess_message_code(s, &rest, code);
	if (rest.len != text.len) sess_reply_coded(s, given, rest);
	else sess_reply_text(s, code, text);
}
