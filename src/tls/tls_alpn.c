/* ALPN for SMTP (src/tls/tls_alpn.h). The server side guards an SMTP port against web clients
 * (which offer "http/1.1", "h2"...) that were pointed at it, as Exim 4.96 does: a client that
 * offers ALPN must offer exactly one name, and one the server accepts. A client that offers
 * none is not affected. */
#include "tls/tls_alpn.h"

#include <string.h>

#include <openssl/ssl.h>

#include "lib/list.h"
#include "lib/log.h"

bool tls_alpn_wire(const char *list, xbuf *out)
{
	list_iter it;
	list_iter_init(&it, sv_cstr(list), 0);
	xbuf name;
	xbuf_init(&name, NULL);
	bool ok = true;
	while (ok && list_next(&it, &name)) {
		ok = name.len > 0 && name.len <= 255;
		if (ok) {
			xbuf_putc(out, (char)name.len);
			xbuf_put(out, name.p, name.len);
		}
	}
	xbuf_free(&name);
	return ok;
}

static bool allowed_name(const char *allowed, const unsigned char *p, size_t n)
{
	list_iter it;
	list_iter_init(&it, sv_cstr(allowed), 0);
	xbuf name;
	xbuf_init(&name, NULL);
	bool found = false;
	while (!found && list_next(&it, &name))
		found = name.len == n && memcmp(name.p, p, n) == 0;
	xbuf_free(&name);
	return found;
}

bool tls_alpn_choose(const char *allowed, const unsigned char *offer, size_t len,
	const unsigned char **sel, unsigned char *sel_len)
{
	if (len < 2) return false;
	size_t n = offer[0];
	if (n == 0 || 1 + n != len) return false;   /* more than one name, or malformed */
	if (!allowed_name(allowed, offer + 1, n)) return false;
	*sel = offer + 1;
	*sel_len = (unsigned char)n;
	return true;
}

static const char *(*server_expand)(void);

static int select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
	unsigned int inlen, void *arg)
{
	(void)ssl; (void)arg;
	const char *allowed = server_expand ? server_expand() : NULL;
	if (allowed && !*allowed) return SSL_TLSEXT_ERR_NOACK;   /* tls_alpn empty: no check */
	if (allowed && tls_alpn_choose(allowed, in, inlen, out, outlen)) return SSL_TLSEXT_ERR_OK;
	/* Exim's line, before the handshake's own failure line. */
	if (allowed) log_write(LOG_MAIN, "TLS ALPN (%s) rejected", allowed);
	return SSL_TLSEXT_ERR_ALERT_FATAL;   /* no_application_protocol */
}

void tls_alpn_server_setup(SSL_CTX *ctx, const char *(*expand)(void))
{
	server_expand = expand;
	SSL_CTX_set_alpn_select_cb(ctx, select_cb, NULL);
}
