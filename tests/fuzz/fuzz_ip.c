/* Fuzz lib/ip: parsing (plain, %zone, CIDR) and every output form.
 *
 * Invariants: an accepted text contains only address characters; a dotted quad prints back
 * exactly as given; every output form parses back to the same address; ip_format agrees with
 * inet_ntop (ip.h promises that form) and ip_parse with inet_pton on what both accept; masking is
 * idempotent and an address is always inside its own masked network. The same checks run on the
 * first 17 input bytes taken as a raw address, so every bit pattern gets formatted. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/ip.h"

static const uint8_t *g_data;
static size_t g_size;
#define CHECK(cond) FUZZ_CHECK(cond, g_data, g_size)

static bool parses_to(sv text, const ip_addr *want)
{
	ip_addr got;
	return ip_parse(text, &got) && ip_equal(&got, want);
}

static void check_forms(const ip_addr *a)
{
	xbuf b;
	xbuf_init(&b, NULL);
	ip_addr v6;
	ip_map_v4(a, &v6);

	/* ip_format: parses back, and is exactly inet_ntop's text. */
	ip_format(a, &b);
	CHECK(parses_to(xbuf_sv(&b), a));
	char ntop[INET6_ADDRSTRLEN];
	CHECK(inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, ntop, sizeof ntop) != NULL);
	CHECK(strcmp(ntop, xbuf_cstr(&b)) == 0);

	/* ${ipv6norm:}: the v6 (v4-mapped) address, except Exim's lone ":" for all zeros. */
	xbuf_reset(&b);
	ip_format_ipv6norm(a, &b);
	static const uint8_t zero[16];
	if (memcmp(v6.b, zero, 16) == 0)
		CHECK(strcmp(xbuf_cstr(&b), ":") == 0);
	else
		CHECK(parses_to(xbuf_sv(&b), &v6));
	CHECK(strchr(xbuf_cstr(&b), '.') == NULL);

	/* ${ipv6denorm:}: 8 groups of 4 digits. */
	xbuf_reset(&b);
	ip_format_full(a, &b);
	CHECK(b.len == 39);
	CHECK(parses_to(xbuf_sv(&b), &v6));

	/* ${reverse_ip:}: v4 reversed quad; v6 32 nibbles lowest first. */
	xbuf_reset(&b);
	ip_reverse(a, &b);
	if (a->family == 4) {
		ip_addr r = { 4, { a->b[3], a->b[2], a->b[1], a->b[0] } };
		CHECK(parses_to(xbuf_sv(&b), &r));
	} else {
		CHECK(b.len == 63);
		static const char hex[] = "0123456789abcdef";
		for (int i = 0; i < 32; i++) {
			int byte = 15 - i / 2;
			int nib = i % 2 == 0 ? a->b[byte] & 0xf : a->b[byte] >> 4;
			CHECK(b.p[2 * i] == hex[nib]);
			CHECK(i == 31 || b.p[2 * i + 1] == '.');
		}
	}

	/* v4 mapping round trip. */
	ip_addr back;
	ip_unmap(&v6, &back);
	if (a->family == 4)
		CHECK(ip_equal(&back, a));
	CHECK(ip_is_v4_mapped(&v6) == (a->family == 4 || ip_is_v4_mapped(a)));

	xbuf_free(&b);
}

static void check_mask(const ip_addr *a, int bits)
{
	int max = ip_max_bits(a);
	ip_addr m = *a;
	ip_mask(&m, bits);
	ip_addr mm = m;
	ip_mask(&mm, bits);
	CHECK(ip_equal(&m, &mm));
	CHECK(ip_in_net(a, &m, bits));
	CHECK(ip_in_net(&m, a, bits));
	CHECK(ip_in_net(a, a, max));
	/* Bits past the prefix are zero. */
	int clamped = bits < 0 ? 0 : bits > max ? max : bits;
	for (int i = clamped; i < 128; i++)
		CHECK(((m.b[i / 8] >> (7 - i % 8)) & 1) == 0);
	for (int i = 0; i < clamped; i++)
		CHECK(((m.b[i / 8] >> (7 - i % 8)) & 1) == ((a->b[i / 8] >> (7 - i % 8)) & 1));

	/* ${mask:}/${mask_n:} text: v4 and the normalised v6 form read back as CIDR. */
	xbuf b;
	xbuf_init(&b, NULL);
	for (int norm = 0; norm < 2; norm++) {
		xbuf_reset(&b);
		ip_format_mask(a, bits, norm, &b);
		const char *slash = strrchr(xbuf_cstr(&b), '/');
		CHECK(slash != NULL);
		CHECK(atoi(slash + 1) == clamped);
		if (a->family == 4 || (norm && strncmp(xbuf_cstr(&b), ":/", 2) != 0)) {
			ip_addr c;
			int cb = -1;
			CHECK(ip_parse_cidr(xbuf_sv(&b), &c, &cb));
			CHECK(cb == clamped);
			CHECK(ip_equal(&c, &m));
		} else if (!norm) {
			CHECK(slash - b.p == 39); /* 8 groups of 4 digits joined by dots */
		}
	}
	xbuf_free(&b);
}

static bool only_address_chars(sv t)
{
	for (size_t i = 0; i < t.len; i++) {
		char c = t.p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	return true;
}

static void check_text(sv text)
{
	ip_addr a;
	bool ok = ip_parse(text, &a);
	bool colon = memchr(text.p, ':', text.len) != NULL;

	/* Agreement with inet_pton (which needs a NUL-terminated copy). */
	char tmp[80];
	if (text.len < sizeof tmp && !memchr(text.p, 0, text.len)) {
		memcpy(tmp, text.p, text.len);
		tmp[text.len] = 0;
		uint8_t pton[16] = { 0 };
		bool pok = inet_pton(colon ? AF_INET6 : AF_INET, tmp, pton) == 1;
		if (!colon)
			CHECK(ok == pok); /* both strict: four decimal parts, no leading zeros */
		if (ok)
			CHECK(pok && memcmp(pton, a.b, colon ? 16 : 4) == 0);
	}

	if (ok) {
		CHECK(text.len > 0 && text.len <= 64);
		CHECK(only_address_chars(text));
		CHECK(a.family == (colon ? 6 : 4));
		if (a.family == 4) {
			xbuf b;
			xbuf_init(&b, NULL);
			ip_format(&a, &b);
			CHECK(sv_eq(xbuf_sv(&b), text));
			xbuf_free(&b);
		}
		check_forms(&a);
	}

	ip_addr z;
	sv zone;
	if (ip_parse_zone(text, &z, &zone)) {
		const char *pct = memchr(text.p, '%', text.len);
		size_t at = pct ? (size_t)(pct - text.p) : text.len;
		CHECK(parses_to(sv_sub(text, 0, at), &z));
		CHECK(pct == NULL || z.family == 6);
		CHECK(zone.len == (pct ? text.len - at - 1 : 0));
	}

	ip_addr c;
	int bits = -1;
	if (ip_parse_cidr(text, &c, &bits)) {
		const char *slash = memchr(text.p, '/', text.len);
		CHECK(slash != NULL);
		size_t at = (size_t)(slash - text.p);
		CHECK(parses_to(sv_sub(text, 0, at), &c));
		CHECK(bits >= 0 && bits <= ip_max_bits(&c));
		for (size_t i = at + 1; i < text.len; i++)
			CHECK(text.p[i] >= '0' && text.p[i] <= '9');
		check_mask(&c, bits);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_data = data;
	g_size = size;
	check_text(sv_make((const char *)data, size));

	if (size >= 18) {
		ip_addr a;
		memset(&a, 0, sizeof a);
		a.family = data[0] & 1 ? 6 : 4;
		memcpy(a.b, data + 1, a.family == 4 ? 4 : 16);
		check_forms(&a);
		check_mask(&a, (int)(int8_t)data[17]); /* includes negative and too-large prefixes */
	}
	return 0;
}
