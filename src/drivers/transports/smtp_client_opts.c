/* From an smtp transport instance to the client engine's options for one host: the expanded
 * strings (helo_data, interface, port, authenticated_sender), the timeouts, the host lists
 * (hosts_avoid_esmtp, hosts_avoid_pipelining, hosts_try_chunking, hosts_try_auth,
 * hosts_require_auth) matched against the host's address and name, and the TLS options. */
#include "drivers/transports/smtp_client_opts.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "core/event.h"
#include "conf/conf.h"
#include "conf/main_options.h"
#include "drivers/transports/smtp.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "search/match.h"
#include "search/search.h"
#if SUPPORT_TLS
#include "tls/tls_client_smtp.h"
#endif

static bool expand(const driver_instance *t, xp_env *env, const char *name, const char *value,
	sv *out, xbuf *err)
{
	*out = SV_LIT("");
	if (value == NULL)
		return true;
	xbuf v, e;
	xbuf_init(&v, env->a);
	xbuf_init(&e, env->a);
	int r = xp_expand(env, sv_cstr(value), &v, &e);
	if (r == XP_OK) {
		*out = xbuf_sv(&v);
		return true;
	}
	xbuf_printf(err, "failed to expand %s in %s transport: " SV_FMT, name, t->name, SV_ARG(xbuf_sv(&e)));
	return false;
}

/* An expanded host list against the host: *yes when it matches. */
static bool host_in(const driver_instance *t, xp_env *env, const smtpc_host *h, const char *name,
	const char *list, bool *yes, xbuf *err)
{
	*yes = false;
	sv l;
	if (!expand(t, env, name, list, &l, err))
		return false;
	if (l.len == 0)
		return true;
	char *hn = sv_dup(env->a, h->name);
	match_ctx mc = { .host_name = hn };
	xbuf e;
	xbuf_init(&e, env->a);
	int rc = match_isinlist(h->address, l, 0, MATCH_HOST, false, &mc, &e);
	if (rc == SEARCH_DEFER) {
		xbuf_printf(err, "failed to check %s in %s transport: " SV_FMT, name, t->name, SV_ARG(xbuf_sv(&e)));
		return false;
	}
	*yes = rc == SEARCH_OK;
	return true;
}

bool smtp_host_in_list(const driver_instance *t, xp_env *env, const smtpc_host *h, const char *name,
	const char *list, bool *yes, xbuf *err)
{
	return host_in(t, env, h, name, list, yes, err);
}

/* interface: a list; the first address of the host's family is used, as Exim does. */
static sv pick_interface(sv list, sv host_address, arena *a)
{
	ip_addr want, have;
	if (!ip_parse(host_address, &want))
		return SV_LIT("");
	list_iter it;
	xbuf item;
	xbuf_init(&item, a);
	list_iter_init(&it, list, 0);
	while (list_next(&it, &item))
		if (ip_parse(xbuf_sv(&item), &have) && ip_max_bits(&have) == ip_max_bits(&want))
			return sv_copy(a, xbuf_sv(&item));
	return SV_LIT("");
}

/* An option expanded to a C string; NULL when unset or empty. */
static bool expand_str(const driver_instance *t, xp_env *env, const char *name, const char *value,
	const char **out, xbuf *err)
{
	sv v;
	if (!expand(t, env, name, value, &v, err))
		return false;
	*out = v.len ? sv_dup(env->a, v) : NULL;
	return true;
}

#if SUPPORT_TLS
/* A host DANE refuses (tls_dane_lookup's REFUSE): no connection is made; the addresses fail or
 * defer without a host, as Exim's set_errno_nohost, after the transport's dane:fail event. */
static void dane_refuse(const driver_instance *t, xp_env *env, const smtpc_host *host, const tls_dane *d,
	sv why, smtpc_options *o)
{
	event_vars v = { .transport_name = t->name, .host = host->name, .host_address = host->address,
		.host_port = host->port };
	xbuf ignored;
	xbuf_init(&ignored, env->a);
	event_raise_for(t, "dane:fail", sv_cstr(d->event_data), &v, env, &ignored);
	o->refuse_text = why;
	o->refuse_status = d->permanent ? SMTPC_FAIL : SMTPC_DEFER;
	o->refuse_errno = SMTPC_ERRNO_DNSDEFER;
}

/* hosts_try_dane / hosts_require_dane: with secured TLSA records the session must be DANE
 * verified (no CAs, names or clear-text fallback; SNI is the host's name; the DANE cipher list
 * wins); hosts_request_ocsp left at "*" then asks only when no DANE-EE record is in use. */
static bool dane_options(const driver_instance *t, xp_env *env, const smtpc_host *host, smtp_tls_conf *tc,
	smtpc_options *o, xbuf *err)
{
	const struct smtp_transport_options *ob = t->priv;
	bool try = false, require = false;
	if (!host_in(t, env, host, "hosts_try_dane", ob->hosts_try_dane, &try, err)
		|| !host_in(t, env, host, "hosts_require_dane", ob->hosts_require_dane, &require, err))
		return false;
	if (!try && !require)
		return true;
	sv domain;
	if (!expand(t, env, "$domain", "$domain", &domain, err))
		return false;
	tls_dane dane;
	xbuf why;
	xbuf_init(&why, env->a);
	tls_dane_rc rc = tls_dane_lookup(env->a, host->name, host->address, host->port, domain, require, &dane, &why);
	if (rc == TLS_DANE_NONE)
		return true;
	if (rc == TLS_DANE_REFUSE) {
		dane_refuse(t, env, host, &dane, xbuf_sv(&why), o);
		return true;
	}
	tls_client_params *p = &tc->p;
	p->dane_tlsa = dane.rr;
	p->dane_n = dane.n;
	p->dane_host = sv_dup(env->a, host->name);
	p->verify = TLS_CLIENT_VERIFY_REQUIRE;
	p->verify_names = NULL;
	p->sni = p->dane_host;
	tc->dane_usage = dane.usage_bits;
	tc->require_tls = true;
	tc->tryclear = false;
	const char *ciphers;
	if (!expand_str(t, env, "dane_require_tls_ciphers", ob->dane_require_tls_ciphers, &ciphers, err))
		return false;
	if (ciphers)
		p->require_ciphers = ciphers;
	if (ob->hosts_request_ocsp && strcmp(ob->hosts_request_ocsp, "*") == 0)
		tc->request_ocsp = (dane.usage_bits & ~(1 << 2)) == 0;
	return true;
}
#endif

/* The TLS options (Exim 4.96 names and defaults; docs/tls.md "TLS client"). hosts_avoid_tls
 * leaves TLS out; otherwise the engine gets the TLS hook through smtp_tls_attach. */
static bool tls_options(const driver_instance *t, xp_env *env, const smtpc_host *host, bool smtps,
	smtpc_options *o, xbuf *err)
{
#if SUPPORT_TLS
	const struct smtp_transport_options *ob = t->priv;
	bool avoid = false;
	if (!host_in(t, env, host, "hosts_avoid_tls", ob->hosts_avoid_tls, &avoid, err))
		return false;
	smtp_tls_conf tc = { .on_connect = smtps, .tryclear = ob->tls_tempfail_tryclear,
		.host_name_extract = ob->host_name_extract, .env = env, .transport = t };
	if (!host_in(t, env, host, "hosts_require_tls", ob->hosts_require_tls, &tc.require_tls, err))
		return false;
	if (avoid && !smtps) {
		/* Not even tried; a requirement can then only fail, as in Exim. */
		o->require_tls = tc.require_tls;
		return true;
	}
	bool verify = false, try_verify = false, names = false;
	if (!host_in(t, env, host, "tls_verify_hosts", ob->tls_verify_hosts, &verify, err)
		|| !host_in(t, env, host, "tls_try_verify_hosts", ob->tls_try_verify_hosts, &try_verify, err)
		|| !host_in(t, env, host, "tls_verify_cert_hostnames", ob->tls_verify_cert_hostnames, &names, err)
		|| !host_in(t, env, host, "hosts_request_ocsp", ob->hosts_request_ocsp, &tc.request_ocsp, err)
		|| !host_in(t, env, host, "hosts_require_ocsp", ob->hosts_require_ocsp, &tc.require_ocsp, err)
		|| !host_in(t, env, host, "tls_resumption_hosts", ob->tls_resumption_hosts, &tc.resume, err))
		return false;
	tls_client_params *p = &tc.p;
	p->verify = verify ? TLS_CLIENT_VERIFY_REQUIRE : try_verify ? TLS_CLIENT_VERIFY_TRY : TLS_CLIENT_VERIFY_NONE;
	if (names)
		p->verify_names = sv_dup(env->a, host->name);
	p->openssl_options = conf_main.openssl_options;
	if (!expand_str(t, env, "tls_certificate", ob->tls_certificate, &p->certificate, err)
		|| !expand_str(t, env, "tls_privatekey", ob->tls_privatekey, &p->privatekey, err)
		|| !expand_str(t, env, "tls_verify_certificates", ob->tls_verify_certificates, &p->verify_certificates, err)
		|| !expand_str(t, env, "tls_crl", ob->tls_crl, &p->crl, err)
		|| !expand_str(t, env, "tls_require_ciphers", ob->tls_require_ciphers, &p->require_ciphers, err)
		|| !expand_str(t, env, "tls_sni", ob->tls_sni, &p->sni, err)
		|| !expand_str(t, env, "tls_alpn", ob->tls_alpn, &p->alpn, err)
		|| !host_in(t, env, host, "hosts_require_alpn", ob->hosts_require_alpn, &p->require_alpn, err))
		return false;
	if (!dane_options(t, env, host, &tc, o, err))
		return false;
	smtp_tls_attach(env->a, &tc, o);
#else
	(void)t; (void)env; (void)host; (void)smtps; (void)o; (void)err;
#endif
	return true;
}

bool smtp_transport_verify_avoid_tls(const driver_instance *t, xp_env *env, const smtpc_host *host,
	bool *avoid, xbuf *err)
{
	const struct smtp_transport_options *ob = t->priv;
	*avoid = false;
	return host_in(t, env, host, "hosts_verify_avoid_tls", ob->hosts_verify_avoid_tls, avoid, err);
}

bool smtp_transport_client_options(const driver_instance *t, xp_env *env, smtpc_host *host,
	smtpc_options *o, xbuf *err)
{
	const struct smtp_transport_options *ob = t->priv;
	memset(o, 0, sizeof *o);
	o->env = env;
	o->connect_timeout = ob->connect_timeout;
	o->command_timeout = ob->command_timeout;
	o->data_timeout = ob->data_timeout;
	o->final_timeout = ob->final_timeout;
	o->max_rcpt = ob->max_rcpt;
	o->size_addition = ob->size_addition;
	o->authenticated_sender_force = ob->authenticated_sender_force;
	sv v;
	if (!expand(t, env, "protocol", ob->protocol, &v, err))
		return false;
	o->lmtp = sv_eqi(v, SV_LIT("lmtp"));
	bool smtps = sv_eqi(v, SV_LIT("smtps"));
	if (!expand(t, env, "helo_data", ob->helo_data, &o->helo_name, err))
		return false;
	/* utf8_downconvert: Exim 4.96 looks at the first character(s): 1, 0 or -1; anything else
	 * leaves the message's own setting (ACL control = utf8_downconvert). */
	if (!expand(t, env, "utf8_downconvert", ob->utf8_downconvert, &v, err))
		return false;
	o->utf8_downconvert = sv_starts(v, "1") ? SMTPC_UTF8_ALWAYS : sv_starts(v, "0") ? SMTPC_UTF8_NEVER
		: sv_starts(v, "-1") ? SMTPC_UTF8_IF_NEEDED : SMTPC_UTF8_UNSET;
	if (!expand(t, env, "interface", ob->interface, &v, err))
		return false;
	o->interface = pick_interface(v, host->address, env->a);
	if (!expand(t, env, "authenticated_sender", ob->authenticated_sender, &o->authenticated_sender, err))
		return false;
	if (host->port == 0) {
		if (!expand(t, env, "port", ob->port, &v, err))
			return false;
		long long n;
		/* Unset: the service named after the protocol, as Exim ("lmtp" is missing from many
		 * services files, so Exim and Postern then say the port is not defined). */
		if (v.len == 0)
			v = o->lmtp ? SV_LIT("lmtp") : smtps ? SV_LIT("smtps") : SV_LIT("smtp");
		if (sv_to_long(v, &n) && n > 0 && n < 65536)
			host->port = (int)n;
		else {
			char *name = sv_dup(env->a, v);
			struct servent *se = getservbyname(name, "tcp");
			if (se == NULL) {
				xbuf_printf(err, "TCP port \"%s\" is not defined for %s transport", name, t->name);
				return false;
			}
			host->port = ntohs((uint16_t)se->s_port);
		}
	}
	return host_in(t, env, host, "hosts_avoid_esmtp", ob->hosts_avoid_esmtp, &o->avoid_esmtp, err)
		&& host_in(t, env, host, "hosts_avoid_pipelining", ob->hosts_avoid_pipelining, &o->avoid_pipelining, err)
		&& host_in(t, env, host, "hosts_try_chunking", ob->hosts_try_chunking, &o->try_chunking, err)
		&& host_in(t, env, host, "hosts_try_fastopen", ob->hosts_try_fastopen, &o->try_fastopen, err)
		&& host_in(t, env, host, "hosts_try_prdr", ob->hosts_try_prdr, &o->try_prdr, err)
		&& host_in(t, env, host, "hosts_pipe_connect", ob->hosts_pipe_connect, &o->pipe_connect, err)
		&& host_in(t, env, host, "hosts_try_auth", ob->hosts_try_auth, &o->try_auth, err)
		&& host_in(t, env, host, "hosts_require_auth", ob->hosts_require_auth, &o->require_auth, err)
		&& tls_options(t, env, host, smtps, o, err);
}
