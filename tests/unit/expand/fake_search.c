/* TEST-ONLY stand-in for src/search (another engineer's module): a tiny lsearch and a literal /
 * "*suffix" list matcher, enough for the engine's unit tests and the -be scenario tests to run
 * before that module is merged. Never linked into the program. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/list.h"
#include "search/match.h"
#include "search/search.h"

static const lookup_info fake_lsearch = { .name = "lsearch", .type = LOOKUP_SINGLEKEY | LOOKUP_ABSFILE };
static const lookup_info fake_dnsdb = { .name = "dnsdb", .type = LOOKUP_QUERYSTYLE };

bool search_spec_parse(sv spec, search_spec *out, xbuf *err)
{
	memset(out, 0, sizeof *out);
	out->partial = -1;
	if (sv_eq_cstr(spec, "lsearch"))
		out->li = &fake_lsearch;
	else if (sv_eq_cstr(spec, "dnsdb"))
		out->li = &fake_dnsdb;
	else {
		xbuf_printf(err, "unknown lookup type \"" SV_FMT "\"", SV_ARG(spec));
		return false;
	}
	return true;
}

int search_find(const search_spec *spec, sv filename, sv key, xbuf *result, xbuf *err)
{
	if (spec->li == &fake_dnsdb)
		return SEARCH_FAIL;
	char name[512];
	snprintf(name, sizeof name, SV_FMT, SV_ARG(filename));
	FILE *f = fopen(name, "r");
	if (!f) {
		xbuf_printf(err, "failed to open %s for linear search: %s", name, strerror(errno));
		return SEARCH_DEFER;
	}
	char line[1024];
	int rc = SEARCH_FAIL;
	while (fgets(line, sizeof line, f)) {
		size_t n = strcspn(line, ": \t\n");
		if (n == key.len && strncasecmp(line, key.p, n) == 0) {
			char *v = line + n;
			if (*v == ':') v++;
			while (*v == ' ' || *v == '\t') v++;
			v[strcspn(v, "\n")] = 0;
			xbuf_puts(result, v);
			rc = SEARCH_OK;
			break;
		}
	}
	fclose(f);
	result->taint = 1;
	return rc;
}

void search_tidyup(void) {}

int match_isinlist(sv subject, sv list, int sep, enum match_kind kind, bool caseless,
	const match_ctx *ctx, xbuf *err)
{
	(void)sep; (void)ctx; (void)err;
	bool ci = caseless || kind == MATCH_DOMAIN;
	list_iter it;
	xbuf buf;
	xbuf_init(&buf, NULL);
	list_iter_init(&it, list, 0);
	while (list_next(&it, &buf)) {
		sv item = xbuf_sv(&buf);
		bool neg = item.len && item.p[0] == '!';
		if (neg) item = sv_trim(sv_sub(item, 1, item.len));
		bool hit;
		if (item.len && item.p[0] == '*' && kind != MATCH_STRING) {
			sv suf = sv_sub(item, 1, item.len);
			hit = subject.len >= suf.len && (ci ? sv_eqi : sv_eq)(sv_sub(subject, subject.len - suf.len, suf.len), suf);
		} else {
			hit = ci ? sv_eqi(subject, item) : sv_eq(subject, item);
		}
		if (hit) { xbuf_free(&buf); return neg ? SEARCH_FAIL : SEARCH_OK; }
	}
	xbuf_free(&buf);
	return SEARCH_FAIL;
}

bool match_string_item(sv subject, sv pattern, bool caseless, xbuf *err)
{
	(void)err;
	return caseless ? sv_eqi(subject, pattern) : sv_eq(subject, pattern);
}
