/* A two-driver lookup registry for the operator tests, standing in for src/search until the
 * real registry is merged: "testq" quotes by doubling single quotes and accepts the option
 * "opt" (then also upper-cases); "testsk" is single-key (no quote function).
 * Include in exactly one translation unit per test program. */
#ifndef TESTS_UNIT_OPS_FAKE_SEARCH_H
#define TESTS_UNIT_OPS_FAKE_SEARCH_H

#include <ctype.h>

#include "search/search.h"

static bool fake_quote(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	bool upper = false;
	if (opt.p) {
		if (!sv_eq_cstr(opt, "opt")) {
			xbuf_printf(errmsg, "\"" SV_FMT "\" unrecognized after \"${quote_testq\"", SV_ARG(opt));
			return false;
		}
		upper = true;
	}
	for (size_t i = 0; i < in.len; i++) {
		if (in.p[i] == '\'')
			xbuf_putc(out, '\'');
		xbuf_putc(out, upper ? (char)toupper((unsigned char)in.p[i]) : in.p[i]);
	}
	return true;
}

static const lookup_info fake_testq = { .name = "testq", .type = LOOKUP_QUERYSTYLE, .quote = fake_quote };
static const lookup_info fake_testsk = { .name = "testsk", .type = LOOKUP_SINGLEKEY };

const lookup_info *search_driver(sv name)
{
	if (sv_eq_cstr(name, "testq")) return &fake_testq;
	if (sv_eq_cstr(name, "testsk")) return &fake_testsk;
	return NULL;
}

unsigned search_quoter_id(const lookup_info *li)
{
	return li == &fake_testq ? 1 : li == &fake_testsk ? 2 : 0;
}

#endif
