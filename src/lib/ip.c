/* IP address parsing and formatting; see ip.h for the exact forms. */
#include "lib/ip.h"

#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* A strict dotted quad filling out[0..3]. */
static bool parse_v4(const char *p, size_t len, uint8_t out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || p[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < len && p[i] >= '0' && p[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(p[i++] - '0');
		size_t n = i - start;
		if (n == 0 || v > 255 || (n > 1 && p[start] == '0'))
			return false;
		out[part] = (uint8_t)v;
	}
	return i == len;
}

/* IPv6 text: groups split on ':', one "::" allowed, optional trailing dotted quad. */
static bool parse_v6(const char *p, size_t len, uint8_t out[16])
{
	uint16_t groups[8];
	int ngroups = 0, gap = -1; /* gap: index in groups where "::" stands */
	size_t i = 0;

	if (len >= 2 && p[0] == ':' && p[1] == ':') {
		gap = 0;
		i = 2;
		if (i == len)
			goto done;
	} else if (len && p[0] == ':') {
		return false;
	}
	for (;;) {
		/* One group, or a dotted quad ending the address. */
		size_t start = i;
		unsigned v = 0;
		while (i < len && hexval(p[i]) >= 0 && i - start < 5)
			v = v * 16 + (unsigned)hexval(p[i++]);
		if (i < len && p[i] == '.') {
			if (ngroups > 6)
				return false;
			uint8_t q[4];
			if (!parse_v4(p + start, len - start, q))
				return false;
			groups[ngroups++] = (uint16_t)(q[0] << 8 | q[1]);
			groups[ngroups++] = (uint16_t)(q[2] << 8 | q[3]);
			break;
		}
		if (i == start || i - start > 4 || ngroups == 8)
			return false;
		groups[ngroups++] = (uint16_t)v;
		if (i == len)
			break;
		if (p[i] != ':')
			return false;
		i++;
		if (i < len && p[i] == ':') {
			if (gap >= 0)
				return false;
			gap = ngroups;
			i++;
			if (i == len)
				break;
		} else if (i == len) {
			return false; /* trailing single ':' */
		}
	}
done:
	if (gap < 0 ? ngroups != 8 : ngroups > 7)
		return false;
	memset(out, 0, 16);
	int tail = gap < 0 ? 0 : ngroups - gap;
	int head = ngroups - tail;
	for (int g = 0; g < head; g++) {
		out[2 * g] = (uint8_t)(groups[g] >> 8);
		out[2 * g + 1] = (uint8_t)groups[g];
	}
	for (int g = 0; g < tail; g++) {
		int dst = 8 - tail + g;
		out[2 * dst] = (uint8_t)(groups[head + g] >> 8);
		out[2 * dst + 1] = (uint8_t)groups[head + g];
	}
	return true;
}

bool ip_parse(sv text, ip_addr *out)
{
	ip_addr r;
	memset(&r, 0, sizeof r);
	if (text.p == NULL || text.len == 0 || text.len > 64)
		return false;
	if (memchr(text.p, ':', text.len)) {
		if (!parse_v6(text.p, text.len, r.b))
			return false;
		r.family = 6;
	} else {
		if (!parse_v4(text.p, text.len, r.b))
			return false;
		r.family = 4;
	}
	*out = r;
	return true;
}

bool ip_parse_zone(sv text, ip_addr *out, sv *zone)
{
	const char *pct = text.p ? memchr(text.p, '%', text.len) : NULL;
	sv z = sv_make("", 0);
	if (pct) {
		size_t at = (size_t)(pct - text.p);
		z = sv_sub(text, at + 1, text.len);
		text = sv_sub(text, 0, at);
	}
	ip_addr r;
	if (!ip_parse(text, &r) || (pct && r.family != 6))
		return false;
	*out = r;
	if (zone)
		*zone = z;
	return true;
}

bool ip_parse_cidr(sv text, ip_addr *out, int *bits)
{
	if (text.p == NULL)
		return false;
	const char *slash = memchr(text.p, '/', text.len);
	if (!slash)
		return false;
	size_t at = (size_t)(slash - text.p);
	sv num = sv_sub(text, at + 1, text.len);
	if (num.len == 0)
		return false;
	int n = 0;
	for (size_t i = 0; i < num.len; i++) {
		if (num.p[i] < '0' || num.p[i] > '9')
			return false;
		n = n * 10 + (num.p[i] - '0');
		if (n > 128) /* leading zeros are fine ("/0008"), large values are not */
			return false;
	}
	ip_addr r;
	if (!ip_parse(sv_sub(text, 0, at), &r) || n > ip_max_bits(&r))
		return false;
	*out = r;
	*bits = n;
	return true;
}

int ip_max_bits(const ip_addr *a)
{
	return a->family == 4 ? 32 : 128;
}

void ip_mask(ip_addr *a, int bits)
{
	int max = ip_max_bits(a);
	if (bits < 0) bits = 0;
	if (bits > max) bits = max;
	for (int i = 0; i < 16; i++) {
		int keep = bits - 8 * i; /* bits of this byte to keep */
		if (keep >= 8)
			continue;
		a->b[i] = keep <= 0 ? 0 : (uint8_t)(a->b[i] & (0xff << (8 - keep)));
	}
}

bool ip_in_net(const ip_addr *a, const ip_addr *net, int bits)
{
	if (a->family != net->family)
		return false;
	ip_addr x = *a, y = *net;
	ip_mask(&x, bits);
	ip_mask(&y, bits);
	return memcmp(x.b, y.b, 16) == 0;
}

bool ip_equal(const ip_addr *a, const ip_addr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, 16) == 0;
}

bool ip_helo_literal_matches(sv literal, sv host_address)
{
	if (literal.len < 3 || literal.p[0] != '[' || literal.p[literal.len - 1] != ']')
		return false;
	sv inner = sv_sub(literal, 1, literal.len - 2);
	bool tagged = inner.len > 5 && sv_eqi(sv_sub(inner, 0, 5), SV_LIT("IPv6:"));
	if (tagged)
		inner = sv_sub(inner, 5, inner.len - 5);
	ip_addr lit, host;
	if (!ip_parse(inner, &lit) || !ip_parse(host_address, &host))
		return false;
	if (tagged && lit.family != 6)
		return false;
	ip_addr a, b;
	ip_unmap(&lit, &a);
	ip_unmap(&host, &b);
	return ip_equal(&a, &b);
}

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool ip_is_v4_mapped(const ip_addr *a)
{
	return a->family == 6 && memcmp(a->b, v4_mapped_prefix, 12) == 0;
}

void ip_map_v4(const ip_addr *v4, ip_addr *out)
{
	if (v4->family != 4) {
		*out = *v4;
		return;
	}
	ip_addr r;
	memset(&r, 0, sizeof r);
	r.family = 6;
	memcpy(r.b, v4_mapped_prefix, 12);
	memcpy(r.b + 12, v4->b, 4);
	*out = r;
}

void ip_unmap(const ip_addr *a, ip_addr *out)
{
	if (!ip_is_v4_mapped(a)) {
		*out = *a;
		return;
	}
	ip_addr r;
	memset(&r, 0, sizeof r);
	r.family = 4;
	memcpy(r.b, a->b + 12, 4);
	*out = r;
}

static unsigned group(const ip_addr *a, int g)
{
	return (unsigned)(a->b[2 * g] << 8 | a->b[2 * g + 1]);
}

/* The first longest run of zero groups among the first `ngroups`; *len 0 when none. */
static void longest_zero_run(const ip_addr *a, int ngroups, int *start, int *len)
{
	*start = -1;
	*len = 0;
	for (int g = 0; g < ngroups;) {
		if (group(a, g) != 0) {
			g++;
			continue;
		}
		int s = g;
		while (g < ngroups && group(a, g) == 0)
			g++;
		if (g - s > *len) {
			*start = s;
			*len = g - s;
		}
	}
}

/* Groups [0, ngroups) with the run [zs, zs+zl) written as "::" (zl 0: no compression). */
static void put_groups(const ip_addr *a, int ngroups, int zs, int zl, xbuf *out)
{
	for (int g = 0; g < ngroups; g++) {
		if (zl > 0 && g == zs) {
			xbuf_puts(out, "::");
			g += zl - 1;
			continue;
		}
		if (g > 0 && !(zl > 0 && g == zs + zl))
			xbuf_putc(out, ':');
		xbuf_printf(out, "%x", group(a, g));
	}
}

static void put_v4(const uint8_t *b, xbuf *out)
{
	xbuf_printf(out, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

void ip_format(const ip_addr *a, xbuf *out)
{
	if (a->family == 4) {
		put_v4(a->b, out);
		return;
	}
	int zs, zl;
	longest_zero_run(a, 8, &zs, &zl);
	if (zl < 2) /* RFC 5952 4.2.2: a single zero group is not compressed */
		zl = 0;
	/* Embedded IPv4 in mixed notation: v4-mapped, and (as the C library does, so as Exim shows
	 * host addresses) the deprecated v4-compatible ::a.b.c.d when the first six groups are zero
	 * and the seventh is not. */
	if (zs == 0 && (zl == 6 || (zl == 5 && group(a, 5) == 0xffff))) {
		xbuf_puts(out, zl == 5 ? "::ffff:" : "::");
		put_v4(a->b + 12, out);
		return;
	}
	put_groups(a, 8, zs, zl, out);
}

void ip_format_ipv6norm(const ip_addr *a, xbuf *out)
{
	ip_addr v6;
	ip_map_v4(a, &v6);
	int zs, zl;
	longest_zero_run(&v6, 8, &zs, &zl);
	if (zl == 8) { /* Exim 4.96 prints the unspecified address as a lone colon */
		xbuf_putc(out, ':');
		return;
	}
	put_groups(&v6, 8, zs, zl, out);
}

void ip_format_full(const ip_addr *a, xbuf *out)
{
	ip_addr v6;
	ip_map_v4(a, &v6);
	for (int g = 0; g < 8; g++)
		xbuf_printf(out, g ? ":%04x" : "%04x", group(&v6, g));
}

void ip_reverse(const ip_addr *a, xbuf *out)
{
	if (a->family == 4) {
		xbuf_printf(out, "%u.%u.%u.%u", a->b[3], a->b[2], a->b[1], a->b[0]);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--) {
		xbuf_putc(out, hex[a->b[i] & 0xf]);
		xbuf_putc(out, '.');
		xbuf_putc(out, hex[a->b[i] >> 4]);
		if (i > 0)
			xbuf_putc(out, '.');
	}
}

void ip_format_mask(const ip_addr *a, int bits, bool normalised, xbuf *out)
{
	ip_addr m = *a;
	ip_mask(&m, bits);
	if (m.family == 4)
		ip_format(&m, out);
	else if (normalised)
		ip_format_ipv6norm(&m, out);
	else
		for (int g = 0; g < 8; g++)
			xbuf_printf(out, g ? ".%04x" : "%04x", group(&m, g));
	xbuf_printf(out, "/%d", bits < 0 ? 0 : bits > ip_max_bits(a) ? ip_max_bits(a) : bits);
}
