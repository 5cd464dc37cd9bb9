/* Byte codecs; see codec.h. */
#include "lib/codec.h"

#include <ctype.h>

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char b62_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void codec_b64_encode(sv in, xbuf *out)
{
	const unsigned char *p = (const unsigned char *)in.p;
	size_t i = 0;
	out->taint |= in.taint;
	for (; i + 3 <= in.len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = { b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63], b64_alphabet[(v >> 6) & 63],
			b64_alphabet[v & 63] };
		xbuf_put(out, q, 4);
	}
	if (i < in.len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < in.len ? (uint32_t)p[i + 1] << 8 : 0);
		char q[4] = { b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63],
			i + 1 < in.len ? b64_alphabet[(v >> 6) & 63] : '=', '=' };
		xbuf_put(out, q, 4);
	}
}

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

bool codec_b64_decode(sv in, xbuf *out)
{
	int quad[4], n = 0, pad = 0;
	bool finished = false; /* a padded group was seen: only white space may follow */
	out->taint |= in.taint;
	for (size_t i = 0; i < in.len; i++) {
		int c = (unsigned char)in.p[i];
		if (isspace(c))
			continue;
		if (finished)
			return false;
		if (c == '=') {
			/* padding may only fill the last one or two places of a group */
			if (n < 2)
				return false;
			quad[n++] = 0;
			pad++;
		} else {
			int v = b64_value(c);
			if (v < 0 || pad)
				return false;
			quad[n++] = v;
		}
		if (n == 4) {
			uint32_t v = (uint32_t)quad[0] << 18 | (uint32_t)quad[1] << 12 | (uint32_t)quad[2] << 6 | (uint32_t)quad[3];
			char bytes[3] = { (char)(v >> 16), (char)(v >> 8), (char)v };
			xbuf_put(out, bytes, (size_t)(3 - pad));
			n = 0;
			if (pad)
				finished = true;
		}
	}
	return n == 0;
}

void codec_b32_number(uint64_t n, xbuf *out)
{
	char tmp[16];
	int i = (int)sizeof tmp;
	while (n) {
		tmp[--i] = b32_alphabet[n & 31];
		n >>= 5;
	}
	xbuf_put(out, tmp + i, sizeof tmp - (size_t)i);
}

bool codec_b32_parse(sv in, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < in.len; i++) {
		const char *d = in.p[i] ? strchr(b32_alphabet, in.p[i]) : NULL;
		if (!d)
			return false;
		v = v * 32 + (uint64_t)(d - b32_alphabet);
	}
	*out = v;
	return true;
}

void codec_b62_number6(uint64_t n, xbuf *out)
{
	char tmp[6];
	for (int i = 5; i >= 0; i--) {
		tmp[i] = b62_alphabet[n % 62];
		n /= 62;
	}
	xbuf_put(out, tmp, 6);
}

bool codec_b62_parse(sv in, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < in.len; i++) {
		const char *d = in.p[i] ? strchr(b62_alphabet, in.p[i]) : NULL;
		if (!d)
			return false;
		v = v * 62 + (uint64_t)(d - b62_alphabet);
	}
	*out = v;
	return true;
}

int codec_hex_digit(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

void codec_hex_encode(sv in, bool upper, xbuf *out)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	out->taint |= in.taint;
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		char two[2] = { digits[c >> 4], digits[c & 15] };
		xbuf_put(out, two, 2);
	}
}

bool codec_hex_decode(sv in, xbuf *out, bool *bad_odd)
{
	if (bad_odd)
		*bad_odd = false;
	if (in.len % 2) {
		if (bad_odd)
			*bad_odd = true;
		return false;
	}
	out->taint |= in.taint;
	for (size_t i = 0; i < in.len; i += 2) {
		int hi = codec_hex_digit((unsigned char)in.p[i]), lo = codec_hex_digit((unsigned char)in.p[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		xbuf_putc(out, (char)(hi << 4 | lo));
	}
	return true;
}

void codec_xtext_encode(sv in, xbuf *out)
{
	out->taint |= in.taint;
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (c < 33 || c > 126 || c == '+' || c == '=')
			xbuf_printf(out, "+%02X", c);
		else
			xbuf_putc(out, (char)c);
	}
}

bool codec_xtext_decode(sv in, xbuf *out)
{
	out->taint |= in.taint;
	for (size_t i = 0; i < in.len; i++) {
		char c = in.p[i];
		if (c == '+') {
			if (in.len - i < 3)
				return false;
			int hi = codec_hex_digit((unsigned char)in.p[i + 1]), lo = codec_hex_digit((unsigned char)in.p[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			xbuf_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else
			xbuf_putc(out, c);
	}
	return true;
}
