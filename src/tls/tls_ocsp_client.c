/* OCSP stapling, client side: hosts_request_ocsp / hosts_require_ocsp of the smtp transport.
 *
 * The client asks for a staple; OpenSSL hands it to the status callback once the server's
 * certificate is in (TLS 1.2: after ServerHelloDone; TLS 1.3: at the server's Finished), and
 * returning 0 there fails the handshake. The callback is per SSL_CTX in OpenSSL, so the per-
 * connection state (require, where the status goes) travels in the SSL's ex_data.
 *
 * Resumed sessions carry no certificate and no staple. A session whose full handshake verified
 * a staple is marked (in the session's ticket_appdata, which OpenSSL copies into the sessions
 * made from later tickets and keeps when the session is serialised for the `tls` hints db), so
 * a resumption of it satisfies hosts_require_ocsp; with require, an unmarked stored session is
 * not offered at all and a full handshake checks the staple afresh.
 */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "lib/logsel.h"
#include "tls/tls_ocsp.h"
#include "tls/tls_ocsp_int.h"

typedef struct client_state {
	bool require;
	int *status;
} client_state;

static int ex_index = -1;

static void free_state(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	OPENSSL_free(ptr);
}

/* The session mark: "the full handshake that made this session verified a staple". */
static const char session_mark[] = "postern-ocsp-verified";

static bool session_marked(const SSL_SESSION *s)
{
	void *data = NULL;
	size_t len = 0;
	if (!s || SSL_SESSION_get0_ticket_appdata((SSL_SESSION *)s, &data, &len) != 1) return false;
	return len == sizeof session_mark - 1 && memcmp(data, session_mark, len) == 0;
}

static void mark_session(SSL *ssl, bool verified)
{
	SSL_SESSION *s = SSL_get_session(ssl);
	if (!s) return;
	if (verified) SSL_SESSION_set1_ticket_appdata(s, session_mark, sizeof session_mark - 1);
	else if (session_marked(s)) SSL_SESSION_set1_ticket_appdata(s, NULL, 0);
}

static bool log_tls_cipher(void)
{
	const log_config *lc = log_current_config();
	return lc && logsel_has(&lc->selector, LS_TLS_CIPHER);
}

static void log_verdict(const tls_ocsp_verdict *v)
{
	if (v->message[0] && (v->log_always || log_tls_cipher())) log_write(LOG_MAIN, "%s", v->message);
}

static int status_callback(SSL *ssl, void *arg)
{
	(void)arg;
	client_state *st = ex_index >= 0 ? SSL_get_ex_data(ssl, ex_index) : NULL;
	if (!st) return 1;   /* this connection did not ask */
	if (SSL_session_reused(ssl)) {
		/* No certificate was sent, so no staple either: a resumption stands on the full
		 * handshake that made the session. */
		*st->status = TLS_OCSP_NOT_RESPONDED;
		if (!st->require || session_marked(SSL_get_session(ssl))) return 1;
		if (log_tls_cipher()) log_write(LOG_MAIN, "Required TLS certificate status not received");
		return 0;
	}
	const unsigned char *resp = NULL;
	long len = SSL_get_tlsext_status_ocsp_resp(ssl, &resp);
	if (!resp || len <= 0) {
		*st->status = TLS_OCSP_NOT_RESPONDED;
		mark_session(ssl, false);
		if (!st->require) return 1;
		if (log_tls_cipher()) log_write(LOG_MAIN, "Required TLS certificate status not received");
		return 0;
	}
	tls_ocsp_verdict v;
	tls_ocsp_check_staple(resp, (size_t)len, SSL_get0_peer_certificate(ssl), SSL_get_peer_cert_chain(ssl),
		SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), time(NULL), &v);
	*st->status = v.status;
	mark_session(ssl, v.status == TLS_OCSP_VERIFIED);
	log_verdict(&v);
	if (v.status == TLS_OCSP_VERIFIED) return 1;
	return v.revoked || st->require ? 0 : 1;
}

bool tls_ocsp_client_setup(SSL *ssl, bool require, int *status, xbuf *err)
{
	*status = TLS_OCSP_NOT_REQUESTED;
	if (ex_index < 0) {
		ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_state);
		if (ex_index < 0) {
			xbuf_puts(err, "OCSP: cannot allocate SSL ex_data index");
			return false;
		}
	}
	client_state *st = OPENSSL_zalloc(sizeof *st);
	if (!st || SSL_set_ex_data(ssl, ex_index, st) != 1) {
		OPENSSL_free(st);
		xbuf_puts(err, "OCSP: out of memory");
		return false;
	}
	st->require = require;
	st->status = status;
	if (require && SSL_get_session(ssl) && !session_marked(SSL_get_session(ssl))) {
		/* A stored session not known to rest on a verified staple cannot satisfy require:
		 * do the full handshake instead of failing on the resumption. */
		SSL_set_session(ssl, NULL);
	}
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	if (SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp) != 1
		|| SSL_CTX_set_tlsext_status_cb(ctx, status_callback) != 1) {
		ERR_clear_error();
		xbuf_puts(err, "OCSP: cannot request certificate status");
		return false;
	}
	*status = TLS_OCSP_NOT_RESPONDED;
	return true;
}
