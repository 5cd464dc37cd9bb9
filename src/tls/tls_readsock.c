/* The TLS client for ${readsocket}'s tls=yes (expand/readsock_tls.h), registered by
 * tls_register(). As Exim's smtp transport defaults would have it: the server's certificate is
 * checked against the system CAs but a failure does not stop the exchange (try-verify); SNI is
 * sent when the socket was named by host name. */
#include "tls/tls_readsock.h"

#include <string.h>

#include <openssl/ssl.h>

#include "expand/readsock_tls.h"
#include "tls/tls_client.h"

static bool start(arena *a, int fd, const char *sni, int timeout_ms, bio_layer *layer, void **handle,
	xbuf *err)
{
	tls_client_params p = { .verify = TLS_CLIENT_VERIFY_TRY, .verify_certificates = "system",
		.sni = sni, .timeout_ms = timeout_ms, .peer_tag = "[readsocket]" };
	tls_client_session *s = arena_alloc(a, sizeof *s);
	memset(s, 0, sizeof *s);
	if (!tls_client_start(a, fd, &p, s, err)) return false;
	*layer = s->layer;
	*handle = s;
	return true;
}

static void end(void *handle)
{
	tls_client_session *s = handle;
	if (!s || !s->ssl) return;
	(void)SSL_shutdown(s->ssl);   /* close_notify, not waiting for the server's */
	SSL_free(s->ssl);
	s->ssl = NULL;
}

void tls_readsock_register(void)
{
	xp_readsock_tls_register(start, end);
}
