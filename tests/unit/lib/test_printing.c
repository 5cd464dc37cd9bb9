/* printing.h: expectations observed from Exim 4.96 ${escape:}, ${escape8bit:} and -bP output. */
#include "lib/printing.h"
#include "../unit.h"

static arena *A;

static void test_escape(void)
{
	static const struct { const char *in; size_t len; unsigned flags; const char *want; } rows[] = {
		{ "plain text", 10, 0, "plain text" },
		{ "a\nb", 3, PRINT_TAB_LITERAL, "a\\nb" },
		{ "a\tb", 3, PRINT_TAB_LITERAL, "a\tb" },
		{ "a\tb", 3, 0, "a\\tb" },
		{ "c\rd", 3, 0, "c\\rd" },
		{ "\x01", 1, 0, "\\001" },
		{ "\x7f", 1, 0, "\\177" },
		{ "\xff", 1, 0, "\\377" },
		{ "\xff", 1, PRINT_TOPBIT, "\xff" },
		{ "\x80\xa0", 2, 0, "\\200\\240" },
		{ "\x08h", 2, 0, "\\bh" },
		{ "\x0bi", 2, 0, "\\vi" },
		{ "\x0cj", 2, 0, "\\fj" },
		{ "\x1bk", 2, 0, "\\033k" },
		{ "\x07l", 2, 0, "\\007l" },
		{ "back\\slash \"q\"", 14, 0, "back\\slash \"q\"" },
		{ "nul\0x", 5, 0, "nul\\000x" },
		{ "", 0, 0, "" },
		{ "a\nb\tc\rd\x01" "e\x7f f\xffg", 14, PRINT_TAB_LITERAL, "a\\nb\tc\\rd\\001e\\177 f\\377g" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		sv in = sv_make(rows[i].in, rows[i].len);
		CHECK_STR(printing_dup(A, in, rows[i].flags), rows[i].want);
		CHECK_INT(printing_is_clean(in, rows[i].flags), strcmp(rows[i].want, rows[i].in) == 0 &&
			strlen(rows[i].in) == rows[i].len);
	}
}

static void test_escape_taint(void)
{
	xbuf b;
	xbuf_init(&b, A);
	printing_escape(sv_tainted(SV_LIT("x\n")), 0, &b);
	CHECK_INT(b.taint, 1);
	CHECK_STR(xbuf_cstr(&b), "x\\n");
	xbuf_reset(&b);
	printing_escape(SV_LIT("clean"), 0, &b);
	CHECK_INT(b.taint, 0);
}

static void test_escape8bit(void)
{
	static const struct { const char *in; size_t len; const char *want; } rows[] = {
		{ "a\nb\xff\\", 5, "a\nb\\377\\134" },
		{ "\x01\x7f\x80\t\"", 5, "\x01\\177\\200\t\"" },
		{ "ascii", 5, "ascii" },
		{ "", 0, "" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf b;
		xbuf_init(&b, A);
		printing_escape8bit(sv_make(rows[i].in, rows[i].len), &b);
		CHECK_STR(xbuf_cstr(&b), rows[i].want);
	}
}

int main(void)
{
	A = arena_new("test_printing");
	RUN(test_escape);
	RUN(test_escape_taint);
	RUN(test_escape8bit);
	arena_free(A);
	return unit_report("test_printing");
}
