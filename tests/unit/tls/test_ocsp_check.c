/* The client's check of a stapled OCSP response (src/tls/tls_ocsp_check.c), and the helpers the
 * server and the refresher share with it, against certificates and responses made by
 * `openssl ocsp` at run time (ocsp_fixtures.sh). */
#include <stdlib.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../unit.h"
#include "lib/arena.h"
#include "tls/tls_ocsp.h"
#include "tls/tls_ocsp_file.h"
#include "tls/tls_ocsp_int.h"

static char dir[64];

static X509 *cert(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s.pem", dir, name);
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f) fclose(f);
	if (!x) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
	return x;
}

static unsigned char *der(const char *name, size_t *len)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s.der", dir, name);
	FILE *f = fopen(path, "rb");
	static unsigned char buf[8][16384];
	static int slot;
	unsigned char *b = buf[slot++ % 8];
	*len = f ? fread(b, 1, sizeof buf[0], f) : 0;
	if (f) fclose(f);
	if (!*len) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
	return b;
}

/* thisUpdate of a response (for clocks relative to it). */
static time_t this_update(const unsigned char *d, size_t len)
{
	xbuf why;
	xbuf_init(&why, pool_scratch);
	OCSP_BASICRESP *bs = tls_ocsp_parse_basic(d, len, &why);
	time_t t = 0, n = 0;
	if (bs) tls_ocsp_single_current(OCSP_resp_get0(bs, 0), 0, &t, &n);
	OCSP_BASICRESP_free(bs);
	return t;
}

static const struct {
	const char *resp, *leaf;
	bool trust_ca2;
	long clock;          /* seconds after the response's thisUpdate */
	int status;
	bool revoked, always;
	const char *message;
} cases[] = {
	{ "good", "leaf", false, 60, TLS_OCSP_VERIFIED, false, false, "" },
	{ "byca", "leaf", false, 60, TLS_OCSP_VERIFIED, false, false, "" },
	{ "nocerts", "leaf", false, 60, TLS_OCSP_VERIFIED, false, false, "" },
	/* within the skew on both ends of the window */
	{ "good", "leaf", false, -299, TLS_OCSP_VERIFIED, false, false, "" },
	{ "good", "leaf", false, 86400 + 299, TLS_OCSP_VERIFIED, false, false, "" },
	{ "good", "leaf", false, -301, TLS_OCSP_FAILED, false, true, "OCSP dates invalid" },
	{ "good", "leaf", false, 86400 + 301, TLS_OCSP_FAILED, false, true, "OCSP dates invalid" },
	{ "nonext", "leaf", false, 60, TLS_OCSP_FAILED, false, true, "OCSP dates invalid" },
	{ "other", "leaf", false, 60, TLS_OCSP_FAILED, false, false,
	  "Received TLS cert status response, not for the server certificate" },
	/* same serial number, other issuer: a serial-only comparison would accept it */
	{ "twin", "leaf", true, 60, TLS_OCSP_FAILED, false, false,
	  "Received TLS cert status response, not for the server certificate" },
	{ "twin", "twin", true, 60, TLS_OCSP_VERIFIED, false, false, "" },
	{ "revoked", "revoked", false, 60, TLS_OCSP_FAILED, true, true,
	  "Server certificate revoked; reason: keyCompromise" },
	{ "revoked2", "revoked2", false, 60, TLS_OCSP_FAILED, true, true, "Server certificate revoked" },
	{ "unknown", "unknown", false, 60, TLS_OCSP_FAILED, false, true,
	  "Server certificate status unknown, in OCSP stapling" },
	{ "rogue", "leaf", false, 60, TLS_OCSP_FAILED, false, false,
	  "Received TLS cert status response, itself unverifiable: missing ocspsigning usage" },
	{ "untrusted", "leaf", false, 60, TLS_OCSP_FAILED, false, false,
	  "Received TLS cert status response, itself unverifiable: certificate verify error" },
	{ "garbage", "leaf", false, 60, TLS_OCSP_FAILED, false, false,
	  "Received TLS cert status response, parse error" },
};

static void test_staples(void)
{
	X509_STORE *store = X509_STORE_new(), *store2 = X509_STORE_new();
	X509_STORE_add_cert(store, cert("ca"));
	X509_STORE_add_cert(store2, cert("ca"));
	X509_STORE_add_cert(store2, cert("ca2"));
	size_t glen = 0;
	unsigned char *good = der("good", &glen);
	time_t base = this_update(good, glen);
	CHECK(base > 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = 0;
		unsigned char *d = der(cases[i].resp, &len);
		X509 *leaf = cert(cases[i].leaf);
		STACK_OF(X509) *chain = sk_X509_new_null();
		sk_X509_push(chain, leaf);
		sk_X509_push(chain, cert(cases[i].trust_ca2 && leaf && strcmp(cases[i].leaf, "twin") == 0 ? "ca2" : "ca"));
		time_t t = this_update(d, len);
		tls_ocsp_verdict v;
		tls_ocsp_check_staple(d, len, leaf, chain, cases[i].trust_ca2 ? store2 : store,
			(t ? t : base) + cases[i].clock, &v);
		if (v.status != cases[i].status) fprintf(stderr, "case %zu (%s)\n", i, cases[i].resp);
		CHECK_INT(v.status, cases[i].status);
		CHECK_INT(v.revoked, cases[i].revoked);
		CHECK_STR(v.message, cases[i].message);
		if (cases[i].message[0]) CHECK_INT(v.log_always, cases[i].always);
		sk_X509_pop_free(chain, X509_free);
	}
	X509_STORE_free(store);
	X509_STORE_free(store2);
}

/* A responder's error status (here tryLater) carries no basic response. */
static void test_error_status(void)
{
	OCSP_RESPONSE *r = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
	unsigned char *d = NULL;
	int len = i2d_OCSP_RESPONSE(r, &d);
	X509_STORE *store = X509_STORE_new();
	tls_ocsp_verdict v;
	tls_ocsp_check_staple(d, (size_t)len, cert("leaf"), NULL, store, time(NULL), &v);
	CHECK_INT(v.status, TLS_OCSP_FAILED);
	CHECK_STR(v.message, "Received TLS cert status response, error parsing response");
	xbuf why;
	xbuf_init(&why, pool_scratch);
	CHECK(tls_ocsp_parse_basic(d, (size_t)len, &why) == NULL);
	CHECK_STR(xbuf_cstr(&why), "responder status trylater");
	OPENSSL_free(d);
	OCSP_RESPONSE_free(r);
	X509_STORE_free(store);
}

/* The server's choice: serial-only without an issuer, full CertID with one. */
static void test_find_single(void)
{
	size_t len = 0;
	unsigned char *d = der("twin", &len);
	xbuf why;
	xbuf_init(&why, pool_scratch);
	OCSP_BASICRESP *bs = tls_ocsp_parse_basic(d, len, &why);
	CHECK(bs != NULL);
	X509 *leaf = cert("leaf"), *ca = cert("ca"), *ca2 = cert("ca2"), *twin = cert("twin");
	CHECK(tls_ocsp_find_single(bs, leaf, NULL) != NULL);
	CHECK(tls_ocsp_find_single(bs, leaf, ca) == NULL);
	CHECK(tls_ocsp_find_single(bs, twin, ca2) != NULL);
	STACK_OF(X509) *certs = sk_X509_new_null();
	sk_X509_push(certs, ca2);
	sk_X509_push(certs, ca);
	X509 *iss = tls_ocsp_find_issuer(leaf, certs, NULL);
	CHECK(iss == ca);
	X509_free(iss);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_add_cert(store, ca2);
	iss = tls_ocsp_find_issuer(twin, NULL, store);
	CHECK(iss != NULL && X509_cmp(iss, ca2) == 0);
	X509_free(iss);
	CHECK(tls_ocsp_find_issuer(leaf, NULL, store) == NULL);
	X509_STORE_free(store);
	sk_X509_free(certs);
	OCSP_BASICRESP_free(bs);
	X509_free(leaf); X509_free(ca); X509_free(ca2); X509_free(twin);
}

static void test_file_items(void)
{
	bool pem = false;
	CHECK_STR(tls_ocsp_file_item("/a", &pem), "/a");
	CHECK(!pem);
	CHECK_STR(tls_ocsp_file_item("PEM  /b", &pem), "/b");
	CHECK(pem);
	CHECK_STR(tls_ocsp_file_item("/c", &pem), "/c");   /* sticky */
	CHECK(pem);
	CHECK_STR(tls_ocsp_file_item("DER /d", &pem), "/d");
	CHECK(!pem);
	CHECK_STR(tls_ocsp_file_item("pem /e", &pem), "pem /e");   /* the prefix is upper case */
}

/* Storing a response and reading it back, in both formats. */
static void test_store_load(void)
{
	size_t len = 0;
	unsigned char *d = der("good", &len);
	tls_ocsp_responses rs;
	xbuf why;
	xbuf_init(&why, pool_scratch);
	CHECK(tls_ocsp_file_parse(d, len, false, &rs, &why));
	CHECK_INT(rs.n, 1);
	for (int pem = 0; pem < 2; pem++) {
		char path[128];
		snprintf(path, sizeof path, "%s/stored.%s", dir, pem ? "pem" : "der");
		CHECK(tls_ocsp_file_store(path, pem, rs.v[0], &why));
		tls_ocsp_responses back;
		CHECK(tls_ocsp_file_load(path, pem, &back, &why));
		CHECK_INT(back.n, 1);
		unsigned char *a = NULL, *b = NULL;
		int la = i2d_OCSP_RESPONSE(rs.v[0], &a), lb = back.n ? i2d_OCSP_RESPONSE(back.v[0], &b) : -1;
		CHECK(la == lb && memcmp(a, b, (size_t)la) == 0);
		OPENSSL_free(a);
		OPENSSL_free(b);
		tls_ocsp_responses_free(&back);
		/* the wrong format finds nothing */
		CHECK(!tls_ocsp_file_load(path, !pem, &back, &why));
	}
	tls_ocsp_responses_free(&rs);
	xbuf_reset(&why);
	CHECK(!tls_ocsp_file_load("/nonexistent/x.der", false, &rs, &why));
	CHECK(strncmp(xbuf_cstr(&why), "cannot open:", 12) == 0);
}

int main(void)
{
	arena_init_pools();
	snprintf(dir, sizeof dir, "/tmp/ocsp-unit.XXXXXX");
	if (!mkdtemp(dir)) return 1;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "sh ./ocsp_fixtures.sh %s", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "ocsp_fixtures.sh failed\n");
		return 1;
	}
	RUN(test_staples);
	RUN(test_error_status);
	RUN(test_find_single);
	RUN(test_file_items);
	RUN(test_store_load);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
	return unit_report("test_ocsp_check");
}
