/* Address-list items: ^regex on the whole address, whole-address lookups (type;data, with "*@"
 * defaults but never partial matching), "@@type;data" per-domain local-part lists with ">key"
 * chaining, local@domain patterns (local part literal or *suffix, domain as a domain-list item),
 * and bare domains / *domains matched against the domain part. The domain is always compared
 * caselessly; the local part caselessly until "+caseful". */
#include "search/match_internal.h"

#include <ctype.h>
#include <string.h>

#include "lib/debug.h"
#include "lib/list.h"

#define MATCH_MAX_CHAIN 50

/* The address as lookups see it: domain lowercased always, local part too unless +caseful. */
static sv lookup_key(match_walk *w, sv subject)
{
	char *k = sv_dup(pool_scratch, subject);
	const char *at = NULL;
	for (size_t i = subject.len; i > 0 && !at; i--)
		if (subject.p[i - 1] == '@')
			at = subject.p + i - 1;
	size_t from = at ? (size_t)(at - subject.p) : subject.len;
	for (size_t i = w->caseless ? 0 : from; i < subject.len; i++)
		k[i] = (char)tolower((unsigned char)k[i]);
	sv r = sv_make(k, subject.len);
	r.taint = subject.taint;
	return r;
}

static const char *last_at(sv s)
{
	for (size_t i = s.len; i > 0; i--)
		if (s.p[i - 1] == '@')
			return s.p + i - 1;
	return NULL;
}

/* "@@type;data": look the domain up; the data is a list of local-part patterns, the last of
 * which may be ">key" to continue with another lookup. */
static int at_at_lookup(match_walk *w, sv local, sv domain, sv item)
{
	sv rest = sv_sub(item, 2, item.len);
	const char *semi = memchr(rest.p, ';', rest.len);
	if (!semi) {
		xbuf_printf(w->err, "missing ';' after \"@@\" in \"" SV_FMT "\"", SV_ARG(item));
		return SEARCH_DEFER;
	}
	search_spec spec;
	if (!match_parse_lookup(sv_sub(rest, 0, (size_t)(semi - rest.p)), &spec, w->err))
		return SEARCH_DEFER;
	sv data = sv_sub(rest, (size_t)(semi - rest.p) + 1, rest.len);
	xbuf key, found;
	xbuf_init(&key, pool_scratch);
	xbuf_init(&found, pool_scratch);
	for (size_t i = 0; i < domain.len; i++)
		xbuf_putc(&key, (char)tolower((unsigned char)domain.p[i]));
	match_walk lw = *w;
	lw.kind = MATCH_LOCALPART;
	match_ctx nodata = { 0 };
	if (w->ctx)
		nodata = *w->ctx;
	nodata.matched_data = NULL;
	lw.ctx = &nodata;
	for (int chain = 0; chain < MATCH_MAX_CHAIN; chain++) {
		xbuf_reset(&found);
		int rc;
		if (spec.li->type & LOOKUP_SINGLEKEY)
			rc = search_find_list(&spec, sv_trim(data), xbuf_sv(&key), &found, w->err);
		else
			rc = search_find_list(&spec, SV_NULL, sv_trim(data), &found, w->err);
		if (rc != SEARCH_OK)
			return rc;
		/* Walk the local-part patterns; a final ">key" item chains (single-key lookups only). */
		list_iter it;
		xbuf pat;
		xbuf_init(&pat, pool_scratch);
		list_iter_init(&it, xbuf_sv(&found), 0);
		bool chained = false;
		while (list_next(&it, &pat)) {
			sv p = xbuf_sv(&pat);
			if (p.len && p.p[0] == '>' && (spec.li->type & LOOKUP_SINGLEKEY)) {
				xbuf_reset(&key);
				xbuf_putsv(&key, sv_trim(sv_sub(p, 1, p.len)));
				chained = true;
				break;
			}
			bool neg = false;
			if (p.len && p.p[0] == '!') {
				neg = true;
				p = sv_trim(sv_sub(p, 1, p.len));
			}
			int r = match_localpart_item(&lw, local, p);
			if (r == SEARCH_DEFER)
				return r;
			if (r == SEARCH_OK)
				return neg ? SEARCH_FAIL : SEARCH_OK;
		}
		if (!chained)
			return SEARCH_FAIL;
	}
	xbuf_printf(w->err, "more than %d \">\" chains in \"@@\" lookup data", MATCH_MAX_CHAIN);
	return SEARCH_DEFER;
}

int match_address_item(match_walk *w, sv subject, sv item)
{
	/* Items that can match any address, including the empty one. */
	if (item.len == 0)
		return subject.len == 0 ? SEARCH_OK : SEARCH_FAIL;
	if (item.p[0] == '^') {
		bool m;
		if (!match_regex(subject, item, w->caseless, &m, w->err))
			return SEARCH_DEFER;
		if (m)
			match_set_data(w, item);
		return m ? SEARCH_OK : SEARCH_FAIL;
	}
	const char *semi = memchr(item.p, ';', item.len);
	if (semi && !sv_starts(item, "@@")) {
		search_spec spec;
		sv prefix = sv_sub(item, 0, (size_t)(semi - item.p));
		if (match_parse_lookup(prefix, &spec, NULL)) {
			if (spec.partial >= 0) {
				char *msg = arena_printf(pool_scratch, "partial matching is not applicable to "
					"whole-address lookups: ignored \"partial-\" in \"" SV_FMT "\"", SV_ARG(item));
				match_log(msg);
				spec.partial = -1;
			}
			if (subject.len == 0 && (spec.li->type & LOOKUP_SINGLEKEY))
				return SEARCH_FAIL;
			return match_lookup_item(w, &spec, lookup_key(w, subject),
				sv_sub(item, (size_t)(semi - item.p) + 1, item.len));
		}
		if (!memchr(prefix.p, '@', prefix.len))
			return match_parse_lookup(prefix, &spec, w->err) ? SEARCH_FAIL : SEARCH_DEFER;
	}
	if (subject.len == 0)
		return SEARCH_FAIL;
	const char *at = last_at(subject);
	if (!at) {
		char *msg = arena_printf(pool_scratch, "no @ found in the subject of an address list match: "
			"subject=\"" SV_FMT "\" pattern=\"" SV_FMT "\"", SV_ARG(subject), SV_ARG(item));
		match_log(msg);
		return SEARCH_FAIL;
	}
	sv local = sv_sub(subject, 0, (size_t)(at - subject.p));
	sv domain = sv_sub(lookup_key(w, subject), (size_t)(at - subject.p) + 1, subject.len);

	match_walk dw = *w;
	dw.kind = MATCH_DOMAIN;
	dw.caseless = true;
	if (sv_starts(item, "@@"))
		return at_at_lookup(w, local, domain, item);

	const char *pat_at = semi ? memchr(item.p, '@', (size_t)(semi - item.p)) : last_at(item);
	if (!pat_at) {
		/* A bare domain or *domain applies to the domain part only. */
		if (item.p[0] == '*') {
			if (match_suffix(domain, sv_sub(item, 1, item.len), true)) {
				match_set_data(w, item);
				return SEARCH_OK;
			}
			return SEARCH_FAIL;
		}
		if (sv_eqi(domain, item)) {
			match_set_data(w, item);
			return SEARCH_OK;
		}
		return SEARCH_FAIL;
	}
	sv plocal = sv_sub(item, 0, (size_t)(pat_at - item.p));
	sv pdomain = sv_sub(item, (size_t)(pat_at - item.p) + 1, item.len);
	if (plocal.len && plocal.p[0] == '*') {
		if (!match_suffix(local, sv_sub(plocal, 1, plocal.len), w->caseless))
			return SEARCH_FAIL;
	} else if (!match_literal(local, plocal, w->caseless)) {
		return SEARCH_FAIL;
	}
	if (pdomain.len > 1 && pdomain.p[0] == '+') {
		match_walk nw = dw;
		nw.depth++;
		xbuf one;
		xbuf_init(&one, pool_scratch);
		xbuf_putsv(&one, pdomain);
		/* A named domain list: walk it as a one-item list so the named-list rules apply. */
		return match_walk_list(&nw, domain, xbuf_sv(&one), 0);
	}
	return match_domain_item(&dw, domain, pdomain);
}
