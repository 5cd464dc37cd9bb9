/* json: the key is an Exim list of selectors walked down a JSON document: a number indexes an
 * array (from 0), anything else names an object member. The file is parsed on each (uncached) lookup, so edits are seen. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/debug.h"
#include "build_config.h"
#include "lib/dynlib.h"
#include "lib/list.h"
#include "search/search.h"

/* libjansson, loaded at the first lookup or by the daemon (lib/dynlib.h). json_decref is an
 * inline function of the header that calls json_delete: the one reference taken here (the
 * loaded document) is dropped with json_delete directly. */
#define JSON_FUNCTIONS(X) \
	X(json_array_get) X(json_delete) X(json_dumps) X(json_integer_value) X(json_loadf) \
	X(json_object_getn) X(json_real_value) X(json_string_length) X(json_string_value)
DYNLIB_TABLE(json_api, JSON_FUNCTIONS)
static json_api js;
DYNLIB_LOADER(json_load, "json", JSON_SONAME, json_api, js, JSON_FUNCTIONS)
#define json_array_get js.json_array_get
#define json_delete js.json_delete
#define json_dumps js.json_dumps
#define json_integer_value js.json_integer_value
#define json_loadf js.json_loadf
#define json_object_getn js.json_object_getn
#define json_real_value js.json_real_value
#define json_string_length js.json_string_length
#define json_string_value js.json_string_value

static void json_preload(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	if (!json_load(&err)) /* reported again by the first lookup, with its context */
		DEBUG(D_LOOKUP) debug_printf("%s\n", xbuf_cstr(&err));
	xbuf_free(&err);
}

static void *json_open(const char *filename, xbuf *errmsg)
{
	if (!json_load(errmsg))
		return NULL;
	FILE *f = fopen(filename, "r");
	if (!f) {
		xbuf_printf(errmsg, "failed to open %s for json search: %s", filename, strerror(errno));
		return NULL;
	}
	return f;
}

static bool all_digits(sv s)
{
	if (s.len == 0 || s.len > 18)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!isdigit((unsigned char)s.p[i]))
			return false;
	return true;
}

static int json_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	FILE *f = handle;
	rewind(f);
	json_error_t jerr;
	json_t *root = json_loadf(f, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!root) {
		xbuf_printf(errmsg, "json error on open: %.*s", (int)sizeof jerr.text, jerr.text);
		return SEARCH_DEFER;
	}
	json_t *j = root;
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, key, 0);
	while (j && list_next(&it, &item)) {
		sv sel = xbuf_sv(&item);
		if (all_digits(sel)) {
			long long n = 0;
			sv_to_long(sel, &n);
			j = json_is_array(j) ? json_array_get(j, (size_t)n) : NULL;
		} else {
			j = json_is_object(j) ? json_object_getn(j, sel.p, sel.len) : NULL;
		}
	}
	xbuf_free(&item);
	int rc = SEARCH_FAIL;
	/* Strings de-quoted, integers in decimal, reals with six decimals, booleans as words;
	 * a JSON null is "not found"; objects and arrays as JSON text. */
	if (j) {
		rc = SEARCH_OK;
		switch (json_typeof(j)) {
		case JSON_STRING:
			xbuf_put(result, json_string_value(j), json_string_length(j));
			break;
		case JSON_INTEGER:
			xbuf_printf(result, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
			break;
		case JSON_REAL:
			xbuf_printf(result, "%f", json_real_value(j));
			break;
		case JSON_TRUE:
			xbuf_puts(result, "true");
			break;
		case JSON_FALSE:
			xbuf_puts(result, "false");
			break;
		case JSON_NULL:
			rc = SEARCH_FAIL;
			break;
		default: {
			char *s = json_dumps(j, 0);
			if (s)
				xbuf_puts(result, s);
			free(s);
			break;
		}
		}
	}
	json_delete(root); /* the only reference (see above) */
	return rc;
}

static void json_close(void *handle)
{
	fclose(handle);
}

const lookup_info lookup_json = {
	.name = "json", .type = LOOKUP_SINGLEKEY,
	.open = json_open, .find = json_find, .close = json_close, .preload = json_preload,
};
