/* Reproducers for bugs the fuzz targets (tests/fuzz) found in src/lib, one row per input. */
#include "lib/arena.h"
#include "lib/logsel.h"
#include "../unit.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

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

/* Arena memory was invisible to ASan, so fuzz targets could not see an overflow from one arena
 * allocation into the next. Under ASan each allocation is now followed by a poisoned red zone,
 * and a reset poisons what it released. (Without ASan there is nothing to observe.) */
static void test_arena_asan_redzones(void)
{
#ifdef HAVE_ASAN
	arena *a = arena_new("t");
	char *keep = arena_alloc(a, 1);
	arena_mark m = arena_getmark(a);
	char *p = arena_alloc(a, 10);
	char *q = arena_alloc(a, 32);
	CHECK(!__asan_address_is_poisoned(p + 9));
	CHECK(__asan_address_is_poisoned(p + 10)); /* one past the end */
	CHECK(__asan_address_is_poisoned(q + 32));
	CHECK(!__asan_address_is_poisoned(q));
	/* In-place growth moves the red zone; shrinking poisons the released tail. */
	char *r = arena_realloc(a, q, 32, 100);
	CHECK(r == q);
	CHECK(!__asan_address_is_poisoned(r + 99));
	CHECK(__asan_address_is_poisoned(r + 100));
	r = arena_realloc(a, r, 100, 40);
	CHECK(__asan_address_is_poisoned(r + 40));
	arena_reset(a, m);
	CHECK(__asan_address_is_poisoned(p));
	CHECK(!__asan_address_is_poisoned(keep));
	char *s = arena_alloc(a, 4); /* reuse after a reset is writable again */
	CHECK(!__asan_address_is_poisoned(s + 3));
	CHECK(__asan_address_is_poisoned(s + 4));
	arena_free(a);
#else
	printf("test_arena_asan_redzones: not an ASan build, nothing to check\n");
#endif
}

int main(void)
{
	RUN(test_arena_asan_redzones);
	RUN(test_logsel_numeric_nul);
	return unit_report("test_fuzz_regress");
}
