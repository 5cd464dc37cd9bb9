/* Codecs and digests (src/lib/codec.c, src/lib/digest.c) against published vectors
 * (RFC 4648 base64/base16, FIPS 180/202 "abc", RFC 2202 HMAC), plus the helpers of ops.h that
 * the recorded table does not reach: number parsing, eval nesting bounds, quote_<lookup>
 * quoter ids and taint propagation. */
#include <stdlib.h>

#include "../unit.h"
#include "expand/ops/ops.h"
#include "lib/codec.h"
#include "lib/digest.h"
#include "search/search.h"

static void test_base64(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		codec_b64_encode(sv_cstr(plain[i]), &b);
		CHECK_STR(xbuf_cstr(&b), enc[i]);
		xbuf_reset(&b);
		CHECK(codec_b64_decode(sv_cstr(enc[i]), &b));
		CHECK_STR(xbuf_cstr(&b), plain[i]);
		xbuf_free(&b);
	}
	static const char *const bad[] = { "Zg", "Zg=", "Z===", "=", "Zg==Zg==", "Zg=a", "Zm9v!", "Zm9vY" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		CHECK(!codec_b64_decode(sv_cstr(bad[i]), &b));
		xbuf_free(&b);
	}
	xbuf b;
	xbuf_init(&b, NULL);
	CHECK(codec_b64_decode(sv_cstr(" Zm9v\n YmFy\t"), &b)); /* white space anywhere */
	CHECK_STR(xbuf_cstr(&b), "foobar");
	xbuf_reset(&b);
	codec_b64_encode(sv_make("\0\xff\xfe", 3), &b); /* binary, NUL included */
	CHECK_STR(xbuf_cstr(&b), "AP/+");
	xbuf_free(&b);
}

static void test_hex_xtext_numbers(void)
{
	xbuf b;
	bool odd;
	xbuf_init(&b, NULL);
	codec_hex_encode(sv_cstr("foobar"), true, &b);
	CHECK_STR(xbuf_cstr(&b), "666F6F626172"); /* RFC 4648 base16 */
	xbuf_reset(&b);
	CHECK(codec_hex_decode(sv_cstr("666f6F626172"), &b, &odd));
	CHECK_STR(xbuf_cstr(&b), "foobar");
	CHECK(!codec_hex_decode(sv_cstr("666"), &b, &odd) && odd);
	CHECK(!codec_hex_decode(sv_cstr("6g"), &b, &odd) && !odd);
	xbuf_reset(&b);
	codec_xtext_encode(sv_cstr("a+b=c d\x01"), &b);
	CHECK_STR(xbuf_cstr(&b), "a+2Bb+3Dc+20d+01");
	xbuf_reset(&b);
	CHECK(codec_xtext_decode(sv_cstr("a+2Bb+3Dc+20d"), &b));
	CHECK_STR(xbuf_cstr(&b), "a+b=c d");
	CHECK(!codec_xtext_decode(sv_cstr("a+2"), &b));
	CHECK(!codec_xtext_decode(sv_cstr("a+zz"), &b));
	xbuf_reset(&b);
	codec_b32_number(32, &b);
	CHECK_STR(xbuf_cstr(&b), "ba");
	xbuf_reset(&b);
	codec_b62_number6(1234567890, &b);
	CHECK_STR(xbuf_cstr(&b), "1LY7VK");
	uint64_t n;
	CHECK(codec_b62_parse(sv_cstr("zzzzzz"), &n) && n == 56800235583ULL);
	CHECK(codec_b32_parse(sv_cstr("b2"), &n) && n == 58);
	CHECK(!codec_b32_parse(sv_cstr("1"), &n));
	xbuf_free(&b);
}

static void test_digests(void)
{
	static const struct { digest_alg alg; const char *hex; } abc[] = {
		{ DIGEST_MD5, "900150983cd24fb0d6963f7d28e17f72" },
		{ DIGEST_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ DIGEST_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7" },
		{ DIGEST_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ DIGEST_SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532" },
		{ DIGEST_SHA3_224, "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf" },
	};
	for (size_t i = 0; i < sizeof abc / sizeof abc[0]; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		CHECK(digest_hex(abc[i].alg, sv_cstr("abc"), false, &b));
		CHECK_STR(xbuf_cstr(&b), abc[i].hex);
		CHECK_INT(digest_size(abc[i].alg) * 2, strlen(abc[i].hex));
		xbuf_free(&b);
	}
	digest_alg alg;
	CHECK(digest_by_name(sv_cstr("SHA3-512"), &alg) && alg == DIGEST_SHA3_512);
	CHECK(!digest_by_name(sv_cstr("sha3"), &alg));
	/* RFC 2202 test case 2, via the ${hmac} helper */
	xbuf out, err;
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	CHECK(xp_hmac(sv_cstr("md5"), sv_cstr("Jefe"), sv_cstr("what do ya want for nothing?"), &out, &err));
	CHECK_STR(xbuf_cstr(&out), "750c783e6ab0b503eaa86e310a5db738");
	xbuf_reset(&out);
	CHECK(xp_hmac(sv_cstr("sha1"), sv_cstr("Jefe"), sv_cstr("what do ya want for nothing?"), &out, &err));
	CHECK_STR(xbuf_cstr(&out), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	CHECK(!xp_hmac(sv_cstr("sha256"), sv_cstr("k"), sv_cstr("d"), &out, &err));
	CHECK_STR(xbuf_cstr(&err), "hmac algorithm \"sha256\" is not recognised");
	xbuf_free(&out);
	xbuf_free(&err);
}

static void test_numbers(void)
{
	static const struct { const char *in; long long v; const char *err; } rows[] = {
		{ "", 0, NULL }, { " 2 ", 2, NULL }, { "1K", 1024, NULL }, { "1k", 1024, NULL }, { "-1", -1, NULL },
		{ "+5", 5, NULL }, { "010", 10, NULL }, { "2g", 2147483648LL, NULL },
		{ "x", 0, "integer expected but \"x\" found" },
		{ "1x", 0, "invalid integer \"1x\"" },
		{ "0x10", 0, "invalid integer \"0x10\"" },
		{ "1 K", 0, "invalid integer \"1 K\"" },
		{ "9999999999999999999", 0, "absolute value of integer \"9999999999999999999\" is too large (overflow)" },
		{ "8589934592G", 0, "absolute value of integer \"8589934592G\" is too large (overflow)" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		long long v = -12345;
		xbuf err;
		xbuf_init(&err, NULL);
		bool ok = xp_parse_number(sv_cstr(rows[i].in), &v, &err);
		CHECK(ok == (rows[i].err == NULL));
		if (ok)
			CHECK_INT(v, rows[i].v);
		else
			CHECK_STR(xbuf_cstr(&err), rows[i].err);
		xbuf_free(&err);
	}
}

static void test_eval_bounds(void)
{
	/* deep nesting is refused, not recursed into without limit */
	xbuf e, err;
	long long v;
	xbuf_init(&e, NULL);
	xbuf_init(&err, NULL);
	for (int i = 0; i < 100000; i++)
		xbuf_putc(&e, '(');
	CHECK(!xp_eval_arith(xbuf_sv(&e), false, &v, &err));
	xbuf_reset(&e);
	for (int i = 0; i < 100000; i++)
		xbuf_putc(&e, '-');
	xbuf_putc(&e, '1');
	CHECK(!xp_eval_arith(xbuf_sv(&e), false, &v, &err));
	xbuf_reset(&e);
	xbuf_puts(&e, "((((1))))+(2*(3))");
	CHECK(xp_eval_arith(xbuf_sv(&e), false, &v, &err) && v == 7);
	/* a view that is not NUL-terminated is read within its length */
	CHECK(xp_eval_arith(sv_make("12+3456", 4), false, &v, &err) && v == 15);
	xbuf_free(&e);
	xbuf_free(&err);
}

static void test_quote_lookup_and_taint(void)
{
	xbuf out, err;
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	/* a query-style lookup with a quote function: the result carries its quoter id */
	const lookup_info *pg = search_driver(sv_cstr("pgsql"));
	sv tainted = sv_tainted(sv_cstr("it's"));
	if (pg && pg->quote) {
		CHECK_INT(xp_op_apply(sv_cstr("quote_pgsql"), tainted, &out, &err), XP_OP_OK);
		CHECK_STR(xbuf_cstr(&out), "it''s");
		CHECK_INT(out.quoter, search_quoter_id(pg));
		CHECK(out.quoter != 0);
		CHECK_INT(out.taint, 1);
	}
	/* single-key lookups: unchanged, no quoter, no option */
	xbuf_reset(&out);
	CHECK_INT(xp_op_apply(sv_cstr("quote_lsearch"), sv_cstr("a b"), &out, &err), XP_OP_OK);
	CHECK_STR(xbuf_cstr(&out), "a b");
	CHECK_INT(out.quoter, 0);
	CHECK_INT(xp_op_apply(sv_cstr("quote_lsearch_x"), sv_cstr("a"), &out, &err), XP_OP_ERROR);
	CHECK_STR(xbuf_cstr(&err), "\"x\" unrecognized after \"${quote_lsearch\"");
	CHECK_INT(xp_op_apply(sv_cstr("quote_nosuch"), sv_cstr("a"), &out, &err), XP_OP_ERROR);
	CHECK_STR(xbuf_cstr(&err), "unknown lookup type \"nosuch\"");
	/* other operators keep the subject's taint and set no quoter */
	xbuf_reset(&out);
	CHECK_INT(xp_op_apply(sv_cstr("uc"), tainted, &out, &err), XP_OP_OK);
	CHECK_INT(out.taint, 1);
	CHECK_INT(out.quoter, 0);
	xbuf_reset(&out);
	CHECK_INT(xp_op_apply(sv_cstr("md5"), sv_cstr("abc"), &out, &err), XP_OP_OK);
	CHECK_INT(out.taint, 0);
	/* names */
	CHECK(xp_op_exists(sv_cstr("sha2_512")));
	CHECK(xp_op_exists(sv_cstr("h_3")));
	CHECK(xp_op_exists(sv_cstr("quote_anything")));
	CHECK(!xp_op_exists(sv_cstr("expand"))); /* the engine's own */
	CHECK(!xp_op_exists(sv_cstr("bless")));  /* not in 4.96 */
	CHECK(!xp_op_exists(sv_cstr("local_part_x")));
	CHECK_INT(xp_op_apply(sv_cstr("headerwrap"), sv_cstr("a"), &out, &err), XP_OP_UNKNOWN);
	CHECK_STR(xbuf_cstr(&err), "unknown expansion operator \"headerwrap\"");
	xbuf_free(&out);
	xbuf_free(&err);
}

/* Every operator on random bytes: no crash, no read outside the subject (the subject is an
 * exactly-sized heap copy, so ASan in the sanitizer tree catches overruns), and the output
 * buffer stays NUL-terminated. */
static void test_junk(void)
{
	static const char *const ops[] = { "address", "addresses", "domain", "local_part", "base32", "base32d",
		"base62", "base62d", "base64", "base64d", "escape", "escape8bit", "eval", "eval10", "from_utf8",
		"hash_3_10", "hex2b64", "hexquote", "ipv6denorm", "ipv6norm", "lc", "length_2", "listcount", "mask",
		"mask_n", "md5", "nhash_7_3", "quote", "quote_local_part", "reverse_ip", "rfc2047", "rfc2047d",
		"rxquote", "sha1", "sha256", "sha3", "str2b64", "strlen", "substr_-2_3", "time_eval",
		"time_interval", "uc", "utf8clean", "utf8_domain_to_alabel", "utf8_domain_from_alabel",
		"utf8_localpart_to_alabel", "utf8_localpart_from_alabel" };
	static const char alphabet[] = "aZ09 =?@<>()\":;,.[]/%+-*~^|&xXqQbB\\\t\n\x80\xc3\xa9\xff";
	srand(99);
	bool terminated = true;
	for (int round = 0; round < 30000; round++) {
		size_t n = (size_t)(rand() % 48);
		char *heap = malloc(n ? n : 1);
		for (size_t k = 0; k < n; k++)
			heap[k] = alphabet[rand() % (int)(sizeof alphabet - 1)];
		xbuf out, err;
		xbuf_init(&out, NULL);
		xbuf_init(&err, NULL);
		xp_op_apply(sv_cstr(ops[round % (int)(sizeof ops / sizeof ops[0])]), sv_make(heap, n), &out, &err);
		terminated &= xbuf_cstr(&out)[out.len] == 0;
		xbuf_free(&out);
		xbuf_free(&err);
		free(heap);
	}
	CHECK(terminated);
}

int main(void)
{
	RUN(test_base64);
	RUN(test_hex_xtext_numbers);
	RUN(test_digests);
	RUN(test_numbers);
	RUN(test_eval_bounds);
	RUN(test_quote_lookup_and_taint);
	RUN(test_junk);
	return unit_report("test_codec");
}
