/* Fuzz src/mail/rfc2047: decoding encoded words (header text from the network) and encoding.
 *
 * Invariants: decoding arbitrary text to UTF-8 either succeeds or gives a message, and never
 * yields a NUL byte (they become '?'); decoding text that has no "=?" is the identity; and for
 * valid UTF-8 without NUL or control characters, encoding as UTF-8 encoded words and decoding
 * gives the text back (decoding without the 75-byte word limit: Exim's own encoder writes longer
 * words, which its decoder then leaves alone when check_rfc2047_length is set). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "mail/rfc2047.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool valid_utf8_printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (len == 0 || i + len > n || (c < 0x80 && (c < 0x20 || c == 0x7f)))
			return false;
		if ((len == 2 && c < 0xc2) || (len == 4 && c > 0xf4))
			return false;
		for (size_t k = 1; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		if (len == 3) {
			unsigned cp = (c & 0x0f) << 12 | (p[i + 1] & 0x3f) << 6 | (p[i + 2] & 0x3f);
			if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
				return false;
		}
		if (len == 4) {
			unsigned cp = (c & 0x07) << 18 | (p[i + 1] & 0x3f) << 12 | (p[i + 2] & 0x3f) << 6 | (p[i + 3] & 0x3f);
			if (cp < 0x10000 || cp > 0x10ffff)
				return false;
		}
		i += len;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	sv in = sv_make((const char *)data, size);
	xbuf out, err, enc;
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	xbuf_init(&enc, NULL);

	for (int check_length = 0; check_length < 2; check_length++) {
		xbuf_reset(&out);
		xbuf_reset(&err);
		if (rfc2047_decode(in, "utf-8", check_length, &out, &err)) {
			CHECK(memchr(out.p ? out.p : "", 0, out.len) == NULL);
			if (!memmem(data, size, "=?", 2) && !memchr(data, 0, size))
				CHECK(sv_eq(xbuf_sv(&out), in));
		} else {
			CHECK(err.len > 0);
		}
	}

	if (valid_utf8_printable(data, size)) {
		rfc2047_encode(in, "utf-8", &enc);
		xbuf_reset(&out);
		xbuf_reset(&err);
		CHECK(rfc2047_decode(xbuf_sv(&enc), "utf-8", false, &out, &err));
		CHECK(sv_eq(xbuf_sv(&out), in));
	}
	xbuf_free(&out);
	xbuf_free(&err);
	xbuf_free(&enc);
	return 0;
}
