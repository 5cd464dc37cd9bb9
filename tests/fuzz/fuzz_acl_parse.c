/* Fuzz the ACL parser (src/core/acl_parse.c): any bytes as file/inline ACL text.
 *
 * Invariants: splitting never yields a line with a newline or an empty line; parsing either
 * fails with a message or yields statements whose verbs and condition ids are in range, whose
 * "set" variables start acl_c/acl_m followed by a digit or underscore, and whose arguments are
 * substrings of some source line (nothing invented). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/acl_internal.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool inside(sv part, const acl_src_line *lines, size_t n)
{
	if (!part.len)
		return true;
	for (size_t i = 0; i < n; i++)
		if (part.len <= lines[i].text.len && memmem(lines[i].text.p, lines[i].text.len, part.p, part.len))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static arena *a;
	if (!a) {
		arena_init_pools();
		a = arena_new("fuzz_acl");
	}
	arena_mark m = arena_getmark(a);
	acl_src_line *lines;
	size_t n = acl_split_text(a, sv_make((const char *)data, size), "fuzz", &lines);
	for (size_t i = 0; i < n; i++) {
		CHECK(lines[i].text.len > 0);
		CHECK(!memchr(lines[i].text.p, '\n', lines[i].text.len));
	}
	acl_stmt *st = NULL;
	xbuf err;
	xbuf_init(&err, a);
	size_t bad = 0;
	if (acl_parse(a, lines, n, &st, &err, &bad)) {
		for (; st; st = st->next) {
			CHECK(st->verb >= 0 && st->verb < V__COUNT);
			for (const acl_cond *cd = st->conds; cd; cd = cd->next) {
				CHECK(acl_cond_def_get(cd->id) != NULL);
				CHECK(!cd->negated || !acl_cond_def_get(cd->id)->modifier);
				if (cd->id == C_SET) {
					CHECK(cd->varname.len > 5);
					CHECK(memcmp(cd->varname.p, "acl_c", 5) == 0 || memcmp(cd->varname.p, "acl_m", 5) == 0);
					CHECK(cd->varname.p[5] == '_' || (cd->varname.p[5] >= '0' && cd->varname.p[5] <= '9'));
				}
				CHECK(inside(cd->arg, lines, n));
			}
		}
	} else {
		CHECK(err.len > 0);
		CHECK(bad < n);
	}
	arena_reset(a, m);
	return 0;
}
