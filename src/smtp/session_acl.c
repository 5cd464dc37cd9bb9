/* Running the SMTP ACLs and turning their results into Exim's replies and log lines:
 *   550 Administrative prohibition                    (deny, no message)
 *   451 Temporary local problem - please try later    (defer, no message)
 * A "message =" that starts with a code of the right class ("551 5.7.1 text") supplies the code.
 * The log line is "H=<host> [F=<sender> ][temporarily ]rejected <what>[: <reason>]", the reason
 * being log_message, else the user message.
 */
#include <ctype.h>
#include <string.h>

#include "conf/main_options.h"
#include "core/receive.h"
#include "lib/log.h"
#include "smtp/session_int.h"

/* The body for regex/mime_regex conditions: the message being received, if any. Address
 * verification needs routing (the delivery issue), so that callback stays unset. */
static bool body_view(void *ctx, sv *body)
{
	smtp_session *s = ctx;
	return s->recv && receive_body(s->recv, body);
}

static const acl_ops session_acl_ops = { .verify_address = NULL, .body = body_view };

void sess_acl_reset(smtp_session *s)
{
	acl_ctx_init(&s->acl, s->conn, ACL_WHERE_UNKNOWN, &s->env);
}

acl_result sess_acl(smtp_session *s, acl_where where, const char *spec, sv recipient, acl_ctx *c)
{
	/* One context carries the engine's per-transaction state (a MAIL "discard" makes every
	 * RCPT discarded, warn lines are not repeated...) from one ACL to the next: each run
	 * starts from it and leaves its state back in it. */
	*c = s->acl;
	c->where = where;
	xbuf_init(&c->user_msg, s->conn);
	xbuf_init(&c->log_msg, s->conn);
	c->add_headers = NULL;
	c->remove_headers = SV_NULL;
	c->delay_seconds = 0;
	c->msg = s->msg;
	c->origin = &s->origin;
	c->recipient = recipient;
	s->cur_rcpt = recipient;
	c->authenticated = s->authenticated;
	c->helo_verified = s->helo_verified;
	c->helo_verify_failed = s->helo_verify_failed;
	c->smtp_session = true;
	c->host_checking = s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC;
	c->controls = s->controls;
	c->ops = &session_acl_ops;
	c->ops_ctx = s;
	acl_result rc = acl_check(c, sv_cstr(spec ? spec : ""));
	s->acl = *c;
	/* Controls that outlive the statement (no_pipelining, enforce_sync...) apply to the
	 * connection from now on. */
	s->controls = c->controls;
	if (c->controls.no_enforce_sync) s->enforce_sync = false;
	if (c->controls.enforce_sync_set) s->enforce_sync = c->controls.enforce_sync && s->mode == SMTP_MODE_DAEMON;
	return rc;
}

/* "NNN text" at the start of a message: the code is used when its first digit is the class
 * the result calls for; otherwise Exim logs the mistake and substitutes the default code. The
 * text then carries the code it was sent with (the log line's reason shows it). */
static int code_from_message(smtp_session *s, sv *text, int deflt)
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
	}
	return deflt;
}

sess_next sess_acl_reply(smtp_session *s, acl_where where, acl_result rc, acl_ctx *c, const char *what)
{
	if (rc == ACL_OK) return SESS_CONTINUE;
	bool temp = rc == ACL_DEFER || rc == ACL_ERROR;
	sv user = xbuf_sv(&c->user_msg);
	/* VRFY and ETRN refusals have their own codes. */
	int code = temp ? 451 : where == ACL_WHERE_VRFY ? 252 : where == ACL_WHERE_ETRN ? 458 : 550;
	xbuf coded;
	xbuf_init(&coded, s->conn);
	if (user.len) {
		int given = code_from_message(s, &user, code);
		if (given != code || user.len != c->user_msg.len) {
			/* A code was written in the message: the log shows it (corrected if wrong). */
			xbuf_printf(&coded, "%d " SV_FMT, given, SV_ARG(user));
		}
		code = given;
	}
	sv reason = c->log_msg.len ? xbuf_sv(&c->log_msg) : coded.len ? xbuf_sv(&coded) : user;

	/* The log line. */
	xbuf line;
	xbuf_init(&line, s->conn);
	if (where == ACL_WHERE_DATA || where == ACL_WHERE_PRDR) {
		xbuf_printf(&line, "H=%s F=<" SV_FMT "> %srejected after DATA", sv_dup(s->conn, s->host_ident),
			SV_ARG(s->sender), temp ? "temporarily " : "");
	} else if (where == ACL_WHERE_RCPT) {
		xbuf_printf(&line, "H=%s F=<" SV_FMT "> %srejected %s", sv_dup(s->conn, s->host_ident),
			SV_ARG(s->sender), temp ? "temporarily " : "", what);
	} else if (where == ACL_WHERE_CONNECT) {
		xbuf_printf(&line, "H=%s %srejected connection in \"connect\" ACL", sv_dup(s->conn, s->host_ident),
			temp ? "temporarily " : "");
	} else {
		xbuf_printf(&line, "H=%s %srejected %s", sv_dup(s->conn, s->host_ident), temp ? "temporarily " : "", what);
	}
	if (reason.len) xbuf_printf(&line, ": " SV_FMT, SV_ARG(reason));
	sess_log(s, LOG_MAIN | LOG_REJECT, "%s", xbuf_cstr(&line));

	/* The reply. */
	if (user.len) {
		sess_reply_text(s, code, user);
	} else if (temp) {
		sess_reply(s, code, "Temporary local problem - please try later");
	} else {
		sess_reply(s, code, "Administrative prohibition");
	}
	if (rc != ACL_FAIL_DROP) return SESS_CONTINUE;
	const log_config *lc = log_current_config();
	if (lc && logsel_has(&lc->selector, LS_SMTP_CONNECTION))
		sess_log(s, LOG_MAIN, "SMTP connection from %s closed by DROP in ACL", sv_dup(s->conn, s->host_ident));
	return SESS_DROP;
}
