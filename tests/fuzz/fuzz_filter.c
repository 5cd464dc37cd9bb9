/* Fuzz the Exim filter parser (src/core/filter_parse.c): pure, no I/O reachable.
 *
 * Invariants: parsing never crashes and is bounded; it is deterministic (a second parse gives
 * the same verdict and the same message); a failure always has a message; the whole-file check
 * for the "# Exim filter" line agrees with itself when the text is prefixed by blank lines; a
 * file that parses still parses with a comment line appended (comments never change meaning). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/filter.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	arena_mark m = arena_getmark(pool_scratch);
	sv text = sv_make((const char *)data, size);
	bool system = size > 0 && (data[0] & 1);
	xbuf e1, e2;
	xbuf_init(&e1, pool_scratch);
	xbuf_init(&e2, pool_scratch);
	filter *f1 = filter_parse(pool_scratch, text, system, &e1);
	filter *f2 = filter_parse(pool_scratch, text, system, &e2);
	CHECK((f1 == NULL) == (f2 == NULL));
	if (!f1) {
		CHECK(e1.len > 0);
		CHECK(e1.len == e2.len && memcmp(e1.p, e2.p, e1.len) == 0);
	}

	xbuf padded;
	xbuf_init(&padded, pool_scratch);
	xbuf_puts(&padded, "\n  \n");
	xbuf_put(&padded, data, size);
	CHECK(filter_is_exim_filter(text) == filter_is_exim_filter(xbuf_sv(&padded)));

	if (f1 && memchr(data, '"', size) == NULL && memchr(data, '\\', size) == NULL) {
		/* Without quotes nothing can be open at the end; a final comment line is inert. */
		xbuf more;
		xbuf_init(&more, pool_scratch);
		xbuf_put(&more, data, size);
		xbuf_puts(&more, "\n# comment\n");
		xbuf e3;
		xbuf_init(&e3, pool_scratch);
		CHECK(filter_parse(pool_scratch, xbuf_sv(&more), system, &e3) != NULL);
	}
	arena_reset(pool_scratch, m);
	return 0;
}
