/* lsearch (literal keys, caseless), wildlsearch (keys expanded, then matched as list patterns:
 * *suffix, ^regex, lookup;file, literal) and nwildlsearch (the same without expansion). */
#include "drivers/lookups/lsearch_file.h"
#include "search/match.h"

static int match_literal(sv filekey, sv key, void *ctx, xbuf *err)
{
	(void)ctx;
	(void)err;
	return sv_eqi(filekey, key) ? SEARCH_OK : SEARCH_FAIL;
}

static int match_wild(sv filekey, sv key, void *ctx, xbuf *err)
{
	bool expand = *(bool *)ctx;
	xbuf pat;
	xbuf_init(&pat, NULL);
	int rc = SEARCH_FAIL;
	if (expand && search_expand_hook) {
		xbuf e;
		xbuf_init(&e, NULL);
		int x = search_expand_hook(filekey, &pat, &e);
		if (x == 2) {
			/* Exim logs the reason and defers with an empty message. */
			xbuf m;
			xbuf_init(&m, NULL);
			xbuf_printf(&m, "failed to expand \"" SV_FMT "\" while checking a list: %s",
				SV_ARG(filekey), xbuf_cstr(&e));
			search_log_warning(xbuf_cstr(&m));
			xbuf_free(&m);
			rc = SEARCH_DEFER;
		}
		xbuf_free(&e);
		if (x != 0) {
			xbuf_free(&pat);
			return rc;
		}
	} else {
		xbuf_putsv(&pat, filekey);
	}
	xbuf merr;
	xbuf_init(&merr, NULL);
	if (match_string_item(key, xbuf_sv(&pat), true, &merr))
		rc = SEARCH_OK;
	else if (merr.len) {
		xbuf_putsv(err, xbuf_sv(&merr));
		rc = SEARCH_DEFER;
	}
	xbuf_free(&merr);
	xbuf_free(&pat);
	return rc;
}

static int lsearch_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	return lsearch_scan(handle, key, match_literal, NULL, lsearch_opt_ret_full(opts), result, errmsg);
}

static int wildlsearch_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	bool expand = true;
	return lsearch_scan(handle, key, match_wild, &expand, lsearch_opt_ret_full(opts), result, errmsg);
}

static int nwildlsearch_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	bool expand = false;
	return lsearch_scan(handle, key, match_wild, &expand, lsearch_opt_ret_full(opts), result, errmsg);
}

const lookup_info lookup_lsearch = {
	.name = "lsearch", .type = LOOKUP_SINGLEKEY,
	.open = lsearch_open, .check = lsearch_check, .find = lsearch_find, .close = lsearch_close,
};
const lookup_info lookup_wildlsearch = {
	.name = "wildlsearch", .type = LOOKUP_SINGLEKEY,
	.open = lsearch_open, .check = lsearch_check, .find = wildlsearch_find, .close = lsearch_close,
};
const lookup_info lookup_nwildlsearch = {
	.name = "nwildlsearch", .type = LOOKUP_SINGLEKEY,
	.open = lsearch_open, .check = lsearch_check, .find = nwildlsearch_find, .close = lsearch_close,
};
