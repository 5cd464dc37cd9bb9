/* The SMTP side of callout verification (src/core/callout.h seam): the hosts and the
 * connection options come from the smtp transport the address was routed to, as Exim 4.96
 * takes them ("Callout verification": the transport's port, interface, helo_data, protocol;
 * its hosts when the router gave none or hosts_override is set). The callout's own timeouts
 * replace the transport's; its TLS options (STARTTLS, hosts_avoid_tls, hosts_require_tls,
 * tls_tempfail_tryclear) apply, and hosts_verify_avoid_tls keeps STARTTLS out of callouts. Without an smtp transport, port 25 and $smtp_active_hostname, in clear. */
#include <string.h>

#include "core/callout.h"
#include "drivers/transports/smtp.h"
#include "drivers/transports/smtp_client_opts.h"
#include "drivers/transports/smtp_deliver.h"
#include "smtp/client_probe.h"
#if SUPPORT_TLS
#include "tls/tls_client_smtp.h"
#endif

struct callout_link {
	arena *a;
	smtpc_options opt;
	smtpc_conn *c;
	sv address;                   /* "[ip]:port" */
};

static const driver_instance *smtp_transport_of(const address_item *routed)
{
	if (!routed || !routed->transport)
		return NULL;
	const driver_instance *t = tp_find(routed->transport);
	return t && t->info == &smtp_transport_info ? t : NULL;
}

route_host *callout_link_hosts(arena *a, xp_env *env, const address_item *routed)
{
	const driver_instance *t = smtp_transport_of(routed);
	if (!t) {
		/* A router that sets hosts without a transport (verify_only) still gives hosts. */
		return routed && routed->transport == NULL ? routed->hosts : NULL;
	}
	tp_ctx c = { .a = a, .env = env };
	route_host *out = NULL;
	xbuf lookup_err, err;
	xbuf_init(&lookup_err, a);
	xbuf_init(&err, a);
	if (!smtp_hosts_for_batch(t, &c, routed, &out, &lookup_err, &err))
		return NULL;
	return out;
}

static void step_from_conn(callout_step *st, smtpc_conn *c)
{
	memset(st, 0, sizeof *st);
	st->rc = c->status == SMTPC_FAIL ? CALLOUT_REJECT : CALLOUT_HOSTFAIL;
	st->at_connect = true;
	st->code = c->code;
	st->message = xbuf_sv(&c->message);
	st->response = c->code ? xbuf_sv(&c->reply.text) : SV_LIT("");
}

callout_link *callout_link_open(arena *a, xp_env *env, const address_item *routed, const route_host *h,
	int timeout, int connect_timeout, callout_step *step)
{
	memset(step, 0, sizeof *step);
	callout_link *l = arena_calloc(a, 1, sizeof *l);
	l->a = a;
	smtpc_host host = { .name = h->name.len ? h->name : h->address, .address = h->address,
		.port = h->port > 0 ? h->port : 0 };
	const driver_instance *t = smtp_transport_of(routed);
	xbuf err;
	xbuf_init(&err, a);
	if (t) {
		bool avoid_tls = false;
		if (!smtp_transport_client_options(t, env, &host, &l->opt, &err)
			|| !smtp_transport_verify_avoid_tls(t, env, &host, &avoid_tls, &err)) {
			step->rc = CALLOUT_HOSTFAIL;
			step->message = xbuf_sv(&err);
			return NULL;
		}
		/* hosts_verify_avoid_tls: no STARTTLS (protocol = smtps still is TLS); with
		 * hosts_require_tls the callout then fails, as in Exim. */
		if (avoid_tls && !l->opt.tls_on_connect)
			l->opt.tls_start = NULL;
	} else {
		memset(&l->opt, 0, sizeof l->opt);
		l->opt.env = env;
		xbuf helo;
		xbuf_init(&helo, a);
		if (xp_expand(env, SV_LIT("$smtp_active_hostname"), &helo, &err) == XP_OK)
			l->opt.helo_name = xbuf_sv(&helo);
		if (host.port == 0)
			host.port = 25;
		l->opt.try_chunking = true;
	}
	l->opt.connect_timeout = connect_timeout;
	l->opt.command_timeout = timeout;
	l->opt.data_timeout = timeout;
	l->opt.final_timeout = timeout;
	l->opt.authenticated_sender = SV_LIT("");
	l->opt.event = NULL;
	xbuf ad;
	xbuf_init(&ad, a);
	xbuf_printf(&ad, "[" SV_FMT "]:%d", SV_ARG(host.address), host.port);
	l->address = xbuf_sv(&ad);
	l->c = smtpc_connect(a, &l->opt, &host);
#if SUPPORT_TLS
	/* STARTTLS comes with the transport's options; tls_tempfail_tryclear applies as in delivery. */
	if (smtp_tls_tryclear(l->c, &l->opt))
		l->c = smtpc_connect(a, &l->opt, &host);
#endif
	if (l->c->status != SMTPC_OK) {
		step_from_conn(step, l->c);
		return NULL;
	}
	return l;
}

void callout_link_probe(callout_link *l, bool rset, sv from, sv to, callout_step *step)
{
	smtpc_probe_result r;
	smtpc_probe(l->c, rset, from, to, &r);
	memset(step, 0, sizeof *step);
	step->rc = r.rc == SMTPC_PROBE_ACCEPTED ? CALLOUT_ACCEPT : r.rc == SMTPC_PROBE_REJECTED ? CALLOUT_REJECT
		: r.rc == SMTPC_PROBE_TEMPFAIL ? CALLOUT_TEMP : CALLOUT_HOSTFAIL;
	step->at_mail = r.at_mail;
	step->code = r.code;
	step->sent = xbuf_sv(&r.sent);
	step->response = xbuf_sv(&r.response);
	step->message = xbuf_sv(&r.message);
}

sv callout_link_address(const callout_link *l)
{
	return l->address;
}

void callout_link_close(callout_link *l)
{
	if (l && l->c)
		smtpc_close(l->c);
}
