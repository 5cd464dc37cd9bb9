/* Fuzz lib/printing: printing_escape under every flag combination, and printing_escape8bit.
 *
 * Invariants: the escaped text is printable under the same flags (so escaping is idempotent);
 * printing_is_clean is true exactly when the output equals the input; walking input and output
 * together, every input byte is either copied or replaced by its documented escape (\n \r \b \v
 * \f \t or \ooo); printing_dup gives the same text; taint follows the input. escape8bit output is
 * pure ASCII below DEL and decodes (\ooo) back to the input exactly. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/printing.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static arena *scratch;

static bool model_copied(unsigned char c, unsigned flags)
{
	if (c >= 0x20 && c < 0x7f)
		return true;
	if (c == '\t')
		return flags & PRINT_TAB_LITERAL;
	return c >= 0x80 && (flags & PRINT_TOPBIT);
}

static char model_letter(unsigned char c)
{
	const char *from = "\n\r\b\v\f\t", *to = "nrbvft";
	const char *f = c ? strchr(from, c) : NULL;
	return f ? to[f - from] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!scratch) {
		scratch = arena_new("fuzz");
		arena_alloc(scratch, 1); /* so marks fall inside a block that resets keep */
	}
	arena_mark mark = arena_getmark(scratch);
	sv in = sv_make((const char *)data, size);
	in.taint = size & 1;
	xbuf out, again;
	xbuf_init(&out, NULL);
	xbuf_init(&again, NULL);

	for (unsigned flags = 0; flags < 4; flags++) {
		xbuf_reset(&out);
		printing_escape(in, flags, &out);
		CHECK(out.taint == in.taint);
		CHECK(printing_is_clean(xbuf_sv(&out), flags));
		CHECK(printing_is_clean(in, flags) == sv_eq(xbuf_sv(&out), in));

		size_t o = 0;
		for (size_t i = 0; i < size; i++) {
			unsigned char c = data[i];
			if (model_copied(c, flags)) {
				CHECK(o < out.len && (unsigned char)out.p[o] == c);
				o++;
			} else if (model_letter(c)) {
				CHECK(o + 2 <= out.len && out.p[o] == '\\' && out.p[o + 1] == model_letter(c));
				o += 2;
			} else {
				char oct[5];
				snprintf(oct, sizeof oct, "\\%03o", c);
				CHECK(o + 4 <= out.len && memcmp(out.p + o, oct, 4) == 0);
				o += 4;
			}
		}
		CHECK(o == out.len);

		char *dup = printing_dup(scratch, in, flags);
		CHECK(strlen(dup) == out.len || memchr(data, 0, size) != NULL);
		CHECK(memcmp(dup, out.p ? out.p : "", out.len) == 0 && dup[out.len] == 0);

		/* Escaping escaped text changes nothing. */
		xbuf_reset(&again);
		printing_escape(xbuf_sv(&out), flags, &again);
		CHECK(sv_eq(xbuf_sv(&again), xbuf_sv(&out)));
	}

	xbuf_reset(&out);
	printing_escape8bit(in, &out);
	CHECK(out.taint == in.taint);
	size_t o = 0, i = 0;
	for (; o < out.len; i++) {
		unsigned char c = (unsigned char)out.p[o];
		CHECK(c < 0x7f);
		CHECK(i < size);
		if (c == '\\') {
			CHECK(o + 4 <= out.len);
			unsigned v = 0;
			for (int k = 1; k <= 3; k++) {
				CHECK(out.p[o + k] >= '0' && out.p[o + k] <= '7');
				v = v * 8 + (unsigned)(out.p[o + k] - '0');
			}
			CHECK(v == data[i] && (v >= 0x7f || v == '\\'));
			o += 4;
		} else {
			CHECK(c == data[i]);
			o++;
		}
	}
	CHECK(i == size);

	xbuf_free(&out);
	xbuf_free(&again);
	arena_reset(scratch, mark);
	return 0;
}
