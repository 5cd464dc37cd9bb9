/* Fuzz src/core/journal_seal.c: reading a -J journal (a spool file that a crash or a stale
 * block can fill with anything).
 *
 * Invariants: parsing never reads outside the input; every address it counts is a non-empty
 * line of the input without its newline; the count returned matches the calls; a journal made
 * of the counted addresses, sealed again for the same id, counts the same addresses. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/journal_seal.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)
#define ID "1tAbCd-000123-Ab"
enum { MAXA = 256 };

typedef struct seen {
	sv a[MAXA];
	size_t n, calls;
} seen;

static void add(void *ctx, sv address)
{
	seen *s = ctx;
	if (s->n < MAXA)
		s->a[s->n++] = address;
	s->calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	arena_mark mk = arena_getmark(pool_scratch);
	sv text = sv_make((const char *)data, size);
	seen s = { .n = 0 };
	bool pending = false;
	size_t count = journal_parse(text, ID, add, &s, &pending);
	CHECK(count == s.calls);
	for (size_t i = 0; i < s.n; i++) {
		CHECK(s.a[i].len > 0);
		CHECK(s.a[i].p >= text.p && s.a[i].p + s.a[i].len <= text.p + text.len);
		CHECK(memchr(s.a[i].p, '\n', s.a[i].len) == NULL);
	}
	if (s.calls <= MAXA) {
		xbuf j;
		xbuf_init(&j, pool_scratch);
		for (size_t i = 0; i < s.n; i++) {
			xbuf_putsv(&j, s.a[i]);
			xbuf_putc(&j, '\n');
		}
		size_t batch = j.len;
		journal_seal(&j, ID, sv_make(j.p, batch));
		seen t = { .n = 0 };
		size_t again = journal_parse(xbuf_sv(&j), ID, add, &t, NULL);
		/* Addresses that look like a seal line themselves would make a different batch. */
		bool seal_like = false;
		for (size_t i = 0; i < s.n; i++)
			if (s.a[i].len >= 3 && memcmp(s.a[i].p, JOURNAL_SEAL_PREFIX, 3) == 0)
				seal_like = true;
		if (!seal_like) {
			CHECK(again == s.n);
			for (size_t i = 0; i < t.n && i < s.n; i++)
				CHECK(t.a[i].len == s.a[i].len && memcmp(t.a[i].p, s.a[i].p, s.a[i].len) == 0);
		}
	}
	arena_reset(pool_scratch, mk);
	return 0;
}
