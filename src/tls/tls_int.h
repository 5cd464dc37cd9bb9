/* Shared between the files of the TLS server. */
#ifndef POSTERN_TLS_TLS_INT_H
#define POSTERN_TLS_TLS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/message.h"
#include "lib/arena.h"
#include "lib/bio.h"
#include "lib/clock.h"
#include "lib/str.h"

/* err gets "what: <OpenSSL's first queued error>"; the error queue is cleared. */
void tls_openssl_error(xbuf *err, const char *what);
/* Expand a main option for this connection ("" when unset or forced to fail; NULL on error). */
const char *tls_expand_option(const char *opt, const char *name, msg_origin *o, xbuf *err);

/* tls_require_ciphers, tls_dhparam, tls_eccurve into ctx. */
bool tls_apply_server_options(SSL_CTX *ctx, msg_origin *o, xbuf *err);

/* Client certificates: tls_verify_hosts asks and requires, tls_try_verify_hosts asks. */
enum { TLS_VERIFY_NONE, TLS_VERIFY_TRY, TLS_VERIFY_REQUIRE };
int tls_peer_verify_mode(msg_origin *o);
/* tls_verify_certificates ("system" or a file or directory) and tls_crl. */
bool tls_load_verify_locations(SSL_CTX *ctx, msg_origin *o, xbuf *err);

/* openssl_options (NULL: Exim's default) as the flags to set and to clear on a context, in the
 * order given (a later item wins). false with err set for an unknown name or bad syntax. */
#define TLS_OPENSSL_OPTIONS_DEFAULT "+no_sslv2 +no_sslv3 +single_dh_use +no_ticket +no_renegotiation"
bool tls_parse_openssl_options(const char *text, uint64_t *set, uint64_t *clear, xbuf *err);

/* After a handshake step returned SSL_ERROR_WANT_READ/WRITE (e): wait until the descriptor is
 * ready. 1: go on; 0: deadline (monotonic_ms, lib/clock.h) passed; -1: poll failed (errno). */
int tls_handshake_wait(int e, int in_fd, int out_fd, long long deadline);
/* The bio layer that moves a connection's bytes through ssl. */
bio_layer tls_bio_layer(SSL *ssl);
/* The session's version ("TLS1.3") and cipher ("TLS1.3:TLS_AES_256_GCM_SHA384:256") as Exim
 * names them, in a; bits may be NULL. */
void tls_session_names(arena *a, SSL *ssl, sv *ver, sv *cipher, int *bits);

/* A certificate as PEM text in a (empty when cert is NULL). */
sv tls_cert_pem(arena *a, X509 *cert);

/* A server context with what never depends on the connection: protocol versions,
 * openssl_options, the certificate callback. NULL (err set) on failure. */
SSL_CTX *tls_server_ctx_new(xbuf *err);
/* tls_certificate/tls_privatekey (expanded in o's context) into ssl, or into ctx when ssl is
 * NULL. false with err set when one does not load or none is named. */
bool tls_load_server_certificates(SSL *ssl, SSL_CTX *ctx, msg_origin *o, xbuf *err);

/* Parts of a server context the daemon's cache may hold (tls_server_cache.c). */
enum {
	TLS_PART_CIPHERS = 1u << 0,   /* tls_require_ciphers, tls_eccurve, tls_dhparam */
	TLS_PART_VERIFY = 1u << 1,    /* tls_verify_certificates, tls_crl */
	TLS_PART_CERTS = 1u << 2,     /* tls_certificate, tls_privatekey */
};
/* The daemon's prebuilt context with a new reference, *parts saying what is in it; NULL when
 * there is none (not under a daemon, or it could not be built). */
SSL_CTX *tls_server_cache_get(unsigned *parts);

/* After the handshake: the origin's tls_* fields from the session ($tls_in_*, X=, spool). */
void tls_record_session(SSL *ssl, msg_origin *o);

#endif
