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

/* Is mech one of the space-separated names in list (case-insensitively)? */
static bool offered(sv list, sv mech)
{
	size_t i = 0;
	while (i < list.len) {
		while (i < list.len && list.p[i] == ' ') i++;
		size_t b = i;
		while (i < list.len && list.p[i] != ' ') i++;
		if (i > b && sv_eqi(sv_sub(list, b, i - b), mech)) return true;
	}
	return false;
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
			xbuf_init(&what, s->work);
			/* The log names the mechanism only, never the initial response. */
			sv a = s->cmd_arg;
			while (a.len && (a.p[0] == ' ' || a.p[0] == '\t')) a = sv_sub(a, 1, a.len - 1);
			size_t m = 0;
			while (m < a.len && a.p[m] != ' ' && a.p[m] != '\t') m++;
			xbuf_printf(&what, "AUTH %.*s", (int)m, a.p);
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
	if (d && !s->controls.allow_auth_unadvertised && !offered(s->auth_offered, mech))
		d = NULL;   /* a mechanism EHLO did not offer is "not supported" (Exim 4.96, observed) */
	if (!d) {
		xbuf t;
		xbuf_init(&t, s->work);
		xbuf_printf(&t, SV_FMT " authentication mechanism not supported", SV_ARG(mech));
		return sess_protocol_error(s, 504, xbuf_cstr(&t), xbuf_cstr(&t));   /* a protocol error in Exim's log */
	}

	auth_io io = { .challenge = challenge, .ctx = s };
	auth_server_ctx c;
	auth_server_ctx_init(&c, s->conn, &s->env, &io);   /* $authenticated_id lasts */
	c.remote_ip = s->origin.host_address;
	c.remote_port = s->origin.host_port;
	c.local_ip = s->origin.interface_address;
	c.local_port = s->origin.interface_port;
	c.tls_active = s->origin.tls_cipher.len > 0;
	c.tls_cert_verified = s->origin.tls_certificate_verified;
	auth_rc rc = auth_server_run(d, &c, has_initial, sv_tainted(initial));
	if (rc == AUTH_EOF) return SESS_DROP;
	xbuf reply, detail;
	xbuf_init(&reply, s->work);
	xbuf_init(&detail, s->work);
	auth_result_text(&c, rc, &reply, &detail);
	if (rc == AUTH_OK) {
		s->authenticated = true;
		s->origin.auth_driver = sv_cstr(d->name);
		s->origin.auth_pubname = sv_copy(s->conn, mech);
		s->origin.auth_id = c.set_id;
		if (s->esmtp && !s->p->protocol.len) {
			/* $received_protocol gains the "a": esmtpa / esmtpsa */
			xbuf p;
			xbuf_init(&p, s->conn);
			xbuf_putsv(&p, s->origin.protocol);
			xbuf_putc(&p, 'a');
			s->origin.protocol = xbuf_sv(&p);
		}
	} else if (detail.len) {
		sess_log(s, LOG_MAIN | LOG_REJECT, "%s authenticator failed for %s: %s", d->name,
			sv_dup(s->work, s->host_ident), xbuf_cstr(&detail));
	}
	/* reply is "NNN text" */
	sv r = xbuf_sv(&reply);
	int code = r.len >= 3 ? (r.p[0] - '0') * 100 + (r.p[1] - '0') * 10 + (r.p[2] - '0') : 435;
	sess_reply_text(s, code, sv_sub(r, r.len > 4 ? 4 : r.len, r.len));
	return SESS_CONTINUE;
}
