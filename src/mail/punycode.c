/* Punycode (RFC 3492) and A-label conversion; see punycode.h. */
#include "mail/punycode.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>

#if HAVE_LIBIDN2
#include <idn2.h>

#include "lib/dynlib.h"

/* libidn2 (and libunistring, which it brings: ten mappings in every process the daemon forks),
 * loaded at the first conversion or by the daemon (idna_preload; lib/dynlib.h). */
#define IDN2_FUNCTIONS(X) X(idn2_free) X(idn2_lookup_u8) X(idn2_strerror)
DYNLIB_TABLE(idn2_api, IDN2_FUNCTIONS)
static idn2_api idn;
DYNLIB_LOADER(idn2_load, "utf8_domain_to_alabel", IDN2_SONAME, idn2_api, idn, IDN2_FUNCTIONS)
#define idn2_free idn.idn2_free
#define idn2_lookup_u8 idn.idn2_lookup_u8
#define idn2_strerror idn.idn2_strerror
#endif

enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128 };

static uint32_t adapt(uint32_t delta, uint32_t numpoints, bool first)
{
	delta = first ? delta / DAMP : delta / 2;
	delta += delta / numpoints;
	uint32_t k = 0;
	while (delta > ((BASE - TMIN) * TMAX) / 2) {
		delta /= BASE - TMIN;
		k += BASE;
	}
	return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

static char digit_char(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

static int digit_value(int c)
{
	if (c >= '0' && c <= '9') return c - '0' + 26;
	if (c >= 'a' && c <= 'z') return c - 'a';
	if (c >= 'A' && c <= 'Z') return c - 'A';
	return -1;
}

/* Decode UTF-8 into code points; false if invalid or too long. */
static bool utf8_to_cps(sv in, uint32_t *cps, size_t *n)
{
	const unsigned char *p = (const unsigned char *)in.p;
	size_t i = 0;
	*n = 0;
	while (i < in.len) {
		uint32_t c = p[i];
		int trail = c < 0x80 ? 0 : c < 0xC2 ? -1 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : c < 0xF5 ? 3 : -1;
		if (trail < 0 || (size_t)trail > in.len - i - 1)
			return false;
		c &= 0x7F >> trail;
		for (int k = 1; k <= trail; k++) {
			if ((p[i + (size_t)k] & 0xC0) != 0x80)
				return false;
			c = c << 6 | (p[i + (size_t)k] & 0x3F);
		}
		i += (size_t)trail + 1;
		/* Well-formed UTF-8 only: no overlong forms, no surrogates, nothing past U+10FFFF
		 * (the decoder refuses those code points, so the round trip must too). */
		if ((trail == 2 && c < 0x800) || (trail == 3 && (c < 0x10000 || c > 0x10FFFF)) ||
			(c >= 0xD800 && c <= 0xDFFF))
			return false;
		if (*n == PUNYCODE_MAX_CODEPOINTS)
			return false;
		cps[(*n)++] = c;
	}
	return true;
}

static void put_utf8(xbuf *out, uint32_t c)
{
	char b[4];
	if (c < 0x80) { b[0] = (char)c; xbuf_put(out, b, 1); }
	else if (c < 0x800) { b[0] = (char)(0xC0 | c >> 6); b[1] = (char)(0x80 | (c & 0x3F)); xbuf_put(out, b, 2); }
	else if (c < 0x10000) {
		b[0] = (char)(0xE0 | c >> 12); b[1] = (char)(0x80 | ((c >> 6) & 0x3F)); b[2] = (char)(0x80 | (c & 0x3F));
		xbuf_put(out, b, 3);
	} else {
		b[0] = (char)(0xF0 | c >> 18); b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F));
		xbuf_put(out, b, 4);
	}
}

bool punycode_encode(sv utf8, xbuf *out)
{
	static uint32_t cps[PUNYCODE_MAX_CODEPOINTS];
	size_t n;
	if (!utf8_to_cps(utf8, cps, &n))
		return false;
	uint32_t basic = 0;
	for (size_t i = 0; i < n; i++)
		if (cps[i] < 0x80) {
			xbuf_putc(out, (char)cps[i]);
			basic++;
		}
	if (basic)
		xbuf_putc(out, '-');
	uint32_t cp = INITIAL_N, delta = 0, bias = INITIAL_BIAS, h = basic;
	while (h < n) {
		uint32_t m = UINT32_MAX;
		for (size_t i = 0; i < n; i++)
			if (cps[i] >= cp && cps[i] < m)
				m = cps[i];
		if ((uint64_t)(m - cp) * (h + 1) + delta > UINT32_MAX)
			return false;
		delta += (m - cp) * (h + 1);
		cp = m;
		for (size_t i = 0; i < n; i++) {
			if (cps[i] < cp && ++delta == 0)
				return false;
			if (cps[i] == cp) {
				uint32_t q = delta;
				for (uint32_t k = BASE;; k += BASE) {
					uint32_t t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
					if (q < t)
						break;
					xbuf_putc(out, digit_char(t + (q - t) % (BASE - t)));
					q = (q - t) / (BASE - t);
				}
				xbuf_putc(out, digit_char(q));
				bias = adapt(delta, h + 1, h == basic);
				delta = 0;
				h++;
			}
		}
		delta++;
		cp++;
	}
	return true;
}

bool punycode_decode(sv puny, xbuf *out)
{
	static uint32_t cps[PUNYCODE_MAX_CODEPOINTS];
	size_t n = 0, b = 0;
	for (size_t i = 0; i < puny.len; i++)
		if (puny.p[i] == '-')
			b = i;
	if (b > PUNYCODE_MAX_CODEPOINTS)
		return false;
	for (size_t i = 0; i < b; i++) {
		if ((unsigned char)puny.p[i] >= 0x80)
			return false;
		cps[n++] = (unsigned char)puny.p[i];
	}
	uint32_t cp = INITIAL_N, bias = INITIAL_BIAS, i = 0;
	for (size_t in = b > 0 ? b + 1 : 0; in < puny.len;) {
		uint32_t oldi = i, w = 1;
		for (uint32_t k = BASE;; k += BASE) {
			if (in >= puny.len)
				return false;
			int d = digit_value((unsigned char)puny.p[in++]);
			if (d < 0 || (uint64_t)d * w + i > UINT32_MAX)
				return false;
			i += (uint32_t)d * w;
			uint32_t t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
			if ((uint32_t)d < t)
				break;
			if ((uint64_t)w * (BASE - t) > UINT32_MAX)
				return false;
			w *= BASE - t;
		}
		bias = adapt(i - oldi, (uint32_t)n + 1, oldi == 0);
		if (i / (n + 1) > UINT32_MAX - cp)
			return false;
		cp += i / (uint32_t)(n + 1);
		i %= (uint32_t)(n + 1);
		if (n == PUNYCODE_MAX_CODEPOINTS || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		memmove(cps + i + 1, cps + i, (n - i) * sizeof cps[0]);
		cps[i++] = cp;
		n++;
	}
	for (size_t k = 0; k < n; k++)
		put_utf8(out, cps[k]);
	return true;
}

#if HAVE_LIBIDN2
void idna_preload(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	idn2_load(&err); /* a failure is reported by the first conversion */
	xbuf_free(&err);
}

bool idna_domain_to_alabel(sv domain, xbuf *out, const char **why)
{
	static xbuf load_err; /* the reason lives as long as the process: *why points into it */
	xbuf_reset(&load_err);
	if (!idn2_load(&load_err)) {
		*why = xbuf_cstr(&load_err);
		return false;
	}
	char *in = malloc(domain.len + 1);
	uint8_t *res = NULL;
	if (!in)
		abort();
	memcpy(in, domain.p ? domain.p : "", domain.len);
	in[domain.len] = 0;
	int rc = memchr(in, 0, domain.len) ? IDN2_ENCODING_ERROR : idn2_lookup_u8((const uint8_t *)in, &res, IDN2_NFC_INPUT);
	free(in);
	if (rc != IDN2_OK) {
		*why = idn2_strerror(rc);
		return false;
	}
	xbuf_puts(out, (const char *)res);
	idn2_free(res);
	return true;
}
#else
void idna_preload(void)
{
}

static bool has_non_ascii(sv s)
{
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] >= 0x80)
			return true;
	return false;
}

bool idna_domain_to_alabel(sv domain, xbuf *out, const char **why)
{
	size_t start = 0;
	*why = "string encoding error";
	for (size_t i = 0; i <= domain.len; i++) {
		if (i < domain.len && domain.p[i] != '.')
			continue;
		sv label = sv_sub(domain, start, i - start);
		if (has_non_ascii(label)) {
			xbuf lower;
			xbuf_init(&lower, NULL);
			for (size_t k = 0; k < label.len; k++)
				xbuf_putc(&lower, (char)tolower((unsigned char)label.p[k]));
			xbuf_puts(out, "xn--");
			bool ok = punycode_encode(xbuf_sv(&lower), out);
			xbuf_free(&lower);
			if (!ok)
				return false;
		} else
			for (size_t k = 0; k < label.len; k++)
				xbuf_putc(out, (char)tolower((unsigned char)label.p[k]));
		if (i < domain.len)
			xbuf_putc(out, '.');
		start = i + 1;
	}
	return true;
}
#endif

bool idna_domain_from_alabel(sv domain, xbuf *out)
{
	size_t start = 0;
	for (size_t i = 0; i <= domain.len; i++) {
		if (i < domain.len && domain.p[i] != '.')
			continue;
		sv label = sv_sub(domain, start, i - start);
		if (label.len > 4 && sv_starts(label, "xn--")) {
			if (!punycode_decode(sv_sub(label, 4, label.len), out))
				return false;
		} else
			xbuf_putsv(out, label);
		if (i < domain.len)
			xbuf_putc(out, '.');
		start = i + 1;
	}
	return true;
}
