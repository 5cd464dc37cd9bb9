/* Fuzz search_spec_parse: any bytes as a lookup type ("partial2(.)lsearch*@,ret=key,opt").
 *
 * Invariants: a failure gives one of Exim's messages; a success names a registered driver, and
 * the parsed spec written back in canonical form ("partialN(affix)name*@,ret=key,opts") parses
 * to the same spec. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/arena.h"
#include "search/search.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool starts(const xbuf *b, const char *prefix)
{
	return strncmp(xbuf_cstr(b), prefix, strlen(prefix)) == 0;
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pool_scratch) {
		arena_init_pools();
		arena_alloc(pool_scratch, 1);
	}
	arena_mark mark = arena_getmark(pool_scratch);
	xbuf err, canon;
	xbuf_init(&err, NULL);
	xbuf_init(&canon, NULL);
	search_spec s;
	if (!search_spec_parse(sv_make((const char *)data, size), &s, &err)) {
		CHECK(starts(&err, "format error in lookup type \"") || starts(&err, "unknown lookup type \"") ||
			starts(&err, "\"partial\" is not permitted for lookup type \"") ||
			starts(&err, "defaults using \"*\" or \"*@\" are not permitted for lookup type \""));
	} else if (!memchr(data, 0, size)) {
		CHECK(err.len == 0);
		CHECK(s.li != NULL && search_driver(sv_cstr(s.li->name)) == s.li);
		CHECK(s.partial >= -1);
		CHECK(!(s.star && s.starat));
		CHECK(s.affix != NULL);
		if (s.partial >= 0)
			xbuf_printf(&canon, "partial%d(%s)", s.partial, s.affix);
		xbuf_printf(&canon, "%s%s%s%s%s", s.li->name, s.starat ? "*@" : s.star ? "*" : "",
			s.ret_key ? ",ret=key" : "", s.opts ? "," : "", s.opts ? s.opts : "");
		search_spec t;
		xbuf e2;
		xbuf_init(&e2, NULL);
		bool ok = search_spec_parse(xbuf_sv(&canon), &t, &e2);
		if (!ok)
			fprintf(stderr, "canonical form \"%s\" failed: %s\n", xbuf_cstr(&canon), xbuf_cstr(&e2));
		CHECK(ok);
		CHECK(t.li == s.li && t.partial == s.partial && t.star == s.star && t.starat == s.starat &&
			t.ret_key == s.ret_key);
		CHECK(s.partial < 0 || same_str(t.affix, s.affix));
		CHECK(same_str(t.opts, s.opts));
		xbuf_free(&e2);
	}
	xbuf_free(&err);
	xbuf_free(&canon);
	arena_reset(pool_scratch, mark);
	return 0;
}
