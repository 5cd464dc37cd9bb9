/* RFC 2047 encode/decode (src/mail/rfc2047.c) and Punycode (src/mail/punycode.c).
 * Encoded forms and decoded results were checked against Exim 4.96's ${rfc2047:}/${rfc2047d:}
 * and ${utf8_domain_to_alabel:}; Punycode vectors are from RFC 3492 section 7.1. */
#include "../unit.h"
#include "mail/punycode.h"
#include "mail/rfc2047.h"

static void test_encode(void)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "abc", "abc" },
		{ "a b", "a b" },
		{ "", "" },
		{ "a?b", "=?UTF-8?Q?a=3Fb?=" },
		{ "a_b", "=?UTF-8?Q?a=5Fb?=" },
		{ "h\xc3\xa9llo", "=?UTF-8?Q?h=C3=A9llo?=" },
		{ "\xc3\xa9 b", "=?UTF-8?Q?=C3=A9_b?=" },
		{ "a\tb", "=?UTF-8?Q?a=09b?=" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ?",
			"=?UTF-8?Q?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?= =?UTF-8?Q?a_=3F?=" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf out;
		xbuf_init(&out, NULL);
		rfc2047_encode(sv_cstr(rows[i].in), "UTF-8", &out);
		CHECK_STR(xbuf_cstr(&out), rows[i].want);
		xbuf_free(&out);
	}
	/* word splitting: 30 e-acutes go 12 + 10 + 8, as Exim splits them */
	xbuf in, out;
	xbuf_init(&in, NULL);
	xbuf_init(&out, NULL);
	for (int i = 0; i < 30; i++)
		xbuf_puts(&in, "\xc3\xa9");
	rfc2047_encode(xbuf_sv(&in), "UTF-8", &out);
	int words = 0;
	for (const char *p = xbuf_cstr(&out); (p = strstr(p, "=?UTF-8?Q?")); p++)
		words++;
	CHECK_INT(words, 3);
	CHECK(strncmp(xbuf_cstr(&out), "=?UTF-8?Q?=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9?= ", 85) == 0);
	xbuf_free(&in);
	xbuf_free(&out);
}

static void test_decode(void)
{
	static const struct { const char *in, *want; bool ok; } rows[] = {
		{ "=?utf-8?q?h=C3=A9llo?=", "h\xc3\xa9llo", true },
		{ "=?iso-8859-1?q?h=E9llo?=", "h\xc3\xa9llo", true },
		{ "=?utf-8?b?aMOpbGxv?= x", "h\xc3\xa9llo x", true },
		{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab", true },
		{ "=?utf-8?q?a?=\n =?utf-8?q?b?=", "ab", true },
		{ "=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b", true },
		{ "=?utf-8?q?a?==?utf-8?q?b?=", "ab", true },
		{ "x=?utf-8?q?a?=y", "xay", true },
		{ "=?utf-8?q?a_b?=", "a b", true },
		{ "=?utf-8?q?a=00b?=", "a?b", true },
		{ "=?utf-8?x?a?=", "=?utf-8?x?a?=", true },
		{ "=?utf-8?q?a b?=", "=?utf-8?q?a b?=", true },
		{ "=?utf-8?q?=ZZ?=", "=?utf-8?q?=ZZ?=", true },
		{ "=?utf-8?b?YQ?=", "=?utf-8?b?YQ?=", true },
		{ "=?utf-8?q?a?", "=?utf-8?q?a?", true },
		{ "=??q?a?=", "a", true },
		{ "=?us-ascii?q?a=E9?=", "a\xe9", true },
		{ "plain  text ", "plain  text ", true },
		{ "=?bogus?q?a?=", "iconv_open(\"UTF-8\", \"bogus\") failed: Invalid argument (maybe unsupported conversion)", false },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf out, err;
		xbuf_init(&out, NULL);
		xbuf_init(&err, NULL);
		bool ok = rfc2047_decode(sv_cstr(rows[i].in), "UTF-8", true, &out, &err);
		CHECK(ok == rows[i].ok);
		CHECK_STR(ok ? xbuf_cstr(&out) : xbuf_cstr(&err), rows[i].want);
		xbuf_free(&out);
		xbuf_free(&err);
	}
	/* a word over 75 characters is only decoded when the length check is off */
	const char *longw = "=?utf-8?q?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?=";
	xbuf out, err;
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	CHECK(rfc2047_decode(sv_cstr(longw), "UTF-8", true, &out, &err));
	CHECK_STR(xbuf_cstr(&out), longw);
	xbuf_reset(&out);
	CHECK(rfc2047_decode(sv_cstr(longw), "UTF-8", false, &out, &err));
	CHECK_INT(out.len, 64); /* 64 bytes of text: a 76-character word */
	xbuf_free(&out);
	xbuf_free(&err);
}

static void test_punycode(void)
{
	static const struct { const char *utf8, *puny; } rows[] = {
		{ "b\xc3\xbc" "cher", "bcher-kva" },
		{ "\xe6\x97\xa5\xe6\x9c\xac", "wgv71a" },
		/* RFC 3492 7.1 (A) Arabic (Egyptian) */
		{ "\xd9\x84\xd9\x8a\xd9\x87\xd9\x85\xd8\xa7\xd8\xa8\xd8\xaa\xd9\x83\xd9\x84\xd9\x85\xd9\x88\xd8\xb4\xd8\xb9"
		  "\xd8\xb1\xd8\xa8\xd9\x8a\xd8\x9f", "egbpdaj6bu4bxfgehfvwxn" },
		/* RFC 3492 7.1 (L) 3<nen>B<gumi><kinpachi><sensei> */
		{ "3\xe5\xb9\xb4" "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab\xe5\x85\x88\xe7\x94\x9f", "3B-ww4c5e180e575a65lsy2b" },
		{ "abc", "abc-" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf out;
		xbuf_init(&out, NULL);
		CHECK(punycode_encode(sv_cstr(rows[i].utf8), &out));
		CHECK_STR(xbuf_cstr(&out), rows[i].puny);
		xbuf_reset(&out);
		CHECK(punycode_decode(sv_cstr(rows[i].puny), &out));
		CHECK_STR(xbuf_cstr(&out), rows[i].utf8);
		xbuf_free(&out);
	}
	xbuf out;
	xbuf_init(&out, NULL);
	CHECK(!punycode_decode(sv_cstr("!!"), &out));
	CHECK(!punycode_encode(sv_cstr("\xff"), &out));
	CHECK(!punycode_decode(sv_cstr("99999999999999"), &out)); /* overflow is refused */
	xbuf_reset(&out);
	const char *why;
	CHECK(idna_domain_to_alabel(sv_cstr("B\xc3\xbc" "CHER.Example"), &out, &why));
	CHECK_STR(xbuf_cstr(&out), "xn--bcher-kva.example");
	xbuf_reset(&out);
	CHECK(idna_domain_from_alabel(sv_cstr("xn--bcher-kva.XN--BCHER-KVA.com"), &out));
	CHECK_STR(xbuf_cstr(&out), "b\xc3\xbc" "cher.XN--BCHER-KVA.com");
	xbuf_free(&out);
}

int main(void)
{
	RUN(test_encode);
	RUN(test_decode);
	RUN(test_punycode);
	return unit_report("test_rfc2047");
}
