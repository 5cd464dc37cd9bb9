/* OCSP stapling, both sides (owner: the OCSP work; facts §2, docs/tls.md).
 * The TLS server and client call these around their handshakes; everything about responses
 * (loading, choosing, verifying, refreshing) lives behind them. */
#ifndef POSTERN_TLS_TLS_OCSP_H
#define POSTERN_TLS_TLS_OCSP_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "core/message.h"
#include "lib/str.h"

/* $tls_in_ocsp / $tls_out_ocsp, and the spool's -tls_ocsp (facts §2). */
enum {
	TLS_OCSP_NOT_REQUESTED = 0,
	TLS_OCSP_NOT_RESPONDED = 1,   /* requested, nothing stapled */
	TLS_OCSP_VFY_NOT_TRIED = 2,   /* a response, not verified */
	TLS_OCSP_FAILED = 3,          /* verification failed */
	TLS_OCSP_VERIFIED = 4,        /* verified (server: a staple was sent) */
};

/* Server: once per connection context, before any handshake. Arranges for a response from
 * tls_ocsp_file (expanded in o's context, after SNI is known) to be stapled when the client asks,
 * only if it is valid now and is for the certificate being sent; o->tls_ocsp gets the value of
 * $tls_in_ocsp. false with err set fails the TLS start. */
bool tls_ocsp_server_setup(SSL_CTX *ctx, msg_origin *o, xbuf *err);

/* Client: before the handshake on ssl, when hosts_request_ocsp (or hosts_require_ocsp) matched.
 * Asks for a staple and checks it during the handshake: signature, responder authority, time,
 * and that it is for the server's certificate. With require, a missing, unverifiable or bad
 * staple fails the handshake; a revoked certificate fails it always. *status must stay valid
 * until the handshake ends and receives the $tls_out_ocsp value. Failures are logged as Exim
 * logs them. false with err set: setup failed (no handshake is attempted). */
bool tls_ocsp_client_setup(SSL *ssl, bool require, int *status, xbuf *err);

#endif
