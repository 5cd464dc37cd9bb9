/* PROXY header parser: cases derived from the receiver rules of the PROXY protocol spec
 * (sections 2.1 and 2.2), plus the cases where Exim 4.96 is lax and we are strict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ip.h"
#include "mail/proxy.h"
#include "unit.h"

typedef struct v1_case {
	const char *line;
	bool ok, local;
	const char *src, *dst;
	int sport, dport;
} v1_case;

static const v1_case v1_cases[] = {
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\r\n", true, false, "192.0.2.7", "198.51.100.9", 40000, 25 },
	{ "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", true, false, "255.255.255.255", "255.255.255.255", 65535, 65535 },
	{ "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", true, false, "0.0.0.0", "0.0.0.0", 0, 0 },
	{ "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n", true, false, "2001:db8::1", "2001:db8::2", 1, 2 },
	{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		true, false, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535 },
	{ "PROXY UNKNOWN\r\n", true, true, NULL, NULL, 0, 0 },
	{ "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		true, true, NULL, NULL, 0, 0 },   /* 107 bytes: the longest line */
	{ "PROXY UNKNOWN whatever junk\r\n", true, true, NULL, NULL, 0, 0 },
	/* invalid */
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\n", false , false, NULL, NULL, 0, 0 },      /* bare LF */
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\r", false , false, NULL, NULL, 0, 0 },      /* no LF */
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\r\r\n", false , false, NULL, NULL, 0, 0 },  /* extra CR */
	{ "PROXY TCP4 192.0.2.7  198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },   /* double space */
	{ "PROXY  TCP4 192.0.2.7 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25 \r\n", false , false, NULL, NULL, 0, 0 },   /* trailing space */
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 40000\r\n", false , false, NULL, NULL, 0, 0 },       /* missing field */
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25 1\r\n", false , false, NULL, NULL, 0, 0 },  /* extra field */
	{ "PROXY TCP4 2001:db8::1 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },  /* family mismatch */
	{ "PROXY TCP6 192.0.2.7 2001:db8::2 1 2\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::2 1 2\r\n", false, false, NULL, NULL, 0, 0 },  /* dotted quad */
	{ "PROXY TCP6 2001:DB8::1 2001:db8::2 1 2\r\n", true, false, "2001:db8::1", "2001:db8::2", 1, 2 },
	{ "PROXY TCP6 2001:db8::1 192.0.2.9 1 2\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 65536 25\r\n", false , false, NULL, NULL, 0, 0 },    /* port > 65535 */
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 99999 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 040000 25\r\n", false , false, NULL, NULL, 0, 0 },   /* leading zero */
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 -1 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP4 192.0.2.7 198.51.100.9 4a 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP4 192.0.2.07 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },   /* octal-looking quad */
	{ "PROXY TCP4 192.0.2.256 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP4 192.0.2 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY TCP5 192.0.2.7 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY tcp4 192.0.2.7 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY UNKNOWNX\r\n", false , false, NULL, NULL, 0, 0 },
	{ "PROXY\r\n", false , false, NULL, NULL, 0, 0 },
	{ "proxy TCP4 192.0.2.7 198.51.100.9 40000 25\r\n", false , false, NULL, NULL, 0, 0 },
};

static void test_v1(void)
{
	for (size_t i = 0; i < sizeof v1_cases / sizeof v1_cases[0]; i++) {
		const v1_case *c = &v1_cases[i];
		size_t n = strlen(c->line);
		proxy_header h;
		const char *why = NULL;
		bool ok = proxy_parse((const uint8_t *)c->line, n, &h, &why);
		if (ok != c->ok)
			fprintf(stderr, "case %zu (%s): got %d (%s)\n", i, c->line, ok, why ? why : "");
		CHECK(ok == c->ok);
		if (!ok || !c->ok)
			continue;
		CHECK_INT(h.version, 1);
		CHECK(h.local == c->local);
		if (c->local)
			continue;
		xbuf b;
		xbuf_init(&b, NULL);
		ip_format(&h.src, &b);
		CHECK_STR(xbuf_cstr(&b), c->src);
		xbuf_reset(&b);
		ip_format(&h.dst, &b);
		CHECK_STR(xbuf_cstr(&b), c->dst);
		xbuf_free(&b);
		CHECK_INT(h.src_port, c->sport);
		CHECK_INT(h.dst_port, c->dport);
	}
}

static void test_lengths(void)
{
	const char *l = "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\r\nEHLO x\r\n";
	CHECK_INT(proxy_header_length((const uint8_t *)l, strlen(l)), 44);
	CHECK_INT(proxy_header_length((const uint8_t *)l, 20), 0);        /* LF not yet seen */
	CHECK_INT(proxy_header_length((const uint8_t *)"PRO", 3), 0);
	CHECK_INT(proxy_header_length((const uint8_t *)"EHLO x\r\n", 8), -1);
	char longline[200];
	memset(longline, 'a', sizeof longline);
	memcpy(longline, "PROXY ", 6);
	CHECK_INT(proxy_header_length((const uint8_t *)longline, 106), 0);
	CHECK_INT(proxy_header_length((const uint8_t *)longline, 107), -1);  /* no LF in 107 bytes */
	CHECK_INT(proxy_header_length((const uint8_t *)longline, 200), -1);
	static const char nul[] = "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\0\r\n";
	proxy_header h;
	const char *why;
	CHECK(!proxy_parse((const uint8_t *)nul, sizeof nul - 1, &h, &why));
	/* 108-byte line: rejected by the parser too */
	memcpy(longline + 106, "\r\n", 2);
	CHECK(!proxy_parse((const uint8_t *)longline, 108, &h, &why));
	uint8_t v2[16];
	memcpy(v2, proxy_v2_signature, 12);
	v2[12] = 0x21; v2[13] = 0x11; v2[14] = 0; v2[15] = 12;
	CHECK_INT(proxy_header_length(v2, 11), 0);
	CHECK_INT(proxy_header_length(v2, 15), 0);
	CHECK_INT(proxy_header_length(v2, 16), 28);
	v2[14] = 0xff; v2[15] = 0xff;
	CHECK_INT(proxy_header_length(v2, 16), -1);
	v2[5] = 'x';
	CHECK_INT(proxy_header_length(v2, 16), -1);
}

/* v2 header builder */
typedef struct hb { uint8_t b[2048]; size_t n; } hb;

static void hb_start(hb *h, uint8_t vc, uint8_t fam)
{
	memcpy(h->b, proxy_v2_signature, 12);
	h->b[12] = vc;
	h->b[13] = fam;
	h->n = 16;
}
static void hb_put(hb *h, const void *p, size_t n) { memcpy(h->b + h->n, p, n); h->n += n; }
static void hb_tlv(hb *h, uint8_t type, const void *v, size_t n)
{
	uint8_t t[3] = { type, (uint8_t)(n >> 8), (uint8_t)n };
	hb_put(h, t, 3);
	hb_put(h, v, n);
}
static void hb_finish(hb *h)
{
	size_t len = h->n - 16;
	h->b[14] = (uint8_t)(len >> 8);
	h->b[15] = (uint8_t)len;
}
static const uint8_t v4_block[12] = { 192, 0, 2, 7, 198, 51, 100, 9, 0x9c, 0x40, 0, 25 };

static bool parse_hb(hb *h, proxy_header *out, const char **why)
{
	return proxy_parse(h->b, h->n, out, why);
}

static void test_v2_basic(void)
{
	hb h;
	proxy_header p;
	const char *why;
	xbuf b;
	xbuf_init(&b, NULL);

	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why));
	CHECK_INT(p.version, 2);
	CHECK(!p.local);
	ip_format(&p.src, &b); CHECK_STR(xbuf_cstr(&b), "192.0.2.7"); xbuf_reset(&b);
	ip_format(&p.dst, &b); CHECK_STR(xbuf_cstr(&b), "198.51.100.9"); xbuf_reset(&b);
	CHECK_INT(p.src_port, 40000);
	CHECK_INT(p.dst_port, 25);

	uint8_t v6[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1, [16] = 0x20, [17] = 0x01, [18] = 0x0d, [19] = 0xb8,
		[31] = 2, [32] = 0xff, [33] = 0xff, [34] = 0, [35] = 0 };
	hb_start(&h, 0x21, 0x21); hb_put(&h, v6, 36); hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why));
	ip_format(&p.src, &b); CHECK_STR(xbuf_cstr(&b), "2001:db8::1"); xbuf_reset(&b);
	ip_format(&p.dst, &b); CHECK_STR(xbuf_cstr(&b), "2001:db8::2"); xbuf_reset(&b);
	CHECK_INT(p.src_port, 65535);
	CHECK_INT(p.dst_port, 0);

	/* LOCAL with no address, and LOCAL with an address block the receiver must skip */
	hb_start(&h, 0x20, 0x00); hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why) && p.local);
	hb_start(&h, 0x20, 0x11); hb_put(&h, v4_block, 12); hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why) && p.local);
	hb_start(&h, 0x20, 0x11); hb_put(&h, "abc", 3); hb_finish(&h);  /* LOCAL: length is just skipped */
	CHECK(parse_hb(&h, &p, &why) && p.local);
	/* PROXY with UNSPEC family: fall back to the real endpoints */
	hb_start(&h, 0x21, 0x00); hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why) && p.local);
	hb_start(&h, 0x21, 0x10); hb_put(&h, v4_block, 12); hb_finish(&h);  /* INET, UNSPEC transport */
	CHECK(parse_hb(&h, &p, &why) && p.local);

	/* invalid */
	static const struct { uint8_t vc, fam; size_t blk; } bad[] = {
		{ 0x11, 0x11, 12 },  /* version 1 in the binary format */
		{ 0x31, 0x11, 12 },  /* version 3 */
		{ 0x22, 0x11, 12 },  /* command 2 */
		{ 0x2f, 0x11, 12 },
		{ 0x21, 0x12, 12 },  /* UDP over IPv4 */
		{ 0x21, 0x22, 36 },  /* UDP over IPv6 */
		{ 0x21, 0x31, 216 }, /* UNIX stream */
		{ 0x21, 0x41, 12 },  /* unassigned family */
		{ 0x21, 0x13, 12 },  /* unassigned transport */
		{ 0x21, 0x11, 0 },   /* short: no address block */
		{ 0x21, 0x11, 11 },  /* short by one */
		{ 0x21, 0x21, 0 },   /* the Exim stack-leak case: 0x21 with len 0 */
		{ 0x21, 0x21, 12 },  /* IPv6 with an IPv4-sized block */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t blk[216] = { 0 };
		memcpy(blk, v4_block, 12);
		hb_start(&h, bad[i].vc, bad[i].fam); hb_put(&h, blk, bad[i].blk); hb_finish(&h);
		bool ok = parse_hb(&h, &p, &why);
		if (ok)
			fprintf(stderr, "bad v2 case %zu accepted\n", i);
		CHECK(!ok);
	}
	/* declared length not matching the buffer */
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_finish(&h);
	CHECK(!proxy_parse(h.b, h.n - 1, &p, &why));
	CHECK(!proxy_parse(h.b, 15, &p, &why));
	xbuf_free(&b);
}

static void test_v2_tlvs(void)
{
	hb h;
	proxy_header p;
	const char *why;
	uint8_t ssl[64];
	size_t sn = 0;
	ssl[sn++] = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN;
	ssl[sn++] = 0; ssl[sn++] = 0; ssl[sn++] = 0; ssl[sn++] = 0;
	ssl[sn++] = PP2_SUBTYPE_SSL_VERSION; ssl[sn++] = 0; ssl[sn++] = 7; memcpy(ssl + sn, "TLSv1.3", 7); sn += 7;
	ssl[sn++] = PP2_SUBTYPE_SSL_CN; ssl[sn++] = 0; ssl[sn++] = 11; memcpy(ssl + sn, "example.com", 11); sn += 11;
	ssl[sn++] = PP2_SUBTYPE_SSL_CIPHER; ssl[sn++] = 0; ssl[sn++] = 3; memcpy(ssl + sn, "AES", 3); sn += 3;

	hb_start(&h, 0x21, 0x11);
	hb_put(&h, v4_block, 12);
	hb_tlv(&h, PP2_TYPE_ALPN, "smtp", 4);
	hb_tlv(&h, PP2_TYPE_AUTHORITY, "mx.example", 10);
	hb_tlv(&h, PP2_TYPE_NOOP, "", 0);
	hb_tlv(&h, PP2_TYPE_UNIQUE_ID, "\x01\x00\x02", 3);
	hb_tlv(&h, PP2_TYPE_SSL, ssl, sn);
	hb_tlv(&h, PP2_TYPE_NETNS, "blue", 4);
	hb_tlv(&h, 0xe0, "custom", 6);
	hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why));
	CHECK(p.tlv.alpn.len == 4 && memcmp(p.tlv.alpn.p, "smtp", 4) == 0);
	CHECK(p.tlv.alpn.taint);
	CHECK(p.tlv.authority.len == 10 && memcmp(p.tlv.authority.p, "mx.example", 10) == 0);
	CHECK(p.tlv.unique_id.len == 3 && p.tlv.unique_id.p[1] == 0);
	CHECK(p.tlv.netns.len == 4);
	CHECK(p.tlv.has_ssl);
	CHECK_INT(p.tlv.ssl_client, 3);
	CHECK_INT(p.tlv.ssl_verify, 0);
	CHECK(p.tlv.ssl_version.len == 7 && memcmp(p.tlv.ssl_version.p, "TLSv1.3", 7) == 0);
	CHECK(p.tlv.ssl_cn.len == 11);
	CHECK(p.tlv.ssl_cipher.len == 3);
	CHECK(p.tlv.ssl_sig_alg.p == NULL);
	CHECK(!p.tlv.has_crc32c);

	/* TLVs after a LOCAL header with a family are parsed too */
	hb_start(&h, 0x20, 0x11); hb_put(&h, v4_block, 12); hb_tlv(&h, PP2_TYPE_AUTHORITY, "a", 1); hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why) && p.local && p.tlv.authority.len == 1);

	/* truncated TLV, overrun, short SSL, long UNIQUE_ID, bad sub-TLV */
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_put(&h, "\x01\x00", 2); hb_finish(&h);
	CHECK(!parse_hb(&h, &p, &why));
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_put(&h, "\x01\x00\x05" "ab", 5); hb_finish(&h);
	CHECK(!parse_hb(&h, &p, &why));
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_tlv(&h, PP2_TYPE_SSL, "\x01\x00\x00", 3); hb_finish(&h);
	CHECK(!parse_hb(&h, &p, &why));
	uint8_t big[129] = { 0 };
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_tlv(&h, PP2_TYPE_UNIQUE_ID, big, 129); hb_finish(&h);
	CHECK(!parse_hb(&h, &p, &why));
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_tlv(&h, PP2_TYPE_UNIQUE_ID, big, 128); hb_finish(&h);
	CHECK(parse_hb(&h, &p, &why));
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12);
	hb_tlv(&h, PP2_TYPE_SSL, "\x01\x00\x00\x00\x00\x21\x00\x09TLS", 11); hb_finish(&h);
	CHECK(!parse_hb(&h, &p, &why));
}

static void test_crc(void)
{
	/* RFC 3720 B.4 test vectors for CRC32C */
	uint8_t zeros[32] = { 0 }, ones[32], inc[32];
	memset(ones, 0xff, 32);
	for (int i = 0; i < 32; i++) inc[i] = (uint8_t)i;
	CHECK_INT(proxy_crc32c(zeros, 32), 0x8a9136aa);
	CHECK_INT(proxy_crc32c(ones, 32), 0x62a8ab43);
	CHECK_INT(proxy_crc32c(inc, 32), 0x46dd794e);
	CHECK_INT(proxy_crc32c((const uint8_t *)"123456789", 9), 0xe3069283);

	hb h;
	proxy_header p;
	const char *why;
	hb_start(&h, 0x21, 0x11);
	hb_put(&h, v4_block, 12);
	hb_tlv(&h, PP2_TYPE_AUTHORITY, "mx.example", 10);
	size_t crc_at = h.n + 3;
	hb_tlv(&h, PP2_TYPE_CRC32C, "\0\0\0\0", 4);
	hb_finish(&h);
	uint32_t c = proxy_crc32c(h.b, h.n);
	h.b[crc_at] = (uint8_t)(c >> 24); h.b[crc_at + 1] = (uint8_t)(c >> 16);
	h.b[crc_at + 2] = (uint8_t)(c >> 8); h.b[crc_at + 3] = (uint8_t)c;
	CHECK(parse_hb(&h, &p, &why) && p.tlv.has_crc32c);
	h.b[20] ^= 1;  /* corrupt an address byte */
	CHECK(!parse_hb(&h, &p, &why));
	CHECK_STR(why, "PROXY v2 CRC32C mismatch");
	h.b[20] ^= 1;
	h.b[crc_at + 3] ^= 1;
	CHECK(!parse_hb(&h, &p, &why));
	/* wrong CRC TLV length */
	hb_start(&h, 0x21, 0x11); hb_put(&h, v4_block, 12); hb_tlv(&h, PP2_TYPE_CRC32C, "\0\0\0", 3); hb_finish(&h);
	CHECK(!parse_hb(&h, &p, &why));
}

int main(void)
{
	RUN(test_v1);
	RUN(test_lengths);
	RUN(test_v2_basic);
	RUN(test_v2_tlvs);
	RUN(test_crc);
	return unit_report("test_proxy_parse");
}
