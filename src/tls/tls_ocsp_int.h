/* Internals of OCSP stapling shared by tls_ocsp_*.c, the staple refresher and their tests.
 * Everything here works on parsed OpenSSL objects and an explicit clock, so the decisions
 * (is this response for that certificate, is it current, may its signer speak for the issuer)
 * are testable without a handshake. */
#ifndef POSTERN_TLS_TLS_OCSP_INT_H
#define POSTERN_TLS_TLS_OCSP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "lib/str.h"

/* Clock skew allowed on thisUpdate/nextUpdate, as Exim allows it (no maximum age). */
#define TLS_OCSP_SKEW_SECONDS 300
/* A response file or an HTTP body larger than this is refused (real ones are a few KB). */
#define TLS_OCSP_MAX_RESPONSE (64 * 1024)

/* The certificate in certs (or, if not found there and store is not NULL, in store) that
 * issued leaf; NULL when none does. The result is a new reference: X509_free it. */
X509 *tls_ocsp_find_issuer(X509 *leaf, STACK_OF(X509) *certs, X509_STORE *store);

/* The single response of bs that is about leaf. With issuer, the whole CertID must match
 * (issuer name and key hashes in the response's hash algorithm, and the serial number); without
 * it only the serial number is compared. NULL when no single response matches. */
OCSP_SINGLERESP *tls_ocsp_find_single(OCSP_BASICRESP *bs, X509 *leaf, X509 *issuer);

/* Whether a single response's dates make it usable at now: thisUpdate not after now + skew,
 * nextUpdate present and not before now - skew. The dates are returned when the pointers are
 * not NULL (0 for an absent nextUpdate). */
bool tls_ocsp_single_current(OCSP_SINGLERESP *single, time_t now, time_t *this_update,
	time_t *next_update);

/* Parse a DER OCSP response that says "successful" and carries a basic response; NULL (and a
 * short reason in why) otherwise. */
OCSP_BASICRESP *tls_ocsp_parse_basic(const unsigned char *der, size_t len, xbuf *why);

/* The outcome of checking a stapled response (client side). */
typedef struct tls_ocsp_verdict {
	int status;        /* TLS_OCSP_VERIFIED or TLS_OCSP_FAILED */
	bool revoked;      /* the certificate is revoked: fails the connection even unrequired */
	bool log_always;   /* log the message whatever log_selector says (else only with tls_cipher) */
	char message[256]; /* Exim's main-log line for a failure ("" when verified) */
} tls_ocsp_verdict;

/* Check the stapled response der for the server certificate leaf, sent with chain (the peer's
 * chain as received; may be NULL). The response's signer must chain to store (trusted
 * certificates only; nothing the server sent is trusted by itself) and be the issuer of leaf
 * or a responder the issuer delegated (OCSP signing); the response must be about leaf, current
 * at now, and say "good". The signer's chain is verified at the real time. */
void tls_ocsp_check_staple(const unsigned char *der, size_t len, X509 *leaf, STACK_OF(X509) *chain,
	X509_STORE *store, time_t now, tls_ocsp_verdict *v);

/* An ASN1_TIME as a time_t; false if it cannot be represented. */
bool tls_ocsp_asn1_time(const ASN1_GENERALIZEDTIME *t, time_t *out);

#endif
