/* PROXY protocol v1/v2 parser; rules and outcomes are listed in proxy.h. */
#include "mail/proxy.h"

#include <string.h>

const uint8_t proxy_v2_signature[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

#define FAIL(msg) do { *why = (msg); return false; } while (0)

/* Bitwise CRC32C: headers are a few hundred bytes at most, a table buys nothing. */
static uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return crc;
}

uint32_t proxy_crc32c(const uint8_t *p, size_t n)
{
	return ~crc32c_update(0xffffffffu, p, n);
}

long proxy_header_length(const uint8_t *p, size_t n)
{
	size_t sig = n < sizeof proxy_v2_signature ? n : sizeof proxy_v2_signature;
	if (memcmp(p, proxy_v2_signature, sig) == 0) {
		if (n < PROXY_V2_HEADER_FIXED)
			return 0;
		size_t len = (size_t)p[14] << 8 | p[15];
		if (len > PROXY_V2_MAX_PAYLOAD)
			return -1;
		return (long)(PROXY_V2_HEADER_FIXED + len);
	}
	size_t pre = n < 5 ? n : 5;
	if (memcmp(p, "PROXY", pre) != 0)
		return -1;
	for (size_t i = 0; i < n && i < PROXY_V1_MAX_LINE; i++)
		if (p[i] == '\n')
			return (long)(i + 1);
	return n >= PROXY_V1_MAX_LINE ? -1 : 0;
}

/* A decimal port 0..65535 without leading zeros. */
static bool parse_port(sv t, int *out)
{
	if (t.len == 0 || t.len > 5 || (t.len > 1 && t.p[0] == '0'))
		return false;
	long v = 0;
	for (size_t i = 0; i < t.len; i++) {
		if (t.p[i] < '0' || t.p[i] > '9')
			return false;
		v = v * 10 + (t.p[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (int)v;
	return true;
}

/* Split the v1 fields on single spaces; an empty field (two spaces) is an error. */
static int split_fields(sv line, sv *f, int max)
{
	int n = 0;
	size_t start = 0;
	for (size_t i = 0; i <= line.len; i++) {
		if (i == line.len || line.p[i] == ' ') {
			if (n == max || i == start)
				return -1;
			f[n++] = sv_make(line.p + start, i - start);
			start = i + 1;
		}
	}
	return n;
}

static bool parse_v1(const uint8_t *p, size_t n, proxy_header *out, const char **why)
{
	if (n > PROXY_V1_MAX_LINE)
		FAIL("PROXY v1 line longer than 107 bytes");
	if (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n')
		FAIL("PROXY v1 line does not end in CRLF");
	sv line = sv_make((const char *)p, n - 2);
	for (size_t i = 0; i < line.len; i++)
		if (line.p[i] == '\r' || line.p[i] == '\n' || line.p[i] == '\0')
			FAIL("PROXY v1 line contains CR, LF or NUL");
	if (!sv_starts(line, "PROXY "))
		FAIL("PROXY v1 line does not start with \"PROXY \"");
	sv rest = sv_sub(line, 6, line.len - 6);
	if (sv_eq_cstr(rest, "UNKNOWN") || sv_starts(rest, "UNKNOWN ")) {
		out->local = true;  /* the spec: ignore whatever follows UNKNOWN */
		return true;
	}
	sv f[5];
	if (split_fields(rest, f, 5) != 5)
		FAIL("PROXY v1 line does not have exactly five single-space separated fields");
	int family;
	if (sv_eq_cstr(f[0], "TCP4"))
		family = 4;
	else if (sv_eq_cstr(f[0], "TCP6"))
		family = 6;
	else
		FAIL("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
	if (!ip_parse(f[1], &out->src) || !ip_parse(f[2], &out->dst))
		FAIL("PROXY v1 address is not a valid IP address");
	if (out->src.family != family || out->dst.family != family)
		FAIL("PROXY v1 address family does not match the protocol");
	/* The spec's IPv6 form is hex groups and colons only: no embedded dotted quad. */
	if (family == 6 && (memchr(f[1].p, '.', f[1].len) || memchr(f[2].p, '.', f[2].len)))
		FAIL("PROXY v1 IPv6 address in dotted-quad form");
	if (!parse_port(f[3], &out->src_port) || !parse_port(f[4], &out->dst_port))
		FAIL("PROXY v1 port is not a decimal number 0..65535 without leading zeros");
	return true;
}

static sv view(const uint8_t *p, size_t n)
{
	return sv_tainted(sv_make((const char *)p, n));
}

static bool parse_ssl(const uint8_t *v, size_t n, proxy_tlvs *t, const char **why)
{
	if (n < 5)
		FAIL("PROXY v2 SSL TLV shorter than 5 bytes");
	t->has_ssl = true;
	t->ssl_client = v[0];
	t->ssl_verify = (uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4];
	for (size_t i = 5; i < n;) {
		if (n - i < 3)
			FAIL("PROXY v2 SSL sub-TLV truncated");
		uint8_t type = v[i];
		size_t len = (size_t)v[i + 1] << 8 | v[i + 2];
		i += 3;
		if (len > n - i)
			FAIL("PROXY v2 SSL sub-TLV overruns its TLV");
		sv *slot = type == PP2_SUBTYPE_SSL_VERSION ? &t->ssl_version
			: type == PP2_SUBTYPE_SSL_CN ? &t->ssl_cn
			: type == PP2_SUBTYPE_SSL_CIPHER ? &t->ssl_cipher
			: type == PP2_SUBTYPE_SSL_SIG_ALG ? &t->ssl_sig_alg
			: type == PP2_SUBTYPE_SSL_KEY_ALG ? &t->ssl_key_alg : NULL;
		if (slot && slot->p == NULL)
			*slot = view(v + i, len);
		i += len;
	}
	return true;
}

/* TLVs occupy p[off..n); hdr/n is the whole header (for the CRC). */
static bool parse_tlvs(const uint8_t *p, size_t off, size_t n, proxy_tlvs *t, const char **why)
{
	for (size_t i = off; i < n;) {
		if (n - i < 3)
			FAIL("PROXY v2 TLV truncated");
		uint8_t type = p[i];
		size_t len = (size_t)p[i + 1] << 8 | p[i + 2];
		size_t val = i + 3;
		if (len > n - val)
			FAIL("PROXY v2 TLV overruns the header");
		sv *slot = NULL;
		switch (type) {
		case PP2_TYPE_ALPN: slot = &t->alpn; break;
		case PP2_TYPE_AUTHORITY: slot = &t->authority; break;
		case PP2_TYPE_NETNS: slot = &t->netns; break;
		case PP2_TYPE_UNIQUE_ID:
			if (len > PROXY_UNIQUE_ID_MAX)
				FAIL("PROXY v2 UNIQUE_ID longer than 128 bytes");
			slot = &t->unique_id;
			break;
		case PP2_TYPE_CRC32C: {
			if (len != 4)
				FAIL("PROXY v2 CRC32C TLV is not 4 bytes");
			if (t->has_crc32c)
				FAIL("PROXY v2 header has two CRC32C TLVs");
			uint32_t got = (uint32_t)p[val] << 24 | (uint32_t)p[val + 1] << 16 |
				(uint32_t)p[val + 2] << 8 | p[val + 3];
			/* The checksum covers the whole header with the field zeroed: compute it in
			 * three pieces rather than copying the header. */
			static const uint8_t zero[4];
			uint32_t crc = crc32c_update(0xffffffffu, p, val);
			crc = crc32c_update(crc, zero, 4);
			crc = crc32c_update(crc, p + val + 4, n - val - 4);
			if (~crc != got)
				FAIL("PROXY v2 CRC32C mismatch");
			t->has_crc32c = true;
			break;
		}
		case PP2_TYPE_SSL:
			if (!t->has_ssl && !parse_ssl(p + val, len, t, why))
				return false;
			break;
		default: break;  /* NOOP, custom, experimental, future: skipped as the spec allows */
		}
		if (slot && slot->p == NULL)
			*slot = view(p + val, len);
		i = val + len;
	}
	return true;
}

static bool parse_v2(const uint8_t *p, size_t n, proxy_header *out, const char **why)
{
	if (n < PROXY_V2_HEADER_FIXED)
		FAIL("PROXY v2 header shorter than 16 bytes");
	size_t len = (size_t)p[14] << 8 | p[15];
	if (len > PROXY_V2_MAX_PAYLOAD)
		FAIL("PROXY v2 declared length too large");
	if (n != PROXY_V2_HEADER_FIXED + len)
		FAIL("PROXY v2 header length does not match the declared length");
	out->version = 2;
	if ((p[12] >> 4) != 2)
		FAIL("PROXY v2 version is not 2");
	int cmd = p[12] & 0x0f;
	if (cmd > 1)
		FAIL("PROXY v2 command is neither LOCAL nor PROXY");
	int fam = p[13] >> 4, proto = p[13] & 0x0f;
	if (fam > 3 || proto > 2)
		FAIL("PROXY v2 unassigned address family or transport");
	static const size_t block[4] = { 0, 12, 36, 216 };
	size_t blen = block[fam];
	if (cmd == 0 || fam == 0 || proto == 0) {
		/* LOCAL, or UNSPEC family/transport: the real endpoints apply. TLVs follow the block
		 * when the declared length covers it. */
		out->local = true;
		if (len >= blen && !parse_tlvs(p, PROXY_V2_HEADER_FIXED + blen, n, &out->tlv, why))
			return false;
		return true;
	}
	if (proto != 1 || fam == 3)
		FAIL("PROXY v2 family is not TCP over IPv4 or IPv6");
	if (len < blen)
		FAIL("PROXY v2 declared length shorter than the address block");
	const uint8_t *a = p + PROXY_V2_HEADER_FIXED;
	size_t alen = fam == 1 ? 4 : 16;
	memset(&out->src, 0, sizeof out->src);
	memset(&out->dst, 0, sizeof out->dst);
	out->src.family = out->dst.family = fam == 1 ? 4 : 6;
	memcpy(out->src.b, a, alen);
	memcpy(out->dst.b, a + alen, alen);
	out->src_port = a[2 * alen] << 8 | a[2 * alen + 1];
	out->dst_port = a[2 * alen + 2] << 8 | a[2 * alen + 3];
	return parse_tlvs(p, PROXY_V2_HEADER_FIXED + blen, n, &out->tlv, why);
}

bool proxy_parse(const uint8_t *p, size_t n, proxy_header *out, const char **why)
{
	memset(out, 0, sizeof *out);
	out->tlv.alpn = out->tlv.authority = out->tlv.unique_id = out->tlv.netns = SV_NULL;
	out->tlv.ssl_version = out->tlv.ssl_cn = out->tlv.ssl_cipher = SV_NULL;
	out->tlv.ssl_sig_alg = out->tlv.ssl_key_alg = SV_NULL;
	if (n >= sizeof proxy_v2_signature && memcmp(p, proxy_v2_signature, sizeof proxy_v2_signature) == 0)
		return parse_v2(p, n, out, why);
	if (n >= 5 && memcmp(p, "PROXY", 5) == 0) {
		out->version = 1;
		return parse_v1(p, n, out, why);
	}
	FAIL("not a PROXY protocol header");
}
