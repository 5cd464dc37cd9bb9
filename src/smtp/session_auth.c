/* AUTH (RFC 4954) on the server side: the mechanism's authenticator runs through
 * src/core/auth.h, talking to the client with 334 challenges through the session's I/O. */
#include <string.h>

#include "conf/main_options.h"
#include "core/auth.h"
#include "lib/log.h"
#include "smtp/session_int.h"

/* Send "334 <challenge>" and read the client's answer line. */
static auth_rc challenge(void *ctx, sv b64, xbuf *resp)
{
	smtp_session *s = ctx;
	bio_printf(&s->io, "334 " SV_FMT "\r\n", SV_ARG(b64));
	if (!sess_flush(s)) return AUTH_EOF;
	bio_rc rc = bio_read_line(&s->io, resp, SMTP_CMD_MAX, s->receive_timeout_ms);
	if (rc == BIO_TOOLONG) { xbuf_reset(resp); return AUTH_CANCELLED; }
	if (rc != BIO_OK) return AUTH_EOF;
	resp->taint = 1;
	if (resp->len == 1 && resp->p[0] == '*') return AUTH_CANCELLED;
	return AUTH_OK;
}

static void auth_failed_log(smtp_session *s, const driver_instance *d, const char *reply,
	const auth_server_ctx *c)
{
	xbuf extra;
	xbuf_init(&extra, s->conn);
	if (c->set_id.len) xbuf_printf(&extra, " (set_id=" SV_FMT ")", SV_ARG(c->set_id));
	else if (c->err.len) xbuf_printf(&extra, " (%s)", xbuf_cstr(&c->err));
	sess_log(s, LOG_MAIN | LOG_REJECT, "%s authenticator failed for %s: %s%s", d->name,
		sv_dup(s->conn, s->host_ident), reply, xbuf_cstr(&extra));
}

sess_next sess_auth(smtp_session *s)
{
	if (!s->adv_auth && !s->controls.allow_auth_unadvertised)
		return sess_syntax_error(s, 503, "AUTH command used when not advertised",
			"AUTH command used when not advertised");
	if (s->authenticated) return sess_syntax_error(s, 503, "already authenticated", "already authenticated");
	if (s->mail_given)
		return sess_syntax_error(s, 503, "not permitted in mail transaction", "not permitted in mail transaction");

	if (conf_main.acl_smtp_auth) {
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_AUTH, conf_main.acl_smtp_auth, SV_NULL, &c);
		if (rc != ACL_OK) {
			xbuf what;
			xbuf_init(&what, s->conn);
			xbuf_printf(&what, "AUTH " SV_FMT, SV_ARG(s->cmd_arg));
			return sess_acl_reply(s, ACL_WHERE_AUTH, rc, &c, xbuf_cstr(&what));
		}
	}

	/* "MECH [initial-response]"; "=" is an empty initial response. */
	sv arg = s->cmd_arg, mech = arg, initial = SV_NULL;
	bool has_initial = false;
	for (size_t i = 0; i < arg.len; i++) {
		if (arg.p[i] == ' ' || arg.p[i] == '\t') {
			mech = sv_sub(arg, 0, i);
			initial = sv_sub(arg, i + 1, arg.len);
			while (initial.len && (initial.p[0] == ' ' || initial.p[0] == '\t')) initial = sv_sub(initial, 1, initial.len);
			has_initial = initial.len > 0;
			if (sv_eq_cstr(initial, "=")) initial = sv_sub(initial, 1, 0);
			break;
		}
	}
	const driver_instance *d = mech.len ? auth_find_server(mech) : NULL;
	if (!d) {
		xbuf t;
		xbuf_init(&t, s->conn);
		xbuf_printf(&t, SV_FMT " authentication mechanism not supported", SV_ARG(mech));
		return sess_syntax_error(s, 504, xbuf_cstr(&t), xbuf_cstr(&t));
	}

	auth_io io = { .challenge = challenge, .ctx = s };
	auth_server_ctx c;
	auth_server_ctx_init(&c, s->conn, &s->env, &io);
	c.remote_ip = s->origin.host_address;
	c.remote_port = s->origin.host_port;
	c.local_ip = s->origin.interface_address;
	c.local_port = s->origin.interface_port;
	c.tls_active = s->origin.tls_cipher.len > 0;
	c.tls_cert_verified = s->origin.tls_certificate_verified;
	auth_rc rc = auth_server_run(d, &c, has_initial, sv_tainted(initial));
	switch (rc) {
	case AUTH_OK:
		s->authenticated = true;
		s->origin.auth_driver = sv_cstr(d->name);
		s->origin.auth_pubname = sv_copy(s->conn, mech);
		s->origin.auth_id = c.set_id;
		if (s->esmtp) {
			/* $received_protocol gains the "a": esmtpa / esmtpsa */
			xbuf p;
			xbuf_init(&p, s->conn);
			xbuf_putsv(&p, s->origin.protocol);
			if (!s->p->protocol.len) xbuf_putc(&p, 'a');
			s->origin.protocol = xbuf_sv(&p);
		}
		sess_reply(s, 235, "Authentication succeeded");
		return SESS_CONTINUE;
	case AUTH_FAIL:
		auth_failed_log(s, d, "535 Incorrect authentication data", &c);
		sess_reply(s, 535, "Incorrect authentication data");
		return SESS_CONTINUE;
	case AUTH_CANCELLED:
		auth_failed_log(s, d, "501 Authentication cancelled", &c);
		sess_reply(s, 501, "Authentication cancelled");
		return SESS_CONTINUE;
	case AUTH_BAD64:
		auth_failed_log(s, d, "501 Invalid base64 data", &c);
		sess_reply(s, 501, "Invalid base64 data");
		return SESS_CONTINUE;
	case AUTH_EOF:
		return SESS_DROP;
	case AUTH_DEFER:
	case AUTH_ERROR:
	default:
		auth_failed_log(s, d, "435 Unable to authenticate at present", &c);
		sess_reply(s, 435, "Unable to authenticate at present");
		return SESS_CONTINUE;
	}
}
