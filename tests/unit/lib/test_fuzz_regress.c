/* Reproducers for bugs the fuzz targets (tests/fuzz) found in src/lib, one row per input. */
#include "lib/logsel.h"
#include "../unit.h"

static void test_logsel_numeric_nul(void)
{
	/* fuzz_logsel: "=\0\f" was accepted because strtoull stopped at the embedded NUL. */
	static const struct { const char *in; size_t len; } rows[] = {
		{ "=\0\f", 3 }, { "=5\0junk", 7 }, { "=\0", 2 }, { " =0x1\0", 6 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		logsel s = { 777 };
		CHECK(!logsel_parse(sv_make(rows[i].in, rows[i].len), &s, NULL));
		CHECK_INT(s.bits, 777);
	}
	logsel s;
	CHECK(logsel_parse(SV_LIT("=5"), &s, NULL));
	CHECK_INT(s.bits, 5);
}

int main(void)
{
	RUN(test_logsel_numeric_nul);
	return unit_report("test_fuzz_regress");
}
