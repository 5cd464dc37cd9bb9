/* The TLS client, generic part: start TLS (OpenSSL 3) on a connected socket and get back a bio
 * layer plus what the handshake established. Used by the smtp transport (STARTTLS and
 * protocol = smtps, src/tls/tls_client_smtp.c), the dovecot authenticator's server_tls and
 * ${readsocket}'s tls option. docs/tls.md, "TLS client".
 *
 * Everything a caller needs is here without OpenSSL's headers; a caller that must touch the SSL
 * object before the handshake (OCSP, resumption, DANE) gets it in the `prepare` hook. */
#ifndef POSTERN_TLS_TLS_CLIENT_H
#define POSTERN_TLS_TLS_CLIENT_H

#include <stdbool.h>

#include "lib/arena.h"
#include "lib/bio.h"
#include "lib/str.h"
#include "tls/tls_client_dane.h"

struct ssl_st;
struct x509_st;

/* How the server's certificate is treated. */
typedef enum tls_client_verify {
	TLS_CLIENT_VERIFY_NONE,     /* not checked (verified stays false) */
	TLS_CLIENT_VERIFY_TRY,      /* checked; a failure is recorded (and logged) but the session goes on */
	TLS_CLIENT_VERIFY_REQUIRE,  /* checked; a failure fails the handshake */
} tls_client_verify;

typedef struct tls_client_params {
	/* Our certificate (PEM chain file) and key (NULL or "": in the certificate's file). */
	const char *certificate, *privatekey;
	/* CAs for verification: "system" (also NULL or ""), a PEM file, or a directory (ends in
	 * '/', hashed as c_rehash makes it). Loaded only when verify is not NONE. */
	const char *verify_certificates;
	const char *crl;              /* a PEM file of CRLs to check the chain against; NULL: none */
	const char *require_ciphers;  /* OpenSSL cipher list (TLS <= 1.2); NULL or "": default */
	const char *openssl_options;  /* openssl_options syntax; NULL: Exim's default set */
	const char *sni;              /* server name indication; NULL or "": none sent */
	/* Names the certificate must carry (colon-separated list; "*.example" wildcards in the
	 * certificate are honoured for the leftmost label). NULL or "": the names are not checked. */
	const char *verify_names;
	tls_client_verify verify;
	/* DANE (src/tls/tls_client_dane.h): when dane_n > 0 the certificate is checked against
	 * these TLSA records (for dane_host) instead of CAs and verify_names, and must pass. */
	const tls_tlsa *dane_tlsa;
	size_t dane_n;
	const char *dane_host;
	int timeout_ms;               /* for the whole handshake; <= 0: 300 s */
	/* For log lines: "[1.2.3.4]" style tag of the peer (may be NULL). */
	const char *peer_tag;
	/* Called for each certificate of the chain that passed verification so far, deepest first
	 * (may be NULL; not called with verify NONE): true refuses it, which fails the handshake
	 * under REQUIRE and leaves the session unverified under TRY (the tls:cert event). Its ctx
	 * is prepare_ctx. */
	bool (*cert_check)(void *ctx, struct x509_st *cert, int depth);
	/* Called once the SSL object exists, before the handshake (may be NULL). false with err set
	 * abandons the start. */
	bool (*prepare)(void *ctx, struct ssl_st *ssl, xbuf *err);
	void *prepare_ctx;
	/* ALPN (src/tls/tls_alpn.h): names to offer (colon list; NULL or "": none), and whether
	 * the server must select one (hosts_require_alpn), else the handshake fails. */
	const char *alpn;
	bool require_alpn;
} tls_client_params;

/* What the handshake established. Strings are in the arena given to tls_client_start; peerdn
 * and peercert come from the network and are tainted. */
typedef struct tls_client_session {
	struct ssl_st *ssl;
	bio_layer layer;              /* install with bio_set_layer() */
	sv cipher;                    /* "TLS1.3:TLS_AES_256_GCM_SHA384:256" ($tls_out_cipher) */
	sv ver;                       /* "TLS1.3" */
	int bits;                     /* secret bits of the cipher */
	sv peerdn;                    /* "/CN=mx.example" (OpenSSL's one-line form) */
	sv peercert, ourcert;         /* PEM */
	bool verified;                /* chain (and names, when asked) verified */
	bool dane_verified;           /* verified through the TLSA records */
	sv verify_error;              /* why not verified (empty when verified or not checked) */
	bool resumed;                 /* the session was resumed */
} tls_client_session;

/* Run the handshake on fd (a connected socket; it is made non-blocking), bounded by
 * p->timeout_ms. On success fills s and returns true. On failure returns false with a reason in
 * err in Exim's framing ("(SSL_connect): error:0A000086:SSL routines::certificate verify
 * failed", "(SSL_connect): timed out", "(SSL_connect): Connection reset by peer"), and s
 * holds nothing that needs freeing. */
bool tls_client_start(arena *a, int fd, const tls_client_params *p, tls_client_session *s, xbuf *err);

/* Send close_notify (without waiting for the server's); reading may go on (a final reply). */
void tls_client_notify(tls_client_session *s);
/* Free the session: with notify, close_notify is sent first (unless already sent); without,
 * nothing is written (the socket may be closed already). Safe on a session that never started
 * or was already ended. The socket is left as it is. */
void tls_client_end(tls_client_session *s, bool notify);

#endif
