/* Fuzz the lsearch file format reader (lsearch_scan), shared by lsearch, wildlsearch,
 * nwildlsearch and iplsearch. The input is the file (read through fmemopen, no file system).
 *
 * First a scan whose match function never matches records every key the reader finds, in order;
 * that scan must end in FAIL. Then each recorded key (up to a bound) is looked up: the reader
 * must find it, at its first occurrence (the match function is called exactly as many times as
 * that key's first position), and the data must be well formed: without ret=full it is one line
 * (continuations are joined with one space) with no trailing white space (a leading space is
 * right when the key's own line has no data: Exim gives " x y" for "k\n  x\n  y"); with
 * ret=full it starts with the key. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "drivers/lookups/lsearch_file.h"
#include "fuzz_check.h"

#define CHECK(cond) FUZZ_CHECK(cond, g_data, g_size)
#define MAX_KEYS 16

static const uint8_t *g_data;
static size_t g_size;

typedef struct recorder {
	xbuf keys[MAX_KEYS];
	size_t nkeys, calls;
} recorder;

static int record_all(sv filekey, sv key, void *ctx, xbuf *err)
{
	(void)key; (void)err;
	recorder *r = ctx;
	if (r->nkeys < MAX_KEYS) {
		xbuf_reset(&r->keys[r->nkeys]);
		xbuf_putsv(&r->keys[r->nkeys], filekey);
		r->nkeys++;
	}
	r->calls++;
	return SEARCH_FAIL;
}

static int exact(sv filekey, sv key, void *ctx, xbuf *err)
{
	(void)err;
	(*(size_t *)ctx)++;
	return sv_eq(filekey, key) ? SEARCH_OK : SEARCH_FAIL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\n';
}

static bool single_line_no_trailing_space(sv v)
{
	if (memchr(v.p, '\n', v.len))
		return false;
	return v.len == 0 || !is_space(v.p[v.len - 1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static recorder rec;
	g_data = data;
	g_size = size;
	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)data, size, "r");
	CHECK(f != NULL);
	xbuf result, err;
	xbuf_init(&result, NULL);
	xbuf_init(&err, NULL);
	for (size_t i = 0; i < MAX_KEYS; i++)
		xbuf_init(&rec.keys[i], NULL);
	rec.nkeys = rec.calls = 0;

	int rc = lsearch_scan(f, SV_LIT(""), record_all, &rec, false, &result, &err);
	CHECK(rc == SEARCH_FAIL);
	CHECK(result.len == 0);

	for (size_t k = 0; k < rec.nkeys; k++) {
		sv key = xbuf_sv(&rec.keys[k]);
		size_t first = k;
		while (first > 0 && sv_eq(xbuf_sv(&rec.keys[first - 1]), key))
			first--;
		for (size_t j = 0; j < k; j++)
			if (sv_eq(xbuf_sv(&rec.keys[j]), key)) {
				first = j;
				break;
			}
		for (int full = 0; full < 2; full++) {
			size_t calls = 0;
			xbuf_reset(&result);
			xbuf_reset(&err);
			rc = lsearch_scan(f, key, exact, &calls, full, &result, &err);
			CHECK(rc == SEARCH_OK);
			CHECK(calls == first + 1);
			if (full)
				CHECK(result.len >= key.len && memcmp(result.p, key.p, key.len) == 0);
			else
				CHECK(single_line_no_trailing_space(xbuf_sv(&result)));
		}
	}

	fclose(f);
	for (size_t i = 0; i < MAX_KEYS; i++)
		xbuf_free(&rec.keys[i]);
	xbuf_free(&result);
	xbuf_free(&err);
	return 0;
}
