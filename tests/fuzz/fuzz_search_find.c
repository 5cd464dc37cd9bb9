/* Fuzz search_find's key handling (defaults "*" and "*@", partial matching) over an lsearch
 * file. Input: the lookup key on the first line, then the file, which is written to the
 * sandbox's private directory.
 *
 * A model built only from plain exact lookups (spec "lsearch") predicts each decorated lookup,
 * following the specification (ch-file_and_database_lookups, "Default values in single-key
 * lookups" and "Partial matching in single-key lookups"):
 *   lsearch*      exact, else "*"
 *   lsearch*@     exact, else "*@" + what follows the last '@' (if there is one with a local
 *                 part before it: Exim 4.96 gives "@domain" no "*@domain" try), else "*"
 *   partialN-     exact, then "*." + each suffix with at least N components, longest first;
 *                 for N = 0 finally "*"; a trailing "*" or "*@" applies after all of those
 * The partial model is only used for keys made of non-empty dot-separated components without
 * '*', where the specification leaves nothing open. Results must agree in outcome and data,
 * with the cache warm from the earlier lookups. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"
#include "fuzz_check.h"
#include "fuzz_sandbox.h"
#include "lib/arena.h"
#include "search/search.h"

#define CHECK(cond) FUZZ_CHECK(cond, g_data, g_size)

static const uint8_t *g_data;
static size_t g_size;
static sv g_file;

typedef struct answer {
	int rc;
	xbuf data;
} answer;

static void lookup(const char *type, sv key, answer *a)
{
	search_spec spec;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(search_spec_parse(sv_cstr(type), &spec, &err));
	xbuf_reset(&a->data);
	xbuf_reset(&err);
	a->rc = search_find(&spec, g_file, key, &a->data, &err);
	CHECK(a->rc == SEARCH_OK || a->rc == SEARCH_FAIL || a->rc == SEARCH_DEFER);
	xbuf_free(&err);
}

/* First hit among candidate keys, by plain lookups. */
static void model_first(sv *keys, size_t n, answer *a)
{
	a->rc = SEARCH_FAIL;
	xbuf_reset(&a->data);
	for (size_t i = 0; i < n && a->rc == SEARCH_FAIL; i++)
		if (!(i > 0 && keys[i].len == 0))
			lookup("lsearch", keys[i], a);
}

static void same(const answer *got, const answer *want, const char *what)
{
	if (got->rc != want->rc || (got->rc == SEARCH_OK && !sv_eq(xbuf_sv(&got->data), xbuf_sv(&want->data)))) {
		fprintf(stderr, "%s: got rc %d \"%s\", model rc %d \"%s\"\n", what, got->rc, xbuf_cstr(&got->data),
			want->rc, xbuf_cstr(&want->data));
		CHECK(!"search_find disagrees with the model");
	}
}

static bool plain_domain(sv k)
{
	if (k.len == 0 || k.p[0] == '.' || k.p[k.len - 1] == '.' || memchr(k.p, '*', k.len))
		return false;
	for (size_t i = 1; i < k.len; i++)
		if (k.p[i] == '.' && k.p[i - 1] == '.')
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_data = data;
	g_size = size;
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl || size > 8192 || memchr(data, 0, (size_t)(nl - data)))
		return 0;
	sv key = sv_make((const char *)data, (size_t)(nl - data));
	if (key.len > 200)
		return 0;
	fuzz_sandbox_enter();
	arena_mark mark = arena_getmark(pool_scratch);
	const char *path = fuzz_sandbox_write("data", nl + 1, size - (size_t)(nl - data) - 1);
	CHECK(path != NULL);
	g_file = sv_cstr(path);

	answer got, want;
	xbuf_init(&got.data, NULL);
	xbuf_init(&want.data, NULL);
	xbuf at_domain;
	xbuf_init(&at_domain, NULL);

	/* lsearch* */
	sv keys[40];
	keys[0] = key;
	keys[1] = SV_LIT("*");
	model_first(keys, 2, &want);
	lookup("lsearch*", key, &got);
	same(&got, &want, "lsearch*");

	/* lsearch*@ */
	size_t n = 0;
	keys[n++] = key;
	const char *at = NULL;
	for (size_t i = key.len; i > 0 && !at; i--)
		if (key.p[i - 1] == '@')
			at = key.p + i - 1;
	if (at && at > key.p) {
		xbuf_puts(&at_domain, "*");
		xbuf_put(&at_domain, at, (size_t)(key.p + key.len - at));
		keys[n++] = xbuf_sv(&at_domain);
	}
	keys[n++] = SV_LIT("*");
	model_first(keys, n, &want);
	lookup("lsearch*@", key, &got);
	same(&got, &want, "lsearch*@");

	/* partialN-lsearch and partialN-lsearch* for N = 0..3 */
	size_t comps = 1;
	for (size_t i = 0; i < key.len; i++)
		comps += key.p[i] == '.';
	if (plain_domain(key) && comps <= 30) { /* the model's arrays hold 32 candidates */
		xbuf cands[34];
		for (int N = 0; N <= 3; N++) {
			n = 0;
			keys[n++] = key;
			size_t start = 0, left = comps, ncands = 0;
			for (size_t c = 0; c < 32 && left >= (size_t)(N ? N : 1); c++) {
				xbuf_init(&cands[c], NULL);
				ncands++;
				xbuf_puts(&cands[c], "*.");
				xbuf_putsv(&cands[c], sv_sub(key, start, key.len - start));
				keys[n++] = xbuf_sv(&cands[c]);
				const char *dot = memchr(key.p + start, '.', key.len - start);
				if (!dot)
					break;
				start = (size_t)(dot - key.p) + 1;
				left--;
			}
			if (N == 0)
				keys[n++] = SV_LIT("*");
			char type[32];
			snprintf(type, sizeof type, "partial%d-lsearch", N);
			model_first(keys, n, &want);
			lookup(type, key, &got);
			same(&got, &want, type);
			keys[n++] = SV_LIT("*");
			snprintf(type, sizeof type, "partial%d-lsearch*", N);
			model_first(keys, n, &want);
			lookup(type, key, &got);
			same(&got, &want, type);
			for (size_t c = 0; c < ncands; c++)
				xbuf_free(&cands[c]);
		}
	}

	xbuf_free(&got.data);
	xbuf_free(&want.data);
	xbuf_free(&at_domain);
	search_tidyup();
	arena_reset(pool_scratch, mark);
	fuzz_sandbox_leave();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	arena_init_pools();
	arena_alloc(pool_scratch, 1);
	return 0;
}
