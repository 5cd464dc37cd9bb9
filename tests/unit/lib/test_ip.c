/* ip.h: parsing, masks, and the formats of ${ipv6norm:}, ${ipv6denorm:}, ${reverse_ip:}.
 * Expected strings were taken from Exim 4.96 `exim -be`. */
#include "lib/ip.h"
#include "../unit.h"

static arena *A;

static const char *fmt(void (*f)(const ip_addr *, xbuf *), const char *text)
{
	ip_addr a;
	if (!ip_parse_zone(sv_cstr(text), &a, NULL))
		return "(invalid)";
	xbuf b;
	xbuf_init(&b, A);
	f(&a, &b);
	return xbuf_cstr(&b);
}

static void test_parse_valid_invalid(void)
{
	static const struct { const char *text; int ok; int family; } rows[] = {
		{ "1.2.3.4", 1, 4 }, { "0.0.0.0", 1, 4 }, { "255.255.255.255", 1, 4 }, { "1.2.3.0", 1, 4 },
		{ "1.2.3.00", 0, 0 }, { "01.2.3.4", 0, 0 }, { "1.2.3.010", 0, 0 }, { "1.2.3.256", 0, 0 },
		{ "1.2.3", 0, 0 }, { "1.2.3.4.", 0, 0 }, { ".1.2.3.4", 0, 0 }, { "1..2.3", 0, 0 },
		{ "1.2.3.1234", 0, 0 }, { "+1.2.3.4", 0, 0 }, { "1.2.3.-4", 0, 0 }, { "", 0, 0 },
		{ " 1.2.3.4", 0, 0 }, { "1.2.3.4 ", 0, 0 }, { "1.2.3.4/8", 0, 0 },
		{ "::1", 1, 6 }, { "::", 1, 6 }, { "1::", 1, 6 }, { "0001::", 1, 6 }, { "00001::", 0, 0 },
		{ "1:2:3:4:5:6:7:8", 1, 6 }, { "1:2:3:4:5:6:7", 0, 0 }, { "1:2:3:4:5:6:7:8:9", 0, 0 },
		{ "::1:2:3:4:5:6:7:8", 0, 0 }, { "1:2:3:4::5:6:7:8", 0, 0 }, { "1::2::3", 0, 0 },
		{ "[::1]", 0, 0 }, { "::g", 0, 0 }, { ":1::", 0, 0 }, { "1:::2", 0, 0 }, { "1:", 0, 0 },
		{ "::1 ", 0, 0 }, { "::ffff:1.2.3.4", 1, 6 }, { "64:ff9b::1.2.3.4", 1, 6 },
		{ "1:2:3:4:5:6:1.2.3.4", 1, 6 }, { "1:2:3:4:5:6:7:1.2.3.4", 0, 0 },
		{ "1:2:3:4:5:6::1.2.3.4", 0, 0 }, { "1:2:3:4:5:1.2.3.4", 0, 0 }, { "::1.2.3.04", 0, 0 },
		{ "::1.2.3.256", 0, 0 }, { "1::1.2.3.4.5", 0, 0 }, { "1::1.2.3", 0, 0 }, { "1.2.3.4::", 0, 0 },
		{ "fe80::1%eth0", 0, 0 }, { "2001:DB8::A", 1, 6 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		ip_addr a;
		bool ok = ip_parse(sv_cstr(rows[i].text), &a);
		if (ok != (bool)rows[i].ok)
			fprintf(stderr, "row %zu: %s\n", i, rows[i].text);
		CHECK_INT(ok, rows[i].ok);
		if (ok)
			CHECK_INT(a.family, rows[i].family);
	}
	ip_addr a;
	CHECK(!ip_parse(SV_NULL, &a));
	/* The view need not be NUL-terminated. */
	CHECK(ip_parse(sv_make("10.0.0.1xyz", 8), &a));
	CHECK_INT(a.b[0], 10);
	CHECK_INT(a.b[3], 1);
}

static void test_parse_zone(void)
{
	ip_addr a;
	sv z;
	CHECK(ip_parse_zone(SV_LIT("fe80::1%eth0"), &a, &z));
	CHECK_INT(z.len, 4);
	CHECK(sv_eq_cstr(z, "eth0"));
	CHECK(ip_parse_zone(SV_LIT("fe80::1%"), &a, &z));
	CHECK_INT(z.len, 0);
	CHECK(!ip_parse_zone(SV_LIT("1.2.3.4%x"), &a, &z));
	CHECK(ip_parse_zone(SV_LIT("1.2.3.4"), &a, &z));
	CHECK_INT(z.len, 0);
	CHECK(!ip_parse_zone(SV_LIT("%eth0"), &a, NULL));
}

static void test_formats(void)
{
	static const struct { const char *in, *norm, *full, *rfc; } rows[] = {
		{ "::1", "::1", "0000:0000:0000:0000:0000:0000:0000:0001", "::1" },
		{ "0:0:0:0:0:0:0:1", "::1", NULL, "::1" },
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", NULL, "2001:db8::1:0:0:1" },
		{ "2001:0:0:1:0:0:0:1", "2001:0:0:1::1", NULL, "2001:0:0:1::1" },
		{ "::ffff:1.2.3.4", "::ffff:102:304", "0000:0000:0000:0000:0000:ffff:0102:0304", "::ffff:1.2.3.4" },
		{ "1.2.3.4", "::ffff:102:304", "0000:0000:0000:0000:0000:ffff:0102:0304", "1.2.3.4" },
		{ "::", ":", "0000:0000:0000:0000:0000:0000:0000:0000", "::" },
		{ "fe80::1%eth0", "fe80::1", NULL, "fe80::1" },
		{ "2001:DB8::A", "2001:db8::a", NULL, "2001:db8::a" },
		{ "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", "0001:0002:0003:0004:0005:0006:0007:0008", "1:2:3:4:5:6:7:8" },
		{ "1:0:3:4:5:6:7:8", "1::3:4:5:6:7:8", NULL, "1:0:3:4:5:6:7:8" },
		{ "0:0:1::", "0:0:1::", NULL, "0:0:1::" },
		{ "::1:2:3:4:5:6:7", "::1:2:3:4:5:6:7", NULL, "0:1:2:3:4:5:6:7" },
		{ "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7::", NULL, "1:2:3:4:5:6:7:0" },
		{ "a:0:0:b:0:0:0:c", "a:0:0:b::c", NULL, "a:0:0:b::c" },
		{ "::0.0.0.1", "::1", NULL, "::1" },
		{ "::0.1.2.3", "::1:203", NULL, "::0.1.2.3" },
		{ "0:0:0:0:0:1:1.2.3.4", "::1:102:304", NULL, "::1:102:304" },
		{ "64:ff9b::1.2.3.4", "64:ff9b::102:304", NULL, "64:ff9b::102:304" },
		{ "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304", NULL, "1:2:3:4:5:6:102:304" },
		{ "1:0:0:2:0:0:3:4", "1::2:0:0:3:4", NULL, "1::2:0:0:3:4" },
		{ "0:1:0:0:0:0:0:0", "0:1::", NULL, "0:1::" },
		{ "1:0:2:0:3:0:4:0", "1::2:0:3:0:4:0", NULL, "1:0:2:0:3:0:4:0" },
		{ "1:0:0:2:3:0:0:0", "1:0:0:2:3::", NULL, "1:0:0:2:3::" },
		{ "::1.2.3.4", "::102:304", NULL, "::1.2.3.4" },
		{ "1::1.2.3.4", "1::102:304", "0001:0000:0000:0000:0000:0000:0102:0304", "1::102:304" },
		{ "::ffff:0:0", "::ffff:0:0", NULL, "::ffff:0.0.0.0" },
		{ "0.0.0.0", "::ffff:0:0", NULL, "0.0.0.0" },
		{ "255.255.255.255", "::ffff:ffff:ffff", NULL, "255.255.255.255" },
		{ "0001::", "1::", NULL, "1::" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		CHECK_STR(fmt(ip_format_ipv6norm, rows[i].in), rows[i].norm);
		if (rows[i].full)
			CHECK_STR(fmt(ip_format_full, rows[i].in), rows[i].full);
		CHECK_STR(fmt(ip_format, rows[i].in), rows[i].rfc);
	}
}

static void test_reverse(void)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "1.2.3.4", "4.3.2.1" },
		{ "2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2" },
		{ "::", "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0" },
		{ "fe80::1%eth0", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f" },
		{ "::1.2.3.4", "4.0.3.0.2.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0" },
		{ "1::1.2.3.4", "4.0.3.0.2.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0" },
		{ "::FFFF:1.2.3.4", "4.0.3.0.2.0.1.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0" },
		{ "10.0.0.255", "255.0.0.10" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_STR(fmt(ip_reverse, rows[i].in), rows[i].want);
}

static void test_cidr_mask_net(void)
{
	static const struct { const char *text; int ok, bits; } rows[] = {
		{ "1.2.3.4/8", 1, 8 }, { "1.2.3.4/0", 1, 0 }, { "1.2.3.4/32", 1, 32 }, { "1.2.3.4/33", 0, 0 },
		{ "1.2.3.4/08", 1, 8 }, { "1.2.3.4/", 0, 0 }, { "1.2.3.4", 0, 0 }, { "::1/128", 1, 128 },
		{ "::1/129", 0, 0 }, { "::/0", 1, 0 }, { "1.2.3.4/-1", 0, 0 }, { "1.2.3.4/1000", 0, 0 },
		{ "1.2.3.4/8x", 0, 0 }, { "1.2.3/8", 0, 0 }, { "2001:db8::/32", 1, 32 },
		{ "1.2.3.4/0008", 1, 8 }, { "1.2.3.4/00000000000000000008", 1, 8 }, { "1.2.3.4/8 ", 0, 0 },
		{ "1.2.3.4/x", 0, 0 }, { "fe80::1%eth0/64", 0, 0 }, { "::/99999999999999999999", 0, 0 },
		{ "/8", 0, 0 }, { "1.2.3.4/+8", 0, 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		ip_addr a;
		int bits = -1;
		bool ok = ip_parse_cidr(sv_cstr(rows[i].text), &a, &bits);
		CHECK_INT(ok, rows[i].ok);
		if (ok)
			CHECK_INT(bits, rows[i].bits);
	}

	static const struct { const char *addr; int bits; const char *want; } masks[] = {
		{ "1.2.3.4", 8, "1.0.0.0" }, { "1.2.3.4", 0, "0.0.0.0" }, { "1.2.3.4", 32, "1.2.3.4" },
		{ "255.255.255.255", 20, "255.255.240.0" }, { "255.255.255.255", 1, "128.0.0.0" },
		{ "2001:db8::1", 32, "2001:db8::" }, { "2001:db8:ffff::1", 36, "2001:db8:f000::" },
		{ "::1", 128, "::1" }, { "1.2.3.4", 99, "1.2.3.4" }, { "1.2.3.4", -5, "0.0.0.0" },
	};
	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		ip_addr a;
		CHECK(ip_parse(sv_cstr(masks[i].addr), &a));
		ip_mask(&a, masks[i].bits);
		xbuf b;
		xbuf_init(&b, A);
		ip_format(&a, &b);
		CHECK_STR(xbuf_cstr(&b), masks[i].want);
	}

	static const struct { const char *addr, *net; int in; } nets[] = {
		{ "1.2.3.4", "1.2.0.0/16", 1 }, { "1.3.3.4", "1.2.0.0/16", 0 }, { "1.2.3.4", "0.0.0.0/0", 1 },
		{ "1.2.3.4", "1.2.3.4/32", 1 }, { "1.2.3.5", "1.2.3.4/32", 0 }, { "1.2.3.5", "1.2.3.4/31", 1 },
		{ "2001:db8::5", "2001:db8::/32", 1 }, { "2001:db9::5", "2001:db8::/32", 0 },
		{ "1.2.3.4", "::/0", 0 }, { "::ffff:1.2.3.4", "1.2.3.0/24", 0 },
		{ "2001:db8::5", "2001:db8::/127", 0 }, { "2001:db8::1", "2001:db8::/127", 1 },
	};
	for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
		ip_addr a, n;
		int bits;
		CHECK(ip_parse(sv_cstr(nets[i].addr), &a));
		CHECK(ip_parse_cidr(sv_cstr(nets[i].net), &n, &bits));
		CHECK_INT(ip_in_net(&a, &n, bits), nets[i].in);
	}
}

static void test_format_mask(void)
{
	static const struct { const char *in; int norm; const char *want; } rows[] = {
		{ "1.2.3.4/8", 0, "1.0.0.0/8" }, { "1.2.3.4/8", 1, "1.0.0.0/8" },
		{ "2001:db8::1/32", 0, "2001.0db8.0000.0000.0000.0000.0000.0000/32" },
		{ "2001:db8::1/32", 1, "2001:db8::/32" },
		{ "::1/128", 0, "0000.0000.0000.0000.0000.0000.0000.0001/128" },
		{ "::1/0", 0, "0000.0000.0000.0000.0000.0000.0000.0000/0" }, { "::1/0", 1, ":/0" },
		{ "1.2.3.4/0", 0, "0.0.0.0/0" }, { "1.2.3.4/32", 0, "1.2.3.4/32" },
		{ "::ffff:1.2.3.4/120", 0, "0000.0000.0000.0000.0000.ffff.0102.0300/120" },
		{ "::ffff:1.2.3.4/128", 1, "::ffff:102:304/128" }, { "::1.2.3.4/128", 1, "::102:304/128" },
		{ "1:0:3:4:5:6:7:8/128", 1, "1::3:4:5:6:7:8/128" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		ip_addr a;
		int bits;
		CHECK(ip_parse_cidr(sv_cstr(rows[i].in), &a, &bits));
		xbuf b;
		xbuf_init(&b, A);
		ip_format_mask(&a, bits, rows[i].norm, &b);
		CHECK_STR(xbuf_cstr(&b), rows[i].want);
	}
}

static void test_map(void)
{
	ip_addr v4, v6, back;
	CHECK(ip_parse(SV_LIT("192.0.2.7"), &v4));
	ip_map_v4(&v4, &v6);
	CHECK(ip_is_v4_mapped(&v6));
	CHECK(!ip_is_v4_mapped(&v4));
	ip_unmap(&v6, &back);
	CHECK(ip_equal(&back, &v4));
	CHECK(!ip_equal(&v6, &v4));
	CHECK_INT(ip_max_bits(&v4), 32);
	CHECK_INT(ip_max_bits(&v6), 128);
	ip_addr other;
	CHECK(ip_parse(SV_LIT("::1"), &other));
	ip_unmap(&other, &back);
	CHECK(ip_equal(&back, &other));
}

/* HELO literals are compared as addresses (not as Exim 4.96's text prefix). */
static void test_helo_literal(void)
{
	static const struct { const char *literal, *host; bool match; } t[] = {
		{ "[1.2.3.4]", "1.2.3.4", true },
		{ "[1.2.3.40]", "1.2.3.4", false },      /* Exim 4.96: a prefix, so it matched */
		{ "[1.2.3.4]", "1.2.3.40", false },
		{ "[01.2.3.4]", "1.2.3.4", false },      /* not an address */
		{ "[IPv6:1.2.3.4]", "1.2.3.4", false },  /* the tag needs an IPv6 address */
		{ "[IPv6:2001:db8::5]", "2001:db8::5", true },
		{ "[ipv6:2001:DB8:0:0:0:0:0:5]", "2001:db8::5", true },
		{ "[IPv6:2001:0db8:0000:0000:0000:0000:0000:0005]", "2001:db8::5", true },
		{ "[2001:db8::5]", "2001:db8::5", true },  /* untagged IPv6: lenient, as Exim */
		{ "[IPv6:2001:db8::6]", "2001:db8::5", false },
		{ "[1.2.3.4]", "::ffff:1.2.3.4", true },  /* a v4-mapped client */
		{ "[IPv6:::ffff:1.2.3.4]", "1.2.3.4", true },
		{ "[]", "1.2.3.4", false },
		{ "[IPv6:]", "1.2.3.4", false },
		{ "1.2.3.4", "1.2.3.4", false },          /* no brackets */
		{ "[1.2.3.4", "1.2.3.4", false },
		{ "[1.2.3.4]", "", false },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		bool got = ip_helo_literal_matches(sv_cstr(t[i].literal), sv_cstr(t[i].host));
		if (got != t[i].match)
			fprintf(stderr, "helo literal %s for %s: got %d\n", t[i].literal, t[i].host, got);
		CHECK(got == t[i].match);
	}
}

int main(void)
{
	A = arena_new("test_ip");
	RUN(test_parse_valid_invalid);
	RUN(test_parse_zone);
	RUN(test_formats);
	RUN(test_reverse);
	RUN(test_cidr_mask_net);
	RUN(test_format_mask);
	RUN(test_map);
	RUN(test_helo_literal);
	arena_free(A);
	return unit_report("test_ip");
}
