/* expand/cert: ${certextract} fields and modifiers, and the certificate operators, on a fixed
 * self-signed certificate (O="Test, O", OU=A, OU=B, CN=Test CA; SANs DNS a.example, email
 * a@b.example, URI http://u/x; OCSP http://o/a; CRL http://c/l.crl), in the formats of Exim 4.96
 * built with OpenSSL. Expected values were read with `openssl x509` from the same file. */
#include <stdlib.h>
#include <time.h>

#include "expand/cert.h"
#include "expand/expand.h"
#include "tests/unit/unit.h"

static const char pem[] =
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

static const char *extract(const char *field, int *rc)
{
	static xbuf out, err;
	xbuf_free(&out);
	xbuf_free(&err);
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	*rc = xp_cert_extract(sv_cstr(field), sv_make(pem, sizeof pem - 1), &out, &err);
	return *rc == XP_ERROR ? xbuf_cstr(&err) : xbuf_cstr(&out);
}

static const struct { const char *field; int rc; const char *want; } rows[] = {
	{ "version", XP_OK, "2" },
	{ "serial_number", XP_OK, "6bf732cd34eea2ea8c1cc5c17d12b6f364e6817a" },
	{ "subject", XP_OK, "CN=Test CA,OU=B,OU=A,O=Test\\, O" },
	{ "issuer", XP_OK, "CN=Test CA,OU=B,OU=A,O=Test\\, O" },
	{ "subject,CN", XP_OK, "Test CA" },
	{ "subject,OU", XP_OK, "B\nA" },
	{ "subject,OU,>:", XP_OK, "B:A" },
	{ "subject,>;,OU", XP_OK, "B;A" },
	{ "subject,O", XP_OK, "Test, O" },
	{ "subject,O,>,", XP_OK, "Test,, O" },          /* the separator doubled inside a value */
	{ "subject,>;", XP_OK, "CN=Test CA;OU=B;OU=A;O=Test, O" },
	{ "subject,L", XP_FORCEFAIL, "" },
	{ "subject,cn", XP_FORCEFAIL, "" },           /* RDN types are case-sensitive */
	{ "notbefore,int", XP_OK, "1795269721" },
	{ "notafter,int", XP_OK, "2110629721" },
	{ "notbefore,raw", XP_OK, "Nov 21 14:02:01 2026 GMT" },
	{ "notbefore", XP_OK, "Nov 21 14:02:01 2026 +0000" },
	{ "sig_algorithm", XP_OK, "ecdsa-with-SHA256" },
	{ "subj_altname", XP_OK, "URI=http://u/x\nMAIL=a@b.example\nDNS=a.example" },
	{ "subj_altname,dns", XP_OK, "a.example" },
	{ "subj_altname,uri,>;", XP_OK, "http://u/x" },
	{ "subj_altname,mail", XP_OK, "a@b.example" },
	{ "subj_altname,>/,uri", XP_OK, "http:////u//x" },
	{ "ocsp_uri", XP_OK, "http://o/a" },
	{ "crl_uri", XP_OK, "http://c/l.crl" },
	{ "bogus", XP_ERROR, "bad field selector \"bogus\" for certextract" },
	{ "subjects", XP_ERROR, "bad field selector \"subjects\" for certextract" },
};

static void test_fields(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int rc;
		const char *got = extract(rows[i].field, &rc);
		CHECK_INT(rc, rows[i].rc);
		if (rows[i].rc != XP_FORCEFAIL) CHECK_STR(got, rows[i].want);
	}
}

static void test_signature_dump(void)
{
	int rc;
	const char *sig = extract("signature", &rc);
	CHECK_INT(rc, XP_OK);
	CHECK(strncmp(sig, "         ", 9) == 0 && sig[9] != ' ');
	CHECK(sig[strlen(sig) - 1] == '\n');
	const char *nl = strchr(sig, '\n');
	CHECK(nl && (nl - sig == 9 + 18 * 3 || !strchr(nl + 1, '\n')));
}

static void test_operators(void)
{
	xbuf out, err;
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	CHECK_INT(xp_cert_op(sv_cstr("sha256"), sv_make(pem, sizeof pem - 1), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "1132F0DC3D67623B97CA7878E494CA88C0EAC86D549430E7AAB8645D00C82C2F");
	xbuf_reset(&out);
	CHECK_INT(xp_cert_op(sv_cstr("md5"), sv_make(pem, sizeof pem - 1), &out, &err), XP_OK);
	CHECK_INT(out.len, 32);
	xbuf_reset(&out);
	CHECK_INT(xp_cert_op(sv_cstr("base64"), sv_make(pem, sizeof pem - 1), &out, &err), XP_OK);
	CHECK(strncmp(xbuf_cstr(&out), "MIIC", 4) == 0);
	xbuf_reset(&out);
	/* tainted in, tainted out */
	CHECK_INT(xp_cert_extract(sv_cstr("subject,CN"), sv_tainted(sv_make(pem, sizeof pem - 1)), &out, &err), XP_OK);
	CHECK(out.taint);
	xbuf_reset(&out);
	CHECK_INT(xp_cert_op(sv_cstr("sha1"), sv_cstr("not a certificate"), &out, &err), XP_ERROR);
	CHECK(xp_cert_op_applies(sv_cstr("sha256")) && !xp_cert_op_applies(sv_cstr("sha2")) &&
		!xp_cert_op_applies(sv_cstr("sha3")));
	CHECK(xp_cert_var(sv_cstr("tls_out_peercert")) && !xp_cert_var(sv_cstr("tls_peercert")));
	xbuf_free(&out);
	xbuf_free(&err);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	RUN(test_fields);
	RUN(test_signature_dump);
	RUN(test_operators);
	return unit_report("test_cert");
}
