/* List matching: the walk over a list (negation, files of items, named lists and their cache)
 * and the item kinds shared by domain and local-part lists. Address items are in
 * match_address.c, host items in match_host.c.
 *
 * Result of a list: the first item that matches decides (a negated one means "not in the list");
 * if none matches, the subject is in the list only when the last item was negated.
 */
#include "search/match_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/conf.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "lib/log.h"

/* ---- $0, $1... from the deciding item ---- */

#define MATCH_MAX_NUMERIC 10
static struct {
	char *buf;       /* all values, back to back */
	size_t off[MATCH_MAX_NUMERIC], len[MATCH_MAX_NUMERIC];
	size_t n;
} numeric;

static void numeric_clear(void)
{
	free(numeric.buf);
	numeric.buf = NULL;
	numeric.n = 0;
}

/* Record values (views into the subject or pattern) as the numeric variables. */
static void numeric_set(const sv *vals, size_t n)
{
	numeric_clear();
	size_t total = 0;
	if (n > MATCH_MAX_NUMERIC)
		n = MATCH_MAX_NUMERIC;
	for (size_t i = 0; i < n; i++)
		total += vals[i].len;
	numeric.buf = malloc(total + 1);
	if (!numeric.buf)
		abort();
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (vals[i].len)
			memcpy(numeric.buf + o, vals[i].p, vals[i].len);
		numeric.off[i] = o;
		numeric.len[i] = vals[i].len;
		o += vals[i].len;
	}
	numeric.n = n;
}

size_t match_last_numeric(sv *vars, size_t max)
{
	size_t n = numeric.n < max ? numeric.n : max;
	for (size_t i = 0; i < n; i++)
		vars[i] = sv_make(numeric.buf + numeric.off[i], numeric.len[i]);
	return n;
}

/* ---- small helpers ---- */

bool match_literal(sv subject, sv pattern, bool caseless)
{
	return caseless ? sv_eqi(subject, pattern) : sv_eq(subject, pattern);
}

bool match_suffix(sv subject, sv suffix, bool caseless)
{
	if (suffix.len > subject.len)
		return false;
	return match_literal(sv_sub(subject, subject.len - suffix.len, suffix.len), suffix, caseless);
}

void match_log(const char *msg)
{
	if (search_log_hook)
		search_log_hook(msg);
	else
		log_write(LOG_MAIN | LOG_PANIC, "%s", msg);
}

void match_set_data(match_walk *w, sv data)
{
	if (!w->ctx || !w->ctx->matched_data)
		return;
	xbuf_reset(w->ctx->matched_data);
	xbuf_putsv(w->ctx->matched_data, data);
	if (!w->ctx->matched_data->p) {
		/* Empty data is data too (a lookup's "key:" line): leave the buffer allocated so that
		 * the caller can tell it from no data at all. */
		xbuf_putc(w->ctx->matched_data, 0);
		xbuf_truncate(w->ctx->matched_data, 0);
	}
}

bool match_regex(sv subject, sv pattern, bool caseless, bool *matched, xbuf *err)
{
	int ec;
	PCRE2_SIZE eo;
	*matched = false;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern.p, pattern.len, caseless ? PCRE2_CASELESS : 0,
		&ec, &eo, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		xbuf_printf(err, "regular expression error: %s at offset %zu while compiling " SV_FMT,
			(char *)msg, (size_t)eo, SV_ARG(pattern));
		return false;
	}
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = pcre2_match(re, (PCRE2_SPTR)(subject.p ? subject.p : ""), subject.len, 0, 0, md, NULL);
	*matched = rc >= 0;
	if (rc > 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		sv vals[MATCH_MAX_NUMERIC];
		size_t n = (size_t)rc < MATCH_MAX_NUMERIC ? (size_t)rc : MATCH_MAX_NUMERIC;
		/* Exim puts the whole subject in $0 (not just the matched part); captures follow. */
		vals[0] = subject;
		for (size_t i = 1; i < n; i++)
			vals[i] = ov[2 * i] == PCRE2_UNSET ? SV_LIT("") : sv_sub(subject, ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
		numeric_set(vals, n);
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return true;
}

bool match_parse_lookup(sv prefix, search_spec *spec, xbuf *err)
{
	xbuf e;
	xbuf_init(&e, pool_scratch);
	if (search_spec_parse(prefix, spec, &e))
		return true;
	if (err)
		xbuf_putsv(err, xbuf_sv(&e));
	return false;
}

int match_lookup_item(match_walk *w, const search_spec *spec, sv key, sv data)
{
	xbuf result;
	xbuf_init(&result, pool_scratch);
	data = sv_trim(data);
	int rc;
	if (spec->li->type & LOOKUP_SINGLEKEY)
		rc = search_find_list(spec, data, key, &result, w->err);
	else
		rc = search_find_list(spec, SV_NULL, data, &result, w->err);
	if (rc == SEARCH_OK)
		match_set_data(w, xbuf_sv(&result));
	return rc;
}

/* "type;data" where the type parses: run it with the subject as key; SEARCH_FAIL with *is_lookup
 * false when the item has no ';'. */
static int lookup_or_not(match_walk *w, sv subject, sv item, bool *is_lookup)
{
	const char *semi = memchr(item.p, ';', item.len);
	*is_lookup = semi != NULL;
	if (!semi)
		return SEARCH_FAIL;
	search_spec spec;
	if (!match_parse_lookup(sv_sub(item, 0, (size_t)(semi - item.p)), &spec, w->err))
		return SEARCH_DEFER;
	return match_lookup_item(w, &spec, subject, sv_sub(item, (size_t)(semi - item.p) + 1, item.len));
}

/* ---- domain and local-part items ---- */

int match_domain_item(match_walk *w, sv subject, sv item)
{
	const match_ctx *ctx = w->ctx;
	if (sv_eq_cstr(item, "@")) {
		const char *ph = ctx ? ctx->primary_hostname : NULL;
		if (ph && sv_eqi(subject, sv_cstr(ph))) {
			match_set_data(w, sv_cstr(ph));
			return SEARCH_OK;
		}
		return SEARCH_FAIL;
	}
	if (sv_eq_cstr(item, "@[]")) {
		if (subject.len < 3 || subject.p[0] != '[' || subject.p[subject.len - 1] != ']')
			return SEARCH_FAIL;
		match_walk hw = *w;
		hw.kind = MATCH_HOST;
		int rc = match_host_item(&hw, sv_sub(subject, 1, subject.len - 2), item);
		if (rc == SEARCH_OK)
			match_set_data(w, item);
		return rc;
	}
	if (sv_starts(item, "@mx_")) {
		if (match_mx_hook) {
			int rc = match_mx_hook(subject, item, w->err);
			if (rc == SEARCH_OK)
				match_set_data(w, item);
			return rc;
		}
		/* Without the DNS layer (unit tests, fuzzing) these cannot be answered. */
		xbuf_printf(w->err, "\"" SV_FMT "\" in a domain list needs DNS MX lookups, which are not "
			"available yet", SV_ARG(item));
		return SEARCH_DEFER;
	}
	return match_localpart_item(w, subject, item);
}

int (*match_mx_hook)(sv domain, sv item, xbuf *err);

/* Local-part items are domain items without the local-host specials. */
int match_localpart_item(match_walk *w, sv subject, sv item)
{
	if (item.len && item.p[0] == '*') {
		if (match_suffix(subject, sv_sub(item, 1, item.len), w->caseless)) {
			sv vals[2] = { subject, sv_sub(subject, 0, subject.len - (item.len - 1)) };
			numeric_set(vals, 2);
			match_set_data(w, item);
			return SEARCH_OK;
		}
		return SEARCH_FAIL;
	}
	if (item.len && item.p[0] == '^') {
		bool m;
		if (!match_regex(subject, item, w->caseless, &m, w->err))
			return SEARCH_DEFER;
		if (m)
			match_set_data(w, item);
		return m ? SEARCH_OK : SEARCH_FAIL;
	}
	bool is_lookup;
	int rc = lookup_or_not(w, subject, item, &is_lookup);
	if (is_lookup)
		return rc;
	if (match_literal(subject, item, w->caseless)) {
		match_set_data(w, item);
		return SEARCH_OK;
	}
	return SEARCH_FAIL;
}

bool match_string_item(sv subject, sv pattern, bool caseless, xbuf *err)
{
	match_walk w = { .kind = MATCH_DOMAIN, .caseless = caseless, .err = err };
	numeric_clear();
	/* The domain-list rules without "@" specials: *suffix, ^regex, lookups, literal. */
	return match_localpart_item(&w, subject, pattern) == SEARCH_OK;
}

/* ---- named lists and their cache ---- */

static const char *kind_name(enum match_kind k)
{
	switch (k) {
	case MATCH_DOMAIN: return "domain";
	case MATCH_LOCALPART: return "localpart";
	case MATCH_ADDRESS: return "address";
	case MATCH_HOST: return "host";
	default: return "string";
	}
}

static const char *kind_word(enum match_kind k)
{
	switch (k) {
	case MATCH_DOMAIN: return "domain";
	case MATCH_LOCALPART: return "local part";
	case MATCH_ADDRESS: return "address";
	case MATCH_HOST: return "host";
	default: return "string";
	}
}

typedef struct named_cache {
	struct named_cache *next;
	enum match_kind kind;
	bool caseless;
	char *name, *subject, *data;
	int rc;
} named_cache;

static named_cache *named_results;
const char *(*match_named_list_hook)(const char *kind, const char *name);

void match_tidyup(void)
{
	numeric_clear();
	while (named_results) {
		named_cache *n = named_results->next;
		free(named_results->name);
		free(named_results->subject);
		free(named_results->data);
		free(named_results);
		named_results = n;
	}
}

static char *dup_sv(sv v)
{
	char *p = malloc(v.len + 1);
	if (!p)
		abort();
	memcpy(p, v.p ? v.p : "", v.len);
	p[v.len] = 0;
	return p;
}

static int named_list(match_walk *w, sv subject, sv name)
{
	char *cname = sv_dup(pool_scratch, name);
	const char *text = match_named_list_hook ? match_named_list_hook(kind_name(w->kind), cname)
		: conf_named_list(kind_name(w->kind), cname);
	if (!text) {
		xbuf_printf(w->err, "unknown named %s list \"+%s\"", kind_word(w->kind), cname);
		return SEARCH_DEFER;
	}
	/* Exim caches a named list's result only when its text cannot change (no '$'). */
	bool cacheable = strchr(text, '$') == NULL;
	if (cacheable) {
		for (named_cache *c = named_results; c; c = c->next)
			if (c->kind == w->kind && c->caseless == w->caseless && strcmp(c->name, cname) == 0 &&
			    sv_eq_cstr(subject, c->subject)) {
				DEBUG(D_LISTS) debug_printf("cached %s match for +%s\n",
					c->rc == SEARCH_OK ? "yes" : "no", cname);
				if (c->rc == SEARCH_OK && c->data)
					match_set_data(w, sv_cstr(c->data));
				return c->rc;
			}
	}
	if (w->depth >= MATCH_MAX_DEPTH) {
		xbuf_printf(w->err, "named lists nested too deeply at \"+%s\"", cname);
		return SEARCH_DEFER;
	}
	sv list = sv_cstr(text);
	xbuf expanded;
	xbuf_init(&expanded, pool_scratch);
	if (w->ctx && w->ctx->expand) {
		xbuf e;
		xbuf_init(&e, pool_scratch);
		int x = w->ctx->expand(w->ctx->ectx, list, &expanded, &e);
		if (x == 1)
			return SEARCH_FAIL;
		if (x == 2) {
			xbuf_printf(w->err, "failed to expand named list \"+%s\": %s", cname, xbuf_cstr(&e));
			return SEARCH_DEFER;
		}
		list = xbuf_sv(&expanded);
	}
	match_walk sub = *w;
	sub.depth++;
	int rc = match_walk_list(&sub, subject, list, 0);
	if (cacheable && rc != SEARCH_DEFER) {
		named_cache *c = calloc(1, sizeof *c);
		if (!c)
			abort();
		c->kind = w->kind;
		c->caseless = w->caseless;
		c->name = dup_sv(name);
		c->subject = dup_sv(subject);
		if (rc == SEARCH_OK && w->ctx && w->ctx->matched_data)
			c->data = dup_sv(xbuf_sv(w->ctx->matched_data));
		c->rc = rc;
		c->next = named_results;
		named_results = c;
	}
	return rc;
}

/* ---- the walk ---- */

static int item_dispatch(match_walk *w, sv subject, sv item)
{
	switch (w->kind) {
	case MATCH_DOMAIN: return match_domain_item(w, subject, item);
	case MATCH_LOCALPART: return match_localpart_item(w, subject, item);
	case MATCH_ADDRESS: return match_address_item(w, subject, item);
	case MATCH_HOST: return match_host_item(w, subject, item);
	default: return match_literal(subject, item, w->caseless) ? SEARCH_OK : SEARCH_FAIL;
	}
}

/* In domain and host files '#' starts a comment anywhere; in address and local-part files only
 * at the start or after white space (local parts may contain '#'). */
static sv strip_file_comment(enum match_kind kind, sv line)
{
	for (size_t i = 0; i < line.len; i++) {
		if (line.p[i] != '#')
			continue;
		if (kind == MATCH_DOMAIN || kind == MATCH_HOST || i == 0 || isspace((unsigned char)line.p[i - 1]))
			return sv_trim(sv_sub(line, 0, i));
	}
	return sv_trim(line);
}

/* Items from a file: one per line, each may be negated; no further files, no expansion.
 * *matched_neg reports whether a match came from a negated line. */
static int file_items(match_walk *w, sv subject, sv path, bool *matched_neg, bool *last_neg)
{
	char *p = sv_dup(pool_scratch, path);
	FILE *f = fopen(p, "r");
	if (!f) {
		xbuf_printf(w->err, "failed to open %s when checking \"%s\": %s", p, p, strerror(errno));
		return SEARCH_DEFER;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = SEARCH_FAIL;
	while ((n = getline(&line, &cap, f)) >= 0) {
		sv l = strip_file_comment(w->kind, sv_make(line, (size_t)n));
		l.taint = path.taint;
		if (l.len == 0)
			continue;
		bool neg = false;
		while (l.len && l.p[0] == '!') {
			neg = !neg;
			l = sv_trim(sv_sub(l, 1, l.len));
		}
		*last_neg = neg;
		rc = item_dispatch(w, subject, l); /* "+name" in a file is not a named list (4.96) */
		if (rc == SEARCH_OK) {
			*matched_neg = neg;
			break;
		}
		if (rc == SEARCH_DEFER || rc == MATCH_UNKNOWN_STOP)
			break;
	}
	free(line);
	fclose(f);
	return rc;
}

int match_walk_list(match_walk *w, sv subject, sv list, int sep)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, pool_scratch);
	list_iter_init(&it, list, sep);
	bool last_neg = false;
	while (list_next(&it, &item)) {
		sv s = xbuf_sv(&item);
		if (w->kind == MATCH_STRING) {
			if (match_literal(subject, s, w->caseless))
				return SEARCH_OK;
			continue;
		}
		bool neg = false;
		while (s.len && s.p[0] == '!') { /* "!!x" and "! !x" are positive again, as in Exim */
			neg = !neg;
			s = sv_trim(sv_sub(s, 1, s.len));
		}
		if (w->kind == MATCH_HOST && !neg) {
			if (sv_eq_cstr(s, "+include_unknown")) { w->include_unknown = true; w->ignore_unknown = false; continue; }
			if (sv_eq_cstr(s, "+ignore_unknown")) { w->ignore_unknown = true; w->include_unknown = false; continue; }
			if (sv_eq_cstr(s, "+include_defer")) { w->include_defer = true; w->ignore_defer = false; continue; }
			if (sv_eq_cstr(s, "+ignore_defer")) { w->ignore_defer = true; w->include_defer = false; continue; }
		}
		if ((w->kind == MATCH_ADDRESS || w->kind == MATCH_LOCALPART) && !neg && sv_eq_cstr(s, "+caseful")) {
			w->caseless = false;
			continue;
		}
		int rc;
		bool matched_neg = false;
		if (s.len > 1 && s.p[0] == '+') {
			rc = named_list(w, subject, sv_sub(s, 1, s.len));
		} else if (s.len && s.p[0] == '/') {
			bool file_last_neg = false;
			rc = file_items(w, subject, s, &matched_neg, &file_last_neg);
			if (rc != SEARCH_OK)
				matched_neg = false;
		} else {
			rc = item_dispatch(w, subject, s);
		}
		if (rc == MATCH_UNKNOWN_STOP)
			return SEARCH_FAIL;
		if (rc == SEARCH_DEFER && !sv_starts(xbuf_sv(w->err), "unable to complete match against \"")) {
			/* Exim's wording for a list that cannot be decided names the item. */
			char *why = arena_strndup(pool_scratch, w->err->p ? w->err->p : "", w->err->len);
			xbuf_reset(w->err);
			xbuf_printf(w->err, "unable to complete match against \"" SV_FMT "\": %s", SV_ARG(s), why);
		}
		if (rc == SEARCH_DEFER) {
			if (w->kind == MATCH_HOST && w->ignore_defer) {
				xbuf_reset(w->err);
				continue;
			}
			if (w->kind == MATCH_HOST && w->include_defer) {
				xbuf_reset(w->err);
				rc = SEARCH_OK;
			} else {
				return SEARCH_DEFER;
			}
		}
		if (rc == SEARCH_OK)
			return (neg != matched_neg) ? SEARCH_FAIL : SEARCH_OK;
		last_neg = neg;
	}
	return last_neg ? SEARCH_OK : SEARCH_FAIL;
}

int match_isinlist(sv subject, sv list, int sep, enum match_kind kind, bool caseless,
	const match_ctx *ctx, xbuf *err)
{
	/* Domains and host names are case-independent whatever the caller asks; the flag matters
	 * for local parts (and the local part of addresses) and plain strings. */
	if (kind == MATCH_DOMAIN || kind == MATCH_HOST)
		caseless = true;
	match_walk w = { .kind = kind, .caseless = caseless, .ctx = ctx, .err = err };
	numeric_clear();
	arena_mark mark = arena_getmark(pool_scratch);
	sv subj = subject;
	int rc;
	if (kind == MATCH_HOST) {
		/* An IPv4-mapped IPv6 subject is matched as the IPv4 address. */
		if (sv_starts(subject, "::ffff:") && memchr(subject.p + 7, '.', subject.len - 7))
			subj = sv_sub(subject, 7, subject.len);
		ip_addr ip;
		if (subj.len && !ip_parse(subj, &ip)) {
			xbuf_printf(err, "\"" SV_FMT "\" is not an IP address", SV_ARG(subject));
			return SEARCH_DEFER;
		}
	}
	rc = match_walk_list(&w, subj, list, sep);
	DEBUG(D_LISTS) debug_printf(SV_FMT " in \"" SV_FMT "\"? %s\n", SV_ARG(subj), SV_ARG(list),
		rc == SEARCH_OK ? "yes" : rc == SEARCH_FAIL ? "no" : "defer");
	if (err->a != pool_scratch && (!ctx || !ctx->matched_data || ctx->matched_data->a != pool_scratch))
		arena_reset(pool_scratch, mark);
	return rc;
}
