/* MAIL/RCPT probes for callout verification over an smtpc connection (client_probe.h). The
 * commands are sent one at a time, without SIZE or other ESMTP parameters, as Exim's callouts
 * are (observed: "MAIL FROM:<>" although the server offered SIZE). */
#include "smtp/client_probe.h"

#include "smtp/client_int.h"

static void decided(smtpc_conn *c, smtpc_probe_result *r, smtpc_probe_rc rc, sv cmd)
{
	r->rc = rc;
	r->code = c->reply.code;
	xbuf_reset(&r->sent);
	xbuf_putsv(&r->sent, cmd);
	xbuf_reset(&r->response);
	xbuf_putsv(&r->response, xbuf_sv(&c->reply.text));
	xbuf_reset(&r->message);
	smtpc_error_text(c, cmd, &r->message);
}

static void host_failed(smtpc_conn *c, smtpc_probe_result *r, sv cmd)
{
	r->rc = SMTPC_PROBE_HOSTFAIL;
	r->code = 0;
	xbuf_reset(&r->sent);
	xbuf_putsv(&r->sent, cmd);
	xbuf_reset(&r->message);
	xbuf_putsv(&r->message, xbuf_sv(&c->message));
}

/* Send cmd and read its reply: false after a host-level failure (recorded in r). */
static bool exchange(smtpc_conn *c, sv cmd, smtpc_probe_result *r)
{
	if (!smtpc_write_cmd(c, cmd, true) || !smtpc_get_reply(c, cmd, false)) {
		host_failed(c, r, cmd);
		return false;
	}
	return true;
}

void smtpc_probe(smtpc_conn *c, bool rset, sv from, sv to, smtpc_probe_result *r)
{
	xbuf_init(&r->sent, c->a);
	xbuf_init(&r->response, c->a);
	xbuf_init(&r->message, c->a);
	r->at_mail = false;
	r->code = 0;
	if (rset) {
		if (!exchange(c, SV_LIT("RSET"), r))
			return;
		if (c->reply.code / 100 != 2) {
			decided(c, r, SMTPC_PROBE_TEMPFAIL, SV_LIT("RSET"));
			r->rc = SMTPC_PROBE_HOSTFAIL;
			smtpc_host_fail(c, SMTPC_DEFER, 0, c->reply.code, xbuf_sv(&r->message));
			return;
		}
	}
	xbuf cmd;
	xbuf_init(&cmd, c->a);
	xbuf_printf(&cmd, "MAIL FROM:<" SV_FMT ">", SV_ARG(from));
	if (!exchange(c, xbuf_sv(&cmd), r))
		return;
	if (c->reply.code / 100 != 2) {
		r->at_mail = true;
		decided(c, r, c->reply.code / 100 == 5 ? SMTPC_PROBE_REJECTED : SMTPC_PROBE_TEMPFAIL, xbuf_sv(&cmd));
		return;
	}
	xbuf_reset(&cmd);
	xbuf_printf(&cmd, "RCPT TO:<" SV_FMT ">", SV_ARG(to));
	if (!exchange(c, xbuf_sv(&cmd), r))
		return;
	int k = c->reply.code / 100;
	decided(c, r, k == 2 ? SMTPC_PROBE_ACCEPTED : k == 5 ? SMTPC_PROBE_REJECTED : SMTPC_PROBE_TEMPFAIL,
		xbuf_sv(&cmd));
}
