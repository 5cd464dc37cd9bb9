/* Byte codecs with Exim's semantics: base64, base32/base62 numbers, hex, xtext (RFC 3461).
 *
 * Encoders append to an xbuf and carry the input's taint. Decoders return false on malformed
 * input (leaving out with whatever was appended so far: callers that care reset it).
 * Every function reads exactly in.len bytes; none relies on a NUL terminator.
 */
#ifndef POSTERN_LIB_CODEC_H
#define POSTERN_LIB_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/str.h"

/* RFC 4648 base64 with '=' padding. */
void codec_b64_encode(sv in, xbuf *out);
/* Decode base64 as Exim's ${base64d:} does: white space anywhere is ignored; the rest must be
 * whole groups of four, padding only in the last group, nothing after it. */
bool codec_b64_decode(sv in, xbuf *out);

/* Numbers in Exim's base-32 alphabet "a-z2-7" (no padding, most significant digit first;
 * zero is the empty string) and base 62 "0-9A-Za-z". */
void codec_b32_number(uint64_t n, xbuf *out);
/* false if any character is outside the alphabet; value wraps modulo 2^64 as Exim's does. */
bool codec_b32_parse(sv in, uint64_t *out);
/* Exactly six base-62 digits (the value modulo 62^6), as in Exim message ids. */
void codec_b62_number6(uint64_t n, xbuf *out);
bool codec_b62_parse(sv in, uint64_t *out);

/* Hex: encode every byte as two digits (upper or lower case). Decoding accepts either case;
 * false on an odd length or a non-hex character (*bad_odd tells which, if non-NULL). */
void codec_hex_encode(sv in, bool upper, xbuf *out);
bool codec_hex_decode(sv in, xbuf *out, bool *bad_odd);
int codec_hex_digit(int c); /* 0..15, or -1 */

/* RFC 3461 xtext: bytes outside 33..126, '+' and '=' become "+XX" (upper-case hex). Decoding
 * fails on '+' not followed by two hex digits. */
void codec_xtext_encode(sv in, xbuf *out);
bool codec_xtext_decode(sv in, xbuf *out);

#endif
