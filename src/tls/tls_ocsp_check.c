/* OCSP response checks shared by the server (which staple to send), the client (is the staple
 * trustworthy) and the refresher (is a fetched response worth keeping). See tls_ocsp_int.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "lib/str.h"
#include "tls/tls_ocsp.h"
#include "tls/tls_ocsp_int.h"

X509 *tls_ocsp_find_issuer(X509 *leaf, STACK_OF(X509) *certs, X509_STORE *store)
{
	if (!leaf) return NULL;
	for (int i = 0; certs && i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		if (c != leaf && X509_check_issued(c, leaf) == X509_V_OK) {
			X509_up_ref(c);
			return c;
		}
	}
	if (!store) return NULL;
	X509 *issuer = NULL;
	X509_STORE_CTX *sc = X509_STORE_CTX_new();
	if (sc && X509_STORE_CTX_init(sc, store, leaf, NULL) == 1
		&& X509_STORE_CTX_get1_issuer(&issuer, sc, leaf) != 1)
		issuer = NULL;
	X509_STORE_CTX_free(sc);
	ERR_clear_error();
	return issuer;
}

OCSP_SINGLERESP *tls_ocsp_find_single(OCSP_BASICRESP *bs, X509 *leaf, X509 *issuer)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(leaf);
	for (int i = 0; i < OCSP_resp_count(bs); i++) {
		OCSP_SINGLERESP *single = OCSP_resp_get0(bs, i);
		const OCSP_CERTID *cid = single ? OCSP_SINGLERESP_get0_id(single) : NULL;
		ASN1_OBJECT *md_oid = NULL;
		ASN1_INTEGER *their_serial = NULL;
		if (!cid || OCSP_id_get0_info(NULL, &md_oid, NULL, &their_serial, (OCSP_CERTID *)cid) != 1)
			continue;
		if (!their_serial || ASN1_INTEGER_cmp(their_serial, serial) != 0) continue;
		if (!issuer) return single;
		/* The same serial from another issuer is another certificate: compare the issuer
		 * hashes too, computed with the algorithm the responder used. */
		const EVP_MD *md = EVP_get_digestbyobj(md_oid);
		OCSP_CERTID *mine = md ? OCSP_cert_to_id(md, leaf, issuer) : NULL;
		bool same = mine && OCSP_id_cmp(mine, cid) == 0;
		OCSP_CERTID_free(mine);
		if (same) return single;
	}
	ERR_clear_error();
	return NULL;
}

bool tls_ocsp_asn1_time(const ASN1_GENERALIZEDTIME *t, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return false;
	time_t v = timegm(&tm);
	if (v == (time_t)-1) return false;
	*out = v;
	return true;
}

bool tls_ocsp_single_current(OCSP_SINGLERESP *single, time_t now, time_t *this_update,
	time_t *next_update)
{
	int reason = -1;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	if (OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd) < 0) return false;
	time_t t = 0, n = 0;
	if (!tls_ocsp_asn1_time(thisupd, &t)) return false;
	bool has_next = nextupd && tls_ocsp_asn1_time(nextupd, &n);
	if (this_update) *this_update = t;
	if (next_update) *next_update = has_next ? n : 0;
	/* Without nextUpdate a response never goes stale, which is exactly what a replayed old
	 * "good" would want: such a response is never treated as current. */
	if (!has_next || n < t) return false;
	return t <= now + TLS_OCSP_SKEW_SECONDS && n >= now - TLS_OCSP_SKEW_SECONDS;
}

OCSP_BASICRESP *tls_ocsp_parse_basic(const unsigned char *der, size_t len, xbuf *why)
{
	if (len > TLS_OCSP_MAX_RESPONSE) {
		xbuf_printf(why, "response too large (%zu bytes)", len);
		return NULL;
	}
	const unsigned char *p = der;
	OCSP_RESPONSE *rsp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (!rsp) {
		xbuf_puts(why, "parse error");
		ERR_clear_error();
		return NULL;
	}
	int st = OCSP_response_status(rsp);
	OCSP_BASICRESP *bs = st == OCSP_RESPONSE_STATUS_SUCCESSFUL ? OCSP_response_get1_basic(rsp) : NULL;
	if (!bs) {
		if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL)
			xbuf_printf(why, "responder status %s", OCSP_response_status_str(st));
		else
			xbuf_puts(why, "error parsing response");
	}
	OCSP_RESPONSE_free(rsp);
	ERR_clear_error();
	return bs;
}

/* The message is text, then sep and detail when detail is given. */
static void fail(tls_ocsp_verdict *v, bool always, const char *text, const char *sep, const char *detail)
{
	v->status = TLS_OCSP_FAILED;
	v->log_always = always;
	snprintf(v->message, sizeof v->message, "%s%s%s", text, detail ? sep : "", detail ? detail : "");
}

#define UNVERIFIABLE "Received TLS cert status response, itself unverifiable"

void tls_ocsp_check_staple(const unsigned char *der, size_t len, X509 *leaf, STACK_OF(X509) *chain,
	X509_STORE *store, time_t now, tls_ocsp_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->status = TLS_OCSP_FAILED;
	xbuf why;
	xbuf_init(&why, NULL);
	OCSP_BASICRESP *bs = tls_ocsp_parse_basic(der, len, &why);
	X509 *issuer = NULL;
	if (!bs) {
		/* Exim's two texts: one for undecodable bytes, one for a response without a usable
		 * basic response (which includes a responder's error status). */
		bool undecodable = strcmp(xbuf_cstr(&why), "parse error") == 0;
		fail(v, false, undecodable ? "Received TLS cert status response, parse error"
			: "Received TLS cert status response, error parsing response", "", NULL);
		goto out;
	}
	if (!leaf) {
		fail(v, false, UNVERIFIABLE, ": ", "no server certificate");
		goto out;
	}
	/* Flags 0: the signer may come from the response or the server's chain, but it is trusted
	 * only through store, and it must be the issuer or carry the issuer's OCSP-signing
	 * delegation (OCSP_basic_verify checks both). */
	ERR_clear_error();
	if (OCSP_basic_verify(bs, chain, store, 0) <= 0) {
		unsigned long e = ERR_peek_error();
		const char *reason = e ? ERR_reason_error_string(e) : NULL;
		fail(v, false, UNVERIFIABLE, ": ", reason ? reason : "signature check failed");
		ERR_clear_error();
		goto out;
	}
	issuer = tls_ocsp_find_issuer(leaf, chain, store);
	OCSP_SINGLERESP *single = tls_ocsp_find_single(bs, leaf, issuer);
	if (!single) {
		/* A correctly signed response about some other certificate of the same CA proves
		 * nothing about this one (Exim's OpenSSL client does not check this). */
		fail(v, false, "Received TLS cert status response, not for the server certificate", "", NULL);
		goto out;
	}
	if (!tls_ocsp_single_current(single, now, NULL, NULL)) {
		fail(v, true, "OCSP dates invalid", "", NULL);
		goto out;
	}
	int reason = -1;
	int st = OCSP_single_get0_status(single, &reason, NULL, NULL, NULL);
	if (st == V_OCSP_CERTSTATUS_GOOD) {
		v->status = TLS_OCSP_VERIFIED;
	} else if (st == V_OCSP_CERTSTATUS_REVOKED) {
		v->revoked = true;
		fail(v, true, "Server certificate revoked", "; reason: ", reason >= 0 ? OCSP_crl_reason_str(reason) : NULL);
	} else {
		fail(v, true, "Server certificate status unknown, in OCSP stapling", "", NULL);
	}
out:
	X509_free(issuer);
	OCSP_BASICRESP_free(bs);
	xbuf_free(&why);
	ERR_clear_error();
}
