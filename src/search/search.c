/* search_find: the one path every lookup takes. It owns the per-process cache of open handles
 * (least recently used closed beyond lookup_open_max), the per-message result cache, partial
 * matching and "*" / "*@" defaults, ret=key, and the taint rules of Exim 4.96:
 *   - a tainted file name is refused ("Tainted filename for search: '...'"), logged to main+panic;
 *   - a tainted query for a lookup without a file (pgsql, redis) that has a quoting function, but
 *     was not quoted by it, is logged ("tainted search query is not properly quoted: ...") and
 *     then run anyway; sqlite, having a file, is not checked (as 4.96).
 * Results are not tainted: they come from data the administrator controls, as in Exim.
 */
#include "search/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/debug.h"
#include "lib/log.h"
#include "search/match.h"

int (*search_expand_hook)(sv in, xbuf *out, xbuf *err);
void (*search_log_hook)(const char *msg);

/* ---- open handles ---- */

typedef struct open_handle {
	const lookup_info *li;
	char *file; /* NULL for query-style */
	void *handle;
	int busy; /* a lookup on it is running (a wildlsearch key may look up other files) */
	struct open_handle *prev, *next; /* most recently used first */
} open_handle;

static open_handle *handles;
static int open_file_count;

long search_main_int(const char *name, long dflt)
{
	xbuf v;
	xbuf_init(&v, NULL);
	long long n = dflt;
	if (!conf_main_value(name, &v) || !sv_to_long(sv_trim(xbuf_sv(&v)), &n))
		n = dflt;
	xbuf_free(&v);
	return (long)n;
}

long search_main_time(const char *name, long dflt)
{
	xbuf v;
	xbuf_init(&v, NULL);
	long total = dflt;
	if (conf_main_value(name, &v)) {
		/* Exim's time format as -bP shows it: digits with w/d/h/m/s units ("1h30m", "5s", "30"). */
		sv t = sv_trim(xbuf_sv(&v));
		long acc = 0, num = 0;
		bool ok = t.len > 0, digits = false;
		for (size_t i = 0; ok && i < t.len; i++) {
			char c = t.p[i];
			if (c >= '0' && c <= '9') {
				ok = num < 100000000;
				num = num * 10 + (c - '0');
				digits = true;
				continue;
			}
			long mult = c == 'w' ? 604800 : c == 'd' ? 86400 : c == 'h' ? 3600 : c == 'm' ? 60 : c == 's' ? 1 : 0;
			ok = digits && mult;
			acc += num * mult;
			num = 0;
			digits = false;
		}
		if (ok)
			total = acc + num;
	}
	xbuf_free(&v);
	return total;
}

static void unlink_handle(open_handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
}

static void push_front(open_handle *h)
{
	h->next = handles;
	h->prev = NULL;
	if (handles)
		handles->prev = h;
	handles = h;
}

static void close_handle(open_handle *h)
{
	unlink_handle(h);
	if (h->li->close)
		h->li->close(h->handle);
	if (h->file)
		open_file_count--;
	free(h->file);
	free(h);
}

/* Keep at most lookup_open_max file handles: close the least recently used file ones. */
static void enforce_open_max(void)
{
	long max = search_main_int("lookup_open_max", 25);
	if (max < 1)
		max = 1;
	while (open_file_count > max) {
		open_handle *last = NULL;
		for (open_handle *h = handles; h; h = h->next)
			if (h->file && !h->busy)
				last = h;
		if (!last)
			break;
		DEBUG(D_LOOKUP) debug_printf("  closing %s \"%s\" (lookup_open_max)\n", last->li->name, last->file);
		close_handle(last);
	}
}

static open_handle *open_cached(const lookup_info *li, const char *file, xbuf *err)
{
	for (open_handle *h = handles; h; h = h->next) {
		if (h->li != li)
			continue;
		if ((h->file == NULL) != (file == NULL) || (file && strcmp(h->file, file) != 0))
			continue;
		unlink_handle(h);
		push_front(h);
		return h;
	}
	void *hd = li->open(file, err);
	if (!hd)
		return NULL;
	if (li->check && !li->check(hd, file, 0, NULL, NULL, err)) {
		li->close(hd);
		return NULL;
	}
	open_handle *h = calloc(1, sizeof *h);
	if (!h)
		abort();
	h->li = li;
	h->handle = hd;
	if (file) {
		h->file = strdup(file);
		if (!h->file)
			abort();
		open_file_count++;
	}
	push_front(h);
	h->busy++;
	enforce_open_max();
	h->busy--;
	return h;
}

/* ---- result cache (lives in pool_search; cleared by search_tidyup) ---- */

typedef struct cache_entry {
	struct cache_entry *next;
	const lookup_info *li;
	char *file, *opts; /* file "" for query-style; opts "" when none */
	char *key;
	size_t keylen;
	char *value; /* NULL: cached "not found" */
	size_t valuelen;
} cache_entry;

#define CACHE_BUCKETS 256
static cache_entry *cache[CACHE_BUCKETS];

static unsigned cache_hash(const lookup_info *li, const char *file, const char *opts, sv key)
{
	unsigned h = 2166136261u ^ (unsigned)(uintptr_t)li;
	for (const char *s = file; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (const char *s = opts; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (size_t i = 0; i < key.len; i++)
		h = (h ^ (unsigned char)key.p[i]) * 16777619u;
	return h % CACHE_BUCKETS;
}

static cache_entry *cache_get(const lookup_info *li, const char *file, const char *opts, sv key)
{
	for (cache_entry *e = cache[cache_hash(li, file, opts, key)]; e; e = e->next)
		if (e->li == li && e->keylen == key.len && memcmp(e->key, key.p, key.len) == 0 &&
		    strcmp(e->file, file) == 0 && strcmp(e->opts, opts) == 0)
			return e;
	return NULL;
}

static void cache_put(const lookup_info *li, const char *file, const char *opts, sv key, const xbuf *value)
{
	cache_entry *e = cache_get(li, file, opts, key);
	if (!e) {
		unsigned b = cache_hash(li, file, opts, key);
		e = arena_calloc(pool_search, 1, sizeof *e);
		e->li = li;
		e->file = arena_strdup(pool_search, file);
		e->opts = arena_strdup(pool_search, opts);
		e->key = arena_memdup(pool_search, key.p ? key.p : "", key.len);
		e->keylen = key.len;
		e->next = cache[b];
		cache[b] = e;
	}
	if (value) {
		e->value = arena_memdup(pool_search, value->p ? value->p : "", value->len);
		e->valuelen = value->len;
	} else {
		e->value = NULL;
	}
}

/* ---- the lookup itself ---- */

typedef struct find_state {
	const search_spec *spec;
	void *handle;
	const char *file;      /* NUL-terminated; NULL for query-style */
	const char *drv_opts;  /* options for the driver (generic ones removed) */
	bool no_rd;            /* cache=no_rd: do not read the cache */
	bool used_cache;       /* for the debug line */
	bool prefix_defer;     /* ${lookup} wording: 'lookup of "key" gave DEFER: ...' */
	xbuf *err;
} find_state;

static struct {
	char *wild, *fixed;
	size_t wlen, flen;
} last_partial;

void search_last_partial(sv *wild, sv *fixed)
{
	*wild = last_partial.wild ? sv_make(last_partial.wild, last_partial.wlen) : SV_LIT("");
	*fixed = last_partial.fixed ? sv_make(last_partial.fixed, last_partial.flen) : SV_LIT("");
}

static void set_last_partial(sv wild, sv fixed)
{
	free(last_partial.wild);
	free(last_partial.fixed);
	last_partial.wild = last_partial.fixed = NULL;
	last_partial.wlen = last_partial.flen = 0;
	if (!wild.p)
		return;
	last_partial.wild = malloc(wild.len + 1);
	last_partial.fixed = malloc(fixed.len + 1);
	if (!last_partial.wild || !last_partial.fixed)
		abort();
	memcpy(last_partial.wild, wild.p, wild.len);
	memcpy(last_partial.fixed, fixed.p, fixed.len);
	last_partial.wlen = wild.len;
	last_partial.flen = fixed.len;
}

/* One key, through the cache. */
static int find_one(find_state *st, sv key, xbuf *result)
{
	const lookup_info *li = st->spec->li;
	const char *cfile = st->file ? st->file : "";
	const char *copts = st->drv_opts ? st->drv_opts : "";
	if (!st->no_rd) {
		cache_entry *e = cache_get(li, cfile, copts, key);
		if (e) {
			st->used_cache = true;
			if (!e->value)
				return SEARCH_FAIL;
			xbuf_put(result, e->value, e->valuelen);
			return SEARCH_OK;
		}
	}
	xbuf val;
	xbuf_init(&val, pool_scratch);
	unsigned do_cache = 1;
	size_t errstart = st->err->len;
	int rc = li->find(st->handle, st->file, key, &val, st->err, &do_cache, st->drv_opts);
	if (rc == SEARCH_DEFER) {
		if (st->prefix_defer) {
			char *msg = arena_strndup(pool_scratch, st->err->p + errstart, st->err->len - errstart);
			xbuf_truncate(st->err, errstart);
			xbuf_printf(st->err, "lookup of \"" SV_FMT "\" gave DEFER: %s", SV_ARG(key), msg);
		}
		return rc;
	}
	if (rc == SEARCH_FAIL)
		xbuf_truncate(st->err, errstart); /* a "not found" explanation is not an error */
	if (do_cache)
		cache_put(li, cfile, copts, key, rc == SEARCH_OK ? &val : NULL);
	if (rc == SEARCH_OK)
		xbuf_put(result, val.p ? val.p : "", val.len);
	return rc;
}

static int count_components(sv s)
{
	if (s.len == 0)
		return 0;
	int n = 1;
	for (size_t i = 0; i < s.len; i++)
		n += s.p[i] == '.';
	return n;
}

/* Partial matching: affix + key, then with leading components removed one by one while at least
 * spec->partial components remain; partial0 ends with a lookup decided by the affix. */
static int find_partial(find_state *st, sv key, xbuf *result)
{
	const search_spec *spec = st->spec;
	sv affix = sv_cstr(spec->affix);
	xbuf k;
	xbuf_init(&k, pool_scratch);
	sv cur = key;
	int rc = SEARCH_FAIL;
	while (cur.len && count_components(cur) >= spec->partial) {
		xbuf_reset(&k);
		xbuf_putsv(&k, affix);
		xbuf_putsv(&k, cur);
		rc = find_one(st, xbuf_sv(&k), result);
		if (rc != SEARCH_FAIL) {
			if (rc == SEARCH_OK) {
				size_t wl = cur.p - key.p;
				set_last_partial(sv_make(key.p, wl ? wl - 1 : 0), cur);
			}
			return rc;
		}
		const char *dot = memchr(cur.p, '.', cur.len);
		if (!dot) {
			cur = sv_sub(cur, cur.len, 0);
			break;
		}
		cur = sv_sub(cur, (size_t)(dot - cur.p) + 1, cur.len);
	}
	if (spec->partial != 0 || cur.len)
		return SEARCH_FAIL;
	sv last;
	if (affix.len == 0)
		return SEARCH_FAIL;
	else if (affix.len == 1)
		last = affix;
	else if (affix.p[affix.len - 1] == '.')
		last = sv_sub(affix, 0, affix.len - 1);
	else
		last = affix;
	rc = find_one(st, last, result);
	if (rc == SEARCH_OK)
		set_last_partial(key, SV_LIT(""));
	return rc;
}

static char dnssec_authenticated[4];

void search_set_dnssec_authenticated(const char *value)
{
	snprintf(dnssec_authenticated, sizeof dnssec_authenticated, "%s", value ? value : "");
}

const char *search_dnssec_authenticated(void)
{
	return dnssec_authenticated;
}

void search_log_warning(const char *msg)
{
	if (search_log_hook)
		search_log_hook(msg);
	else
		log_write(LOG_MAIN | LOG_PANIC, "%s", msg);
}

/* Remove cache=no_rd from the driver's option text (it is generic). */
static const char *strip_generic_opts(const char *opts, bool *no_rd)
{
	*no_rd = false;
	if (!opts)
		return NULL;
	xbuf out;
	xbuf_init(&out, pool_scratch);
	sv o = sv_cstr(opts);
	size_t i = 0;
	while (i <= o.len) {
		size_t j = i;
		while (j < o.len && o.p[j] != ',')
			j++;
		sv one = sv_trim(sv_sub(o, i, j - i));
		if (sv_eq_cstr(one, "cache=no_rd"))
			*no_rd = true;
		else if (one.len) {
			if (out.len)
				xbuf_putc(&out, ',');
			xbuf_putsv(&out, one);
		}
		i = j + 1;
	}
	return out.len ? out.p : NULL;
}

static void debug_result(const search_spec *spec, const char *file, sv key, int rc, const xbuf *result,
	const xbuf *err, bool cached)
{
	debug_printf(" search_find: type=%s file=\"%s\" key=\"" SV_FMT "\"%s partial=%d affix=%s starflags=%d "
		"opts=%s%s%s: ", spec->li->name, file ? file : "NULL", SV_ARG(key),
		key.taint ? (key.quoter ? " (tainted, quoted)" : " (tainted)") : "", spec->partial,
		spec->partial >= 0 ? spec->affix : "NULL", spec->starat ? 2 : spec->star ? 1 : 0,
		spec->opts ? "\"" : "", spec->opts ? spec->opts : "NULL", spec->opts ? "\"" : "");
	if (cached)
		debug_printf("(cached) ");
	if (rc == SEARCH_OK)
		debug_printf("lookup yielded: %s\n", xbuf_cstr(result));
	else if (rc == SEARCH_FAIL)
		debug_printf("lookup failed\n");
	else
		debug_printf("lookup deferred: %s\n", xbuf_cstr(err));
}

static int find_common(const search_spec *spec, sv filename, sv key, xbuf *result, xbuf *err,
	bool prefix_defer)
{
	const lookup_info *li = spec->li;
	bool single = (li->type & LOOKUP_SINGLEKEY) != 0;
	bool uses_file = single || (li->type & LOOKUP_ABSFILEQUERY);
	set_last_partial(SV_NULL, SV_NULL);
	arena_mark mark = arena_getmark(pool_scratch);

	/* sqlite-style: the file may still be at the front of the query (or in file=/sqlite_dbfile). */
	if ((li->type & LOOKUP_ABSFILEQUERY) && sv_is_null(filename) &&
	    !search_split_query_file(spec, key, &filename, &key, err))
		return SEARCH_DEFER;

	if ((li->type & LOOKUP_ABSFILE) && (filename.len == 0 || filename.p[0] != '/')) {
		xbuf_printf(err, "absolute file name expected for \"%s\" lookup", li->name);
		return SEARCH_DEFER;
	}

	const char *file = NULL;
	if (uses_file && !sv_is_null(filename)) {
		if (filename.taint) {
			xbuf_printf(err, "Tainted filename for search: '" SV_FMT "'", SV_ARG(filename));
			search_log_warning(xbuf_cstr(err));
			return SEARCH_DEFER;
		}
		file = sv_dup(pool_scratch, filename);
	} else if (uses_file) {
		file = "";
	}

	/* Only lookups without a file are checked: 4.96 treats sqlite with its file as a file lookup. */
	if (!uses_file && key.taint && li->quote && key.quoter != search_quoter_id(li)) {
		char *msg = arena_printf(pool_scratch, "tainted search query is not properly quoted: " SV_FMT,
			SV_ARG(key));
		DEBUG(D_LOOKUP) debug_printf(" search_find: %s\n", msg);
		search_log_warning(msg);
	}

	find_state st = { .spec = spec, .file = file, .err = err, .prefix_defer = prefix_defer };
	st.drv_opts = strip_generic_opts(spec->opts, &st.no_rd);
	open_handle *oh = open_cached(li, file, err);
	if (oh && oh->busy) {
		/* A wildlsearch key that looks up its own file: the nested scan would move the outer
		 * one's file position and could recurse for ever. */
		xbuf_printf(err, "recursive %s lookup in %s", li->name, file ? file : "(query)");
		return SEARCH_DEFER;
	}
	st.handle = oh ? oh->handle : NULL;
	if (oh)
		oh->busy++;
	int rc;
	size_t start = result->len;
	if (!st.handle) {
		rc = SEARCH_DEFER;
	} else {
		/* An empty key never matches by itself, but the defaults below still apply (4.96). */
		rc = single && key.len == 0 ? SEARCH_FAIL : find_one(&st, key, result);
		if (rc == SEARCH_FAIL && spec->partial >= 0)
			rc = find_partial(&st, key, result);
		if (rc == SEARCH_FAIL && spec->starat) {
			const char *at = NULL;
			/* Exim needs a local part: "@domain" alone gets no "*@domain" try. */
			for (size_t i = key.len; i > 1 && !at; i--)
				if (key.p[i - 1] == '@')
					at = key.p + i - 1;
			if (at) {
				xbuf k;
				xbuf_init(&k, pool_scratch);
				xbuf_putc(&k, '*');
				xbuf_put(&k, at, (size_t)(key.p + key.len - at));
				rc = find_one(&st, xbuf_sv(&k), result);
			}
		}
		if (rc == SEARCH_FAIL && (spec->star || spec->starat))
			rc = find_one(&st, SV_LIT("*"), result);
	}
	if (oh)
		oh->busy--;
	if (rc == SEARCH_OK && spec->ret_key) {
		xbuf_truncate(result, start);
		xbuf_put(result, key.p, key.len);
	}
	if (rc == SEARCH_OK)
		result->taint = 0;
	DEBUG(D_LOOKUP) debug_result(spec, file, key, rc, result, err, st.used_cache);
	/* Values were copied into result / the cache; scratch space used on the way can go, unless
	 * the caller's buffers live in scratch themselves. */
	if (result->a != pool_scratch && err->a != pool_scratch)
		arena_reset(pool_scratch, mark);
	return rc;
}

/* Lookups nest only through (n)wildlsearch keys naming other lookups; bound the chain. */
#define SEARCH_MAX_NESTING 8
static int nesting;

static int find_bounded(const search_spec *spec, sv filename, sv key, xbuf *result, xbuf *err,
	bool prefix_defer)
{
	if (nesting >= SEARCH_MAX_NESTING) {
		xbuf_printf(err, "lookups nested more than %d deep", SEARCH_MAX_NESTING);
		return SEARCH_DEFER;
	}
	nesting++;
	int rc = find_common(spec, filename, key, result, err, prefix_defer);
	nesting--;
	return rc;
}

int search_find(const search_spec *spec, sv filename, sv key, xbuf *result, xbuf *err)
{
	return find_bounded(spec, filename, key, result, err, true);
}

int search_find_list(const search_spec *spec, sv filename, sv key, xbuf *result, xbuf *err)
{
	return find_bounded(spec, filename, key, result, err, false);
}

void search_reset_connection(void)
{
	search_tidyup();
	dnssec_authenticated[0] = '\0'; /* $lookup_dnssec_authenticated of the last lookup */
	nesting = 0;
}

void search_tidyup(void)
{
	DEBUG(D_LOOKUP) debug_printf("search_tidyup called\n");
	while (handles)
		close_handle(handles);
	for (size_t i = 0; lookup_drivers[i]; i++)
		if (lookup_drivers[i]->tidy)
			lookup_drivers[i]->tidy();
	memset(cache, 0, sizeof cache);
	if (pool_search)
		arena_clear(pool_search);
	set_last_partial(SV_NULL, SV_NULL);
	match_tidyup();
}
