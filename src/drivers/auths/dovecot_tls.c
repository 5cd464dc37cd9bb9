/* server_tls: the connection to Dovecot in TLS, through the generic TLS client (tls_client.h).
 *
 * The server's certificate is always verified (credentials are about to be sent): against
 * server_tls_verify_certificates ("system" by default), and for the name in server_tls_sni, or
 * else the host of an inet server_socket (an IP address is matched against the certificate's IP
 * addresses). server_tls_certificate / server_tls_privatekey present a client certificate.
 * The options are expanded per use. Postern's extension: Exim documents server_tls but never
 * built it.
 */
#include "drivers/auths/dovecot_tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "build_config.h"
#include "drivers/auths/dovecot.h"
#include "expand/expand.h"

#if SUPPORT_TLS
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "tls/tls_client.h"

#define DOVECOT_TLS_TIMEOUT_MS 10000

static const char *expand_opt(auth_server_ctx *c, const char *name, const char *value, bool *ok)
{
	if (!value) return NULL;
	xbuf out, err;
	xbuf_init(&out, c->a);
	xbuf_init(&err, c->a);
	int rc = xp_expand(c->env, sv_cstr(value), &out, &err);
	if (rc == XP_FORCEFAIL) return NULL;
	if (rc != XP_OK) {
		xbuf_printf(&c->err, "failed to expand %s: %s", name, xbuf_cstr(&err));
		*ok = false;
		return NULL;
	}
	return xbuf_cstr(&out);
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Before the handshake: have OpenSSL check an IP address against the certificate. */
static bool want_ip(void *ctx, struct ssl_st *ssl, xbuf *err)
{
	if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ctx) != 1) {
		xbuf_printf(err, "cannot check the certificate for %s", (const char *)ctx);
		return false;
	}
	return true;
}

bool dovecot_tls_start(const driver_instance *di, auth_server_ctx *c, int fd, bio_layer *layer,
	void **session)
{
	const struct dovecot_auth_options *ob = di->priv;
	bool ok = true;
	tls_client_params p = { .verify = TLS_CLIENT_VERIFY_REQUIRE, .timeout_ms = DOVECOT_TLS_TIMEOUT_MS };
	p.verify_certificates = expand_opt(c, "server_tls_verify_certificates", ob->server_tls_verify_certificates, &ok);
	p.sni = expand_opt(c, "server_tls_sni", ob->server_tls_sni, &ok);
	p.certificate = expand_opt(c, "server_tls_certificate", ob->server_tls_certificate, &ok);
	p.privatekey = expand_opt(c, "server_tls_privatekey", ob->server_tls_privatekey, &ok);
	if (!ok) return false;
	char host[256] = "";
	if (ob->server_socket[0] != '/') (void)sscanf(ob->server_socket, " %255s", host);
	if (p.sni && *p.sni) {
		p.verify_names = p.sni;
	} else if (*host && is_ip(host)) {
		p.prepare = want_ip;
		p.prepare_ctx = arena_strdup(c->a, host);
	} else if (*host) {
		p.verify_names = p.sni = arena_strdup(c->a, host);
	}
	p.peer_tag = arena_printf(c->a, "[%s]", *host ? host : ob->server_socket);
	tls_client_session *s = arena_alloc(c->a, sizeof *s);
	memset(s, 0, sizeof *s);
	xbuf err;
	xbuf_init(&err, c->a);
	if (!tls_client_start(c->a, fd, &p, s, &err)) {
		xbuf_printf(&c->err, "TLS session with dovecot failed: %s", xbuf_cstr(&err));
		return false;
	}
	*layer = s->layer;
	*session = s;
	return true;
}

void dovecot_tls_end(void *session)
{
	tls_client_session *s = session;
	if (!s || !s->ssl) return;
	/* close_notify, not waiting for Dovecot's; done here rather than through tls_client_end so
	 * this file does not depend on that function's exact form */
	(void)SSL_shutdown(s->ssl);
	SSL_free(s->ssl);
	s->ssl = NULL;
}

#else

bool dovecot_tls_start(const driver_instance *di, auth_server_ctx *c, int fd, bio_layer *layer,
	void **session)
{
	(void)di; (void)fd; (void)layer; (void)session;
	xbuf_puts(&c->err, "server_tls: this build has no TLS support");
	return false;
}

void dovecot_tls_end(void *session)
{
	(void)session;
}

#endif
