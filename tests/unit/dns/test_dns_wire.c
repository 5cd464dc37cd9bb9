/* DNS wire format: query building, response parsing (valid and hostile packets), name
 * decompression limits, resolver configuration parsing, reverse names and the cache. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit.h"
#include "core/dns_internal.h"

/* A packet under construction. */
typedef struct pkt {
	uint8_t b[4096];
	size_t n;
} pkt;

static void put8(pkt *p, unsigned v) { p->b[p->n++] = (uint8_t)v; }
static void put16(pkt *p, unsigned v) { put8(p, v >> 8); put8(p, v & 0xff); }
static void put32(pkt *p, uint32_t v) { put16(p, v >> 16); put16(p, v & 0xffff); }
static void putname(pkt *p, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		put8(p, (unsigned)l);
		memcpy(p->b + p->n, name, l);
		p->n += l;
		name += l + (dot ? 1 : 0);
	}
	put8(p, 0);
}
static void header(pkt *p, unsigned flags, unsigned qd, unsigned an, unsigned ns)
{
	p->n = 0;
	put16(p, 0x4242);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, 0);
}
static void question(pkt *p, const char *name, unsigned type)
{
	putname(p, name);
	put16(p, type);
	put16(p, 1);
}
/* A record header with a compressed owner pointing at the question name (offset 12). */
static void rr_head(pkt *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
	put16(p, 0xc00c);
	put16(p, type);
	put16(p, 1);
	put32(p, ttl);
	put16(p, rdlen);
}

static bool parse(pkt *p, dns_msg *m)
{
	return dns_parse_msg(pool_scratch, p->b, p->n, m);
}

static void test_build_query(void)
{
	uint8_t buf[600];
	size_t n = dns_build_query(buf, sizeof buf, 0x1234, SV_LIT("www.Example.com."), DNS_T_MX, false, false);
	const uint8_t want[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'E',
		'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 15, 0, 1 };
	CHECK_INT(n, sizeof want);
	CHECK(memcmp(buf, want, sizeof want) == 0);
	/* EDNS0 with DO: an OPT record, ARCOUNT 1, DO bit set. */
	n = dns_build_query(buf, sizeof buf, 1, SV_LIT("a.b"), DNS_T_A, true, true);
	CHECK_INT(n, 12 + 5 + 4 + 11);
	CHECK_INT(buf[11], 1);
	CHECK_INT(buf[12 + 9 + 2], DNS_T_OPT);
	CHECK_INT(buf[12 + 9 + 7], 0x80);
	/* Escapes. */
	n = dns_build_query(buf, sizeof buf, 1, SV_LIT("a\\.b.c\\065"), DNS_T_A, false, false);
	const uint8_t esc[] = { 3, 'a', '.', 'b', 2, 'c', 'A', 0 };
	CHECK(n > 0 && memcmp(buf + 12, esc, sizeof esc) == 0);
	/* Invalid names. */
	static const char *const bad[] = { "a..b", ".a", "a\\", "a\\256", "a.." };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_INT(dns_build_query(buf, sizeof buf, 1, sv_cstr(bad[i]), DNS_T_A, false, false), 0);
	char label[70];
	memset(label, 'x', 64);
	label[64] = 0;
	CHECK_INT(dns_build_query(buf, sizeof buf, 1, sv_cstr(label), DNS_T_A, false, false), 0);
	label[63] = 0;
	CHECK(dns_build_query(buf, sizeof buf, 1, sv_cstr(label), DNS_T_A, false, false) > 0);
	/* 255-byte limit: 4 labels of 63 = 4*64+1 = 257 wire bytes. */
	char longname[300];
	snprintf(longname, sizeof longname, "%s.%s.%s.%s", label, label, label, label);
	CHECK_INT(dns_build_query(buf, sizeof buf, 1, sv_cstr(longname), DNS_T_A, false, false), 0);
	/* An escaped trailing dot is part of the label; an escaped backslash before it is not. */
	n = dns_build_query(buf, sizeof buf, 1, SV_LIT("tes\\."), DNS_T_A, false, false);
	const uint8_t tesdot[] = { 4, 't', 'e', 's', '.', 0 };
	CHECK(n > 0 && memcmp(buf + 12, tesdot, sizeof tesdot) == 0);
	n = dns_build_query(buf, sizeof buf, 1, SV_LIT("x\\\\."), DNS_T_A, false, false);
	const uint8_t xbs[] = { 2, 'x', '\\', 0 };
	CHECK(n > 0 && memcmp(buf + 12, xbs, sizeof xbs) == 0);
	/* The root and the empty name are the root. */
	CHECK(dns_build_query(buf, sizeof buf, 1, SV_LIT("."), DNS_T_NS, false, false) == 17);
}

static void test_parse_types(void)
{
	pkt p;
	dns_msg m;
	header(&p, 0x8580, 1, 9, 0);
	question(&p, "Host.Test", DNS_T_A);
	rr_head(&p, DNS_T_A, 300, 4);
	put32(&p, 0xc0000201);
	rr_head(&p, DNS_T_AAAA, 60, 16);
	put32(&p, 0x20010db8); put32(&p, 0); put32(&p, 0); put32(&p, 1);
	rr_head(&p, DNS_T_MX, 10, 4);
	put16(&p, 5);
	put16(&p, 0xc00c); /* the question name */
	rr_head(&p, DNS_T_TXT, 10, 8);
	put8(&p, 3); put8(&p, 'a'); put8(&p, 'b'); put8(&p, 'c');
	put8(&p, 0);
	put8(&p, 2); put8(&p, 'd'); put8(&p, 'e');
	rr_head(&p, DNS_T_SRV, 10, 8);
	put16(&p, 1); put16(&p, 2); put16(&p, 25); put16(&p, 0xc00c);
	rr_head(&p, DNS_T_TLSA, 10, 5);
	put8(&p, 3); put8(&p, 1); put8(&p, 1); put8(&p, 0xab); put8(&p, 0x01);
	rr_head(&p, DNS_T_SOA, 10, 4 + 20);
	put16(&p, 0xc00c); put16(&p, 0xc00c);
	put32(&p, 7); put32(&p, 8); put32(&p, 9); put32(&p, 10); put32(&p, 11);
	rr_head(&p, DNS_T_PTR, 0x80000000u, 6);
	put8(&p, 1); put8(&p, 'x'); put8(&p, 1); put8(&p, '.'); put16(&p, 0xc00c);
	rr_head(&p, 999, 1, 2); /* unknown type: kept raw */
	put16(&p, 0xbeef);
	CHECK(parse(&p, &m));
	CHECK(m.qr && m.aa && m.rd && m.ra && !m.tc && !m.ad);
	CHECK_STR(sv_dup(pool_scratch, m.qname), "host.test");
	dns_rr *r = m.answers;
	CHECK_STR(sv_dup(pool_scratch, r->name), "host.test");
	CHECK_STR(sv_dup(pool_scratch, r->text), "192.0.2.1");
	CHECK(r->text.taint);
	r = r->next;
	CHECK_STR(sv_dup(pool_scratch, r->text), "2001:db8::1");
	r = r->next;
	CHECK_INT(r->pref, 5);
	CHECK_STR(sv_dup(pool_scratch, r->text), "Host.Test");
	r = r->next;
	CHECK_INT(r->nstrings, 3);
	CHECK_STR(sv_dup(pool_scratch, r->text), "abcde");
	CHECK_INT(r->strings[1].len, 0);
	r = r->next;
	CHECK(r->pref == 1 && r->weight == 2 && r->port == 25);
	r = r->next;
	CHECK(r->tlsa_usage == 3 && r->tlsa_selector == 1 && r->tlsa_mtype == 1);
	CHECK_STR(sv_dup(pool_scratch, r->text), "ab01");
	r = r->next;
	CHECK(r->soa_serial == 7 && r->soa_minimum == 11);
	CHECK_STR(sv_dup(pool_scratch, r->soa_rname), "Host.Test");
	r = r->next;
	CHECK_INT(r->ttl, 0); /* top bit set: zero */
	CHECK_STR(sv_dup(pool_scratch, r->text), "x.\\..Host.Test");
	r = r->next;
	CHECK_INT(r->type, 999);
	CHECK_INT(r->rdata.len, 2);
	CHECK(r->next == NULL);
}

/* Hostile packets: each must be rejected without reading outside the buffer (ASan build). */
static void test_parse_malicious(void)
{
	pkt p;
	dns_msg m;
	/* Too short for a header. */
	header(&p, 0x8180, 0, 0, 0);
	CHECK(!dns_parse_msg(pool_scratch, p.b, 11, &m));
	/* Two questions. */
	header(&p, 0x8180, 2, 0, 0);
	question(&p, "a", 1);
	question(&p, "b", 1);
	CHECK(!parse(&p, &m));
	/* Question name runs off the end. */
	header(&p, 0x8180, 1, 0, 0);
	put8(&p, 10);
	put8(&p, 'a');
	CHECK(!parse(&p, &m));
	/* Self-pointing compression (a loop). */
	header(&p, 0x8180, 1, 0, 0);
	put16(&p, 0xc00c);
	put16(&p, 1); put16(&p, 1);
	CHECK(!parse(&p, &m));
	/* Forward pointer. */
	header(&p, 0x8180, 1, 0, 0);
	put16(&p, 0xc010);
	put16(&p, 1); put16(&p, 1);
	put8(&p, 0);
	CHECK(!parse(&p, &m));
	/* Two names pointing at each other: the second points forward to the first's later copy. */
	header(&p, 0x8180, 1, 1, 0);
	question(&p, "a", 1);  /* offset 12: 01 'a' 00 */
	put8(&p, 1); put8(&p, 'b'); put16(&p, 0xc000 | 21); /* offset 19: points at itself+2 */
	put16(&p, 1); put16(&p, 1); put32(&p, 1); put16(&p, 0);
	CHECK(!parse(&p, &m));
	/* Reserved label types 0x40 / 0x80. */
	header(&p, 0x8180, 1, 0, 0);
	put8(&p, 0x41);
	put16(&p, 1); put16(&p, 1);
	CHECK(!parse(&p, &m));
	/* A name longer than 255 bytes through chained pointers. */
	header(&p, 0x8180, 0, 1, 0);
	size_t prev = 0;
	for (int i = 0; i < 10; i++) {
		size_t here = p.n;
		put8(&p, 40);
		memset(p.b + p.n, 'x', 40);
		p.n += 40;
		if (prev)
			put16(&p, 0xc000 | (unsigned)prev);
		else
			put8(&p, 0);
		prev = here;
	}
	/* answer owner = the last chain start */
	put16(&p, 0xc000 | (unsigned)prev);
	put16(&p, 1); put16(&p, 1); put32(&p, 1); put16(&p, 4); put32(&p, 0);
	CHECK(!parse(&p, &m));
	/* RDLENGTH beyond the packet. */
	header(&p, 0x8180, 1, 1, 0);
	question(&p, "a", 1);
	rr_head(&p, DNS_T_A, 1, 200);
	put32(&p, 0);
	CHECK(!parse(&p, &m));
	/* Wrong A length. */
	header(&p, 0x8180, 1, 1, 0);
	question(&p, "a", 1);
	rr_head(&p, DNS_T_A, 1, 3);
	put8(&p, 1); put8(&p, 2); put8(&p, 3);
	CHECK(!parse(&p, &m));
	/* TXT string length past RDATA. */
	header(&p, 0x8180, 1, 1, 0);
	question(&p, "a", 16);
	rr_head(&p, DNS_T_TXT, 1, 3);
	put8(&p, 5); put8(&p, 'a'); put8(&p, 'b');
	CHECK(!parse(&p, &m));
	/* MX whose name overruns its RDATA. */
	header(&p, 0x8180, 1, 1, 0);
	question(&p, "a", 15);
	rr_head(&p, DNS_T_MX, 1, 3);
	put16(&p, 1);
	put8(&p, 1);
	put8(&p, 'z'); put8(&p, 0);
	CHECK(!parse(&p, &m));
	/* Record count larger than the records present. */
	header(&p, 0x8180, 1, 3, 0);
	question(&p, "a", 1);
	rr_head(&p, DNS_T_A, 1, 4);
	put32(&p, 0);
	CHECK(!parse(&p, &m));
	/* Zero-length RDATA as the last bytes of the packet (found by fuzz_dns: the copy read one
	 * byte past the end). */
	header(&p, 0x8180, 1, 1, 0);
	question(&p, "test", 28);
	rr_head(&p, 999, 1, 0);
	CHECK(parse(&p, &m) && m.answers && m.answers->rdata.len == 0);
	/* ... and for a type whose RDATA may not be empty. */
	header(&p, 0x8180, 1, 1, 0);
	question(&p, "test", 28);
	rr_head(&p, DNS_T_AAAA, 1, 0);
	CHECK(!parse(&p, &m));
	/* TC: records are not read (the reply may be cut anywhere). */
	header(&p, 0x8380, 1, 3, 0);
	question(&p, "a", 1);
	CHECK(parse(&p, &m) && m.tc && m.answers == NULL);
	/* Every truncation of a valid packet is handled. */
	header(&p, 0x8180, 1, 2, 0);
	question(&p, "x.y", 15);
	rr_head(&p, DNS_T_MX, 1, 4);
	put16(&p, 1); put16(&p, 0xc00c);
	rr_head(&p, DNS_T_TXT, 1, 2);
	put8(&p, 1); put8(&p, 'q');
	CHECK(parse(&p, &m));
	for (size_t n = 0; n < p.n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, p.b, n);
		CHECK(!dns_parse_msg(pool_scratch, copy, n, &m));
		free(copy);
	}
}

static void test_name_escapes(void)
{
	pkt p;
	p.n = 0;
	put8(&p, 3); put8(&p, 'a'); put8(&p, '\\'); put8(&p, 0x07); put8(&p, 0);
	size_t off = 0;
	xbuf b;
	xbuf_init(&b, pool_scratch);
	CHECK(dns_name_expand(p.b, p.n, &off, &b));
	CHECK_STR(xbuf_cstr(&b), "a\\\\\\007");
	CHECK_INT(off, 5);
}

static void test_config(void)
{
	dns_config c;
	memset(&c, 0, sizeof c);
	c.timeout = 5;
	c.attempts = 2;
	dns_parse_resolv_conf(SV_LIT("# comment\nsearch x\nnameserver 192.0.2.53\nnameserver ::1\n"
		"nameserver bogus\noptions timeout:3 attempts:4 edns0\n"), &c);
	CHECK_INT(c.nservers, 2);
	CHECK(c.servers[0].port == 53 && c.servers[0].addr[3] == 53);
	CHECK_INT(c.servers[1].addr[15], 1);
	CHECK(c.timeout == 3 && c.attempts == 4 && c.edns0);
	xbuf err;
	xbuf_init(&err, pool_scratch);
	CHECK(dns_parse_servers("<; 127.0.0.1.5353 ; ::1.53 ; [::2]:54 ; 10.0.0.1 ; 10.0.0.2:55", &c, &err));
	CHECK_INT(c.nservers, 5);
	CHECK_INT(c.servers[0].port, 5353);
	CHECK(c.servers[1].port == 53 && c.servers[1].addr[15] == 1);
	CHECK(c.servers[2].port == 54 && c.servers[2].addr[15] == 2);
	CHECK(c.servers[3].port == 53);
	CHECK(c.servers[4].port == 55 && c.servers[4].addr[3] == 2);
	CHECK(dns_parse_servers("127.0.0.1::5353", &c, &err) && c.nservers == 1 && c.servers[0].port == 5353);
	static const char *const bad[] = { "nothost", "127.0.0.1.0", "127.0.0.1.70000", "[::1]x",
		"[::1]:", "1.2.3" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		xbuf_reset(&err);
		CHECK(!dns_parse_servers(bad[i], &c, &err));
		CHECK(err.len > 0);
	}
}

static void test_reverse(void)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	CHECK(dns_reverse_name(SV_LIT("192.0.2.1"), &b));
	CHECK_STR(xbuf_cstr(&b), "1.2.0.192.in-addr.arpa");
	xbuf_reset(&b);
	CHECK(dns_reverse_name(SV_LIT("::ffff:10.1.2.3"), &b));
	CHECK_STR(xbuf_cstr(&b), "3.2.1.10.in-addr.arpa");
	xbuf_reset(&b);
	CHECK(dns_reverse_name(SV_LIT("2001:db8::1"), &b));
	CHECK_STR(xbuf_cstr(&b), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	CHECK(!dns_reverse_name(SV_LIT("not.an.ip"), &b));
}

static void test_cache(void)
{
	dns_cache_flush();
	dns_rr rr = { .name = SV_LIT("h.test"), .type = DNS_T_A, .ttl = 5, .text = SV_LIT("192.0.2.1") };
	dns_answer ans = { .rc = DNS_SUCCEED, .rrs = &rr, .canonical = SV_LIT("h.test"), .authentic = true };
	dns_cache_put(SV_LIT("H.Test"), DNS_T_A, false, &ans, 5);
	dns_answer got;
	CHECK(dns_cache_get(pool_scratch, SV_LIT("h.test"), DNS_T_A, false, &got));
	CHECK(got.rc == DNS_SUCCEED && got.authentic && got.rrs && !got.rrs->next);
	CHECK_STR(sv_dup(pool_scratch, got.rrs->text), "192.0.2.1");
	CHECK(got.rrs != &rr); /* a copy */
	CHECK(!dns_cache_get(pool_scratch, SV_LIT("h.test"), DNS_T_AAAA, false, &got));
	CHECK(!dns_cache_get(pool_scratch, SV_LIT("h.test"), DNS_T_A, true, &got));
	/* Negative answers are cached too; TTL 0 and temporary failures are not. */
	dns_answer neg = { .rc = DNS_NOMATCH };
	dns_cache_put(SV_LIT("n.test"), DNS_T_A, false, &neg, 60);
	CHECK(dns_cache_get(pool_scratch, SV_LIT("n.test"), DNS_T_A, false, &got) && got.rc == DNS_NOMATCH);
	dns_cache_put(SV_LIT("z.test"), DNS_T_A, false, &neg, 0);
	CHECK(!dns_cache_get(pool_scratch, SV_LIT("z.test"), DNS_T_A, false, &got));
	dns_answer again = { .rc = DNS_AGAIN };
	dns_cache_put(SV_LIT("a.test"), DNS_T_A, false, &again, 60);
	CHECK(!dns_cache_get(pool_scratch, SV_LIT("a.test"), DNS_T_A, false, &got));
	/* Expiry. */
	dns_cache_put(SV_LIT("e.test"), DNS_T_A, false, &ans, 1);
	CHECK(dns_cache_get(pool_scratch, SV_LIT("e.test"), DNS_T_A, false, &got));
	sleep(2);
	CHECK(!dns_cache_get(pool_scratch, SV_LIT("e.test"), DNS_T_A, false, &got));
	dns_cache_flush();
	CHECK(!dns_cache_get(pool_scratch, SV_LIT("h.test"), DNS_T_A, false, &got));
}

int main(void)
{
	arena_init_pools();
	RUN(test_build_query);
	RUN(test_parse_types);
	RUN(test_parse_malicious);
	RUN(test_name_escapes);
	RUN(test_config);
	RUN(test_reverse);
	RUN(test_cache);
	return unit_report("test_dns_wire");
}
