/* Fuzz lib/codec: base64, hex, xtext, base-32 and base-62 numbers.
 *
 * Invariants: every encoder's output decodes back to the input (base64, hex in both cases,
 * xtext, b32 numbers, b62 numbers modulo 62^6); every decoder given arbitrary bytes either
 * fails or yields bytes whose encoding decodes to the same bytes again (so a decoder never
 * invents something its encoder cannot express); base64 decoding ignores white space; and
 * encoders carry the input's taint. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/codec.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool decodes_to(bool (*dec)(sv, xbuf *), sv text, sv want)
{
	xbuf b;
	xbuf_init(&b, NULL);
	bool ok = dec(text, &b) && sv_eq(xbuf_sv(&b), want);
	xbuf_free(&b);
	return ok;
}

static bool hex_dec(sv in, xbuf *out) { return codec_hex_decode(in, out, NULL); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sv in = sv_make((const char *)data, size);
	in.taint = size & 1;
	xbuf enc, dec;
	xbuf_init(&enc, NULL);
	xbuf_init(&dec, NULL);

	/* Encoders round-trip any bytes. */
	codec_b64_encode(in, &enc);
	CHECK(enc.len == (size + 2) / 3 * 4);
	CHECK(enc.taint == in.taint);
	CHECK(decodes_to(codec_b64_decode, xbuf_sv(&enc), in));
	for (int upper = 0; upper < 2; upper++) {
		xbuf_reset(&enc);
		codec_hex_encode(in, upper, &enc);
		CHECK(enc.len == 2 * size);
		CHECK(decodes_to(hex_dec, xbuf_sv(&enc), in));
	}
	xbuf_reset(&enc);
	codec_xtext_encode(in, &enc);
	for (size_t i = 0; i < enc.len; i++)
		CHECK(enc.p[i] > 32 && enc.p[i] < 127 && enc.p[i] != '=');
	CHECK(decodes_to(codec_xtext_decode, xbuf_sv(&enc), in));

	/* Decoders on arbitrary text: what they accept re-encodes to something equivalent. */
	bool (*const decoders[])(sv, xbuf *) = { codec_b64_decode, hex_dec, codec_xtext_decode };
	void (*const encoders[])(sv, xbuf *) = { codec_b64_encode, NULL, codec_xtext_encode };
	for (size_t k = 0; k < 3; k++) {
		xbuf_reset(&dec);
		if (!decoders[k](in, &dec))
			continue;
		xbuf_reset(&enc);
		if (encoders[k])
			encoders[k](xbuf_sv(&dec), &enc);
		else
			codec_hex_encode(xbuf_sv(&dec), false, &enc);
		CHECK(decodes_to(decoders[k], xbuf_sv(&enc), xbuf_sv(&dec)));
	}
	/* White space is ignored by base64 decoding: inserting it changes nothing. */
	xbuf_reset(&dec);
	if (codec_b64_decode(in, &dec) && size < 2048) {
		xbuf spaced, d2;
		xbuf_init(&spaced, NULL);
		xbuf_init(&d2, NULL);
		for (size_t i = 0; i < size; i++) {
			xbuf_putc(&spaced, (char)data[i]);
			xbuf_putc(&spaced, i % 3 ? ' ' : '\n');
		}
		CHECK(codec_b64_decode(xbuf_sv(&spaced), &d2) && sv_eq(xbuf_sv(&d2), xbuf_sv(&dec)));
		xbuf_free(&spaced);
		xbuf_free(&d2);
	}

	/* Numbers. */
	if (size >= 8) {
		uint64_t n, back = 0;
		memcpy(&n, data, 8);
		xbuf_reset(&enc);
		codec_b32_number(n, &enc);
		CHECK((n == 0) == (enc.len == 0));
		CHECK(codec_b32_parse(xbuf_sv(&enc), &back) && back == n);
		xbuf_reset(&enc);
		codec_b62_number6(n, &enc);
		CHECK(enc.len == 6);
		const uint64_t m62 = 62ull * 62 * 62 * 62 * 62 * 62;
		CHECK(codec_b62_parse(xbuf_sv(&enc), &back) && back == n % m62);
	}
	uint64_t v;
	if (codec_b32_parse(in, &v)) {
		for (size_t i = 0; i < size; i++)
			CHECK((data[i] >= 'a' && data[i] <= 'z') || (data[i] >= '2' && data[i] <= '7'));
	}
	xbuf_free(&enc);
	xbuf_free(&dec);
	return 0;
}
