/* TLS for the smtp transport (src/tls/tls_client_smtp.h): the engine's tls_start hook runs
 * the generic client (tls_client.c) with OCSP and resumption set up on the SSL object before
 * the handshake, puts the session under the engine's buffered I/O, and publishes the facts as
 * $tls_out_* and, per address, for the => line and the delivery process.
 *
 * Failure texts keep Exim's framing: "TLS session: (SSL_connect): <OpenSSL's error>", errno
 * -37 (the engine's SMTPC_ERRNO_TLSFAILURE).
 */
#include "tls/tls_client_smtp.h"

#include <string.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/event.h"
#include "core/tls_out.h"
#include "lib/log.h"
#include "tls/tls_events.h"
#include "tls/tls_ocsp.h"
#include "tls/tls_resume.h"

typedef struct smtp_tls {
	arena *a;
	smtp_tls_conf conf;
	smtpc_conn *c;             /* during the handshake */
	tls_client_session s;
	bool started;
	int ocsp_status;           /* written by the OCSP code until the handshake ends */
	unsigned resumption;
} smtp_tls;

/* The name that identifies the peer in the resumption key: host_name_extract's result (a
 * load balancer's real name from the EHLO reply), else the host's name. */
static sv resume_host_name(smtp_tls *t)
{
	sv name = t->c->host.name;
	if (!t->conf.host_name_extract || !t->conf.env) return name;
	xp_env *env = t->conf.env;
	sv saved = env->item;
	env->item = xbuf_sv(&t->c->helo_response.text);
	xbuf out, err;
	xbuf_init(&out, t->a);
	xbuf_init(&err, t->a);
	int rc = xp_expand(env, sv_cstr(t->conf.host_name_extract), &out, &err);
	env->item = saved;
	if (rc == XP_OK && out.len) return xbuf_sv(&out);
	return name;
}

/* The TLSA records in use, as the resumption key holds them (Exim keys sessions on the DANE
 * answer too): usage, selector, matching type and data of each, in hex. */
static sv dane_key(arena *a, const tls_client_params *p)
{
	xbuf b;
	xbuf_init(&b, a);
	for (size_t i = 0; i < p->dane_n; i++) {
		const tls_tlsa *r = &p->dane_tlsa[i];
		xbuf_printf(&b, "%u %u %u ", r->usage, r->selector, r->mtype);
		for (size_t j = 0; j < r->len; j++) xbuf_printf(&b, "%02x", r->data[j]);
		xbuf_putc(&b, '\n');
	}
	return xbuf_sv(&b);
}

/* Before the handshake: OCSP request/requirement and the session to offer. */
static bool prepare(void *ctx, struct ssl_st *ssl, xbuf *err)
{
	smtp_tls *t = ctx;
	t->ocsp_status = TLS_OCSP_NOT_REQUESTED;
	/* Resumption first: the OCSP code looks at the session being offered. */
	if (t->conf.resume) {
		tls_resume_peer peer = {
			.host_name = resume_host_name(t),
			.address = t->c->host.address,
			.port = t->c->host.port,
			.sending_address = t->c->local_address,
			.openssl_options = sv_cstr(conf_main.openssl_options ? conf_main.openssl_options : ""),
			.require_ciphers = sv_cstr(t->conf.p.require_ciphers ? t->conf.p.require_ciphers : ""),
			.sni = sv_cstr(t->conf.p.sni ? t->conf.p.sni : ""),
			.dane = dane_key(t->a, &t->conf.p),
			.alpn = sv_cstr(t->conf.p.alpn ? t->conf.p.alpn : ""),
		};
		tls_resume_client_setup(ssl, tls_resume_client_key(t->a, &peer));
	}
	if ((t->conf.request_ocsp || t->conf.require_ocsp)
		&& !tls_ocsp_client_setup(ssl, t->conf.require_ocsp, &t->ocsp_status, err))
		return false;
	return true;
}

/* tls:cert: the transport's event_action for each certificate of the server's chain. */
static bool cert_event(void *ctx, struct x509_st *cert, int depth)
{
	smtp_tls *t = ctx;
	const driver_instance *tp = t->conf.transport;
	const char *action = tp ? event_action_for(tp, "tls:cert") : NULL;
	if (!action || !t->c) return false;
	event_vars v = {
		.transport_name = tp->name,
		.host = t->c->host.name,
		.host_address = t->c->host.address,
		.host_port = t->c->host.port,
		.sending_ip = t->c->local_address,
		.sending_port = t->c->local_port,
	};
	return tls_event_cert(action, tp->name, "tls_out_peercert", cert, depth, t->c->host.address, &v, t->conf.env);
}

static bool start(void *ctx, smtpc_conn *c, xbuf *err)
{
	smtp_tls *t = ctx;
	/* Anything the server sent after its 220 to STARTTLS would be read as if it came through
	 * TLS: refuse it (the client side of CVE-2011-0411). */
	if (c->io.in_len > c->io.in_pos) {
		xbuf_puts(err, "TLS session: unexpected data from the server after its reply to STARTTLS");
		return false;
	}
	t->c = c;
	tls_client_params p = t->conf.p;
	p.timeout_ms = c->opt->command_timeout > 0 ? c->opt->command_timeout * 1000 : 0;
	p.peer_tag = arena_printf(t->a, "[" SV_FMT "]", SV_ARG(c->host.address));
	p.prepare = prepare;
	p.cert_check = cert_event;
	p.prepare_ctx = t;
	xbuf why;
	xbuf_init(&why, t->a);
	bool ok = tls_client_start(t->a, c->fd, &p, &t->s, &why);
	t->c = NULL;
	if (!ok) {
		xbuf_printf(err, "TLS session: " SV_FMT, SV_ARG(xbuf_sv(&why)));
		return false;
	}
	t->started = true;
	t->resumption = TLS_RESUME_SUPPORTED;
	if (t->conf.resume) t->resumption = tls_resume_client_result(t->s.ssl);
	bio_set_layer(&c->io, &t->s.layer);
	tls_out_state o = {
		.active = true,
		.cipher = t->s.cipher,
		.ver = t->s.ver,
		.bits = t->s.bits,
		.peerdn = t->s.peerdn,
		.peercert = t->s.peercert,
		.ourcert = t->s.ourcert,
		.sni = sv_cstr(p.sni ? p.sni : ""),
		.certificate_verified = t->s.verified,
		.ocsp = t->ocsp_status,
		.resumption = t->resumption,
		.dane = t->s.dane_verified ? SV_LIT("yes") : SV_LIT("no"),
		.tlsa_usage = t->conf.dane_usage,
	};
	tls_out_set(&o);
	return true;
}

static void close_session(void *ctx, bool final)
{
	smtp_tls *t = ctx;
	if (!t->started) return;
	if (final) tls_client_end(&t->s, false);
	else tls_client_notify(&t->s);
}

void smtp_tls_attach(arena *a, const smtp_tls_conf *conf, smtpc_options *o)
{
	smtp_tls *t = arena_calloc(a, 1, sizeof *t);
	t->a = a;
	t->conf = *conf;
	o->tls_start = start;
	o->tls_ctx = t;
	o->tls_close = close_session;
	o->require_tls = conf->require_tls;
	o->tls_on_connect = conf->on_connect;
	tls_out_clear();
}

void smtp_tls_to_addr(const smtpc_conn *c, address_item *a)
{
	a->tls_used = c->tls_active;
	if (!c->tls_active || c->opt->tls_start != start) return;
	smtp_tls *t = c->opt->tls_ctx;
	/* Under TLS 1.3 the server's ticket arrives after the handshake, with the first reply:
	 * ask again now (and let $tls_out_resumption follow). */
	if (t->conf.resume && t->s.ssl) {
		t->resumption = tls_resume_client_result(t->s.ssl);
		tls_out.resumption = t->resumption;
	}
	a->tls_cipher = t->s.cipher;
	a->tls_ver = t->s.ver;
	a->tls_peerdn = t->s.peerdn;
	a->tls_peercert = t->s.peercert;
	a->tls_certificate_verified = t->s.verified;
	a->tls_dane_verified = t->s.dane_verified;
	a->tls_tlsa_usage = t->conf.dane_usage;
	a->tls_ourcert = t->s.ourcert;
	a->tls_sni = sv_cstr(t->conf.p.sni ? t->conf.p.sni : "");
	a->tls_ocsp = t->ocsp_status;
	a->tls_resumption = t->resumption;
}

bool smtp_tls_tryclear(const smtpc_conn *c, smtpc_options *o)
{
	if (c->status == SMTPC_OK || c->basic_errno != SMTPC_ERRNO_TLSFAILURE || o->tls_start != start)
		return false;
	const smtp_tls *t = o->tls_ctx;
	if (!t->conf.tryclear || t->conf.require_tls || t->conf.on_connect)
		return false;
	log_write(LOG_MAIN, SV_FMT ": delivering unencrypted to H=" SV_FMT " [" SV_FMT "] (not in hosts_require_tls)",
		SV_ARG(xbuf_sv(&c->message)), SV_ARG(c->host.name), SV_ARG(c->host.address));
	o->tls_start = NULL;
	o->tls_ctx = NULL;
	o->tls_close = NULL;
	tls_out_clear();
	return true;
}
