/* Fuzz expand/cert: ${certextract} field selectors with their modifiers, and certificate text.
 *
 * Input: field selector, a NUL byte, then the certificate text (PEM, or anything). A real
 * certificate (built in) is tried with every selector as well, so the DN, list and modifier
 * code runs on real fields, not only on PEM that fails to parse. Invariants: the result is one
 * of XP_OK / XP_FORCEFAIL / XP_ERROR; XP_OK has a non-empty value; XP_ERROR has a message and is
 * only given for an unknown field name; the operators give fixed-length hex fingerprints. */
#include <stdint.h>
#include <string.h>

#include "expand/cert.h"
#include "expand/expand.h"
#include "fuzz_check.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static const char cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIICRzCCAe2gAwIBAgIUa/cyzTTuouqMHMXBfRK282TmgXowCgYIKoZIzj0EAwIw\n"
	"PDEQMA4GA1UECgwHVGVzdCwgTzEKMAgGA1UECwwBQTEKMAgGA1UECwwBQjEQMA4G\n"
	"A1UEAwwHVGVzdCBDQTAeFw0yNjExMjExNDAyMDFaFw0zNjExMTgxNDAyMDFaMDwx\n"
	"EDAOBgNVBAoMB1Rlc3QsIE8xCjAIBgNVBAsMAUExCjAIBgNVBAsMAUIxEDAOBgNV\n"
	"BAMMB1Rlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARt4a3lUBYvsNuz\n"
	"NrkKlKrAgN3m4TG0iA6sJytTlV8w7aJd3/qvN+qyFYyIwr0+Z1Al+pLDhY78b+XN\n"
	"cnYywcISo4HMMIHJMB0GA1UdDgQWBBSDXI+oW8CHM35uASzBsNglR8FzGTAfBgNV\n"
	"HSMEGDAWgBSDXI+oW8CHM35uASzBsNglR8FzGTAPBgNVHRMBAf8EBTADAQH/MC0G\n"
	"A1UdEQQmMCSCCWEuZXhhbXBsZYELYUBiLmV4YW1wbGWGCmh0dHA6Ly91L3gwJgYI\n"
	"KwYBBQUHAQEEGjAYMBYGCCsGAQUFBzABhgpodHRwOi8vby9hMB8GA1UdHwQYMBYw\n"
	"FKASoBCGDmh0dHA6Ly9jL2wuY3JsMAoGCCqGSM49BAMCA0gAMEUCICxQgneqwJmA\n"
	"hCrN75ee724voJKWBbEDy+Tr9F8cu6jVAiEA2pEx+rJCjlwnqrIitazm501egcLy\n"
	"r5Trt0LbJu5Urnc=\n"
	"-----END CERTIFICATE-----\n";

static const char *const known[] = { "version", "serial_number", "subject", "issuer", "notbefore",
	"notafter", "sig_algorithm", "signature", "subj_altname", "ocsp_uri", "crl_uri" };

static void one(const uint8_t *data, size_t size, sv field, sv pem)
{
	xbuf out, err;
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	int rc = xp_cert_extract(field, pem, &out, &err);
	CHECK(rc == XP_OK || rc == XP_FORCEFAIL || rc == XP_ERROR);
	if (rc == XP_OK) CHECK(out.len > 0);
	const char *comma = memchr(field.p, ',', field.len);
	sv name = comma ? sv_make(field.p, (size_t)(comma - field.p)) : field;
	bool is_known = false;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) is_known |= sv_eq_cstr(name, known[i]);
	CHECK((rc == XP_ERROR) == !is_known);
	if (rc == XP_ERROR) CHECK(err.len > 0);
	xbuf_free(&out);
	xbuf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t flen = nul ? (size_t)(nul - data) : size;
	sv field = sv_make((const char *)data, flen);
	sv pem = nul ? sv_make((const char *)nul + 1, size - flen - 1) : sv_make("", 0);
	one(data, size, field, pem);
	one(data, size, field, sv_make(cert_pem, sizeof cert_pem - 1));
	static const char *const ops[] = { "md5", "sha1", "sha256", "base64" };
	for (int i = 0; i < 4; i++) {
		xbuf out, err;
		xbuf_init(&out, NULL);
		xbuf_init(&err, NULL);
		int rc = xp_cert_op(sv_cstr(ops[i]), pem, &out, &err);
		CHECK(rc == XP_OK || rc == XP_ERROR);
		if (rc == XP_OK && i < 3) CHECK(out.len == (size_t)(i == 0 ? 32 : i == 1 ? 40 : 64));
		xbuf_free(&out);
		xbuf_free(&err);
	}
	return 0;
}
