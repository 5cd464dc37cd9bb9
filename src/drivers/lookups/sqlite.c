/* sqlite: "${lookup sqlite{/path/db.sqlite select ...}}" (or file= / sqlite_dbfile).
 * One column: values, one row per line. Several columns: "name=value " pairs per row, values
 * quoted when empty or containing white space; SQL NULL shows as <NULL>. As in Exim 4.96, a
 * failing statement makes the lookup fail (not defer), and empty results are not cached. */
#include <ctype.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/lookups/sql_servers.h"
#include "lib/debug.h"
#include "build_config.h"
#include "lib/dynlib.h"
#include "search/search.h"

/* libsqlite3, loaded at the first lookup or by the daemon (lib/dynlib.h). */
#define SQLITE_FUNCTIONS(X) \
	X(sqlite3_busy_timeout) X(sqlite3_close) X(sqlite3_column_count) X(sqlite3_column_name) \
	X(sqlite3_column_text) X(sqlite3_errmsg) X(sqlite3_errstr) X(sqlite3_finalize) \
	X(sqlite3_libversion) X(sqlite3_open_v2) X(sqlite3_prepare_v2) X(sqlite3_step)
DYNLIB_TABLE(sqlite_api, SQLITE_FUNCTIONS)
static sqlite_api sq;
DYNLIB_LOADER(sqlite_load, "sqlite", SQLITE_SONAME, sqlite_api, sq, SQLITE_FUNCTIONS)
#define sqlite3_busy_timeout sq.sqlite3_busy_timeout
#define sqlite3_close sq.sqlite3_close
#define sqlite3_column_count sq.sqlite3_column_count
#define sqlite3_column_name sq.sqlite3_column_name
#define sqlite3_column_text sq.sqlite3_column_text
#define sqlite3_errmsg sq.sqlite3_errmsg
#define sqlite3_errstr sq.sqlite3_errstr
#define sqlite3_finalize sq.sqlite3_finalize
#define sqlite3_libversion sq.sqlite3_libversion
#define sqlite3_open_v2 sq.sqlite3_open_v2
#define sqlite3_prepare_v2 sq.sqlite3_prepare_v2
#define sqlite3_step sq.sqlite3_step

static void *sqlite_open(const char *filename, xbuf *errmsg)
{
	if (!sqlite_load(errmsg))
		return NULL;
	sqlite3 *db = NULL;
	int r = sqlite3_open_v2(filename, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (r != SQLITE_OK) {
		xbuf_printf(errmsg, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(r));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, (int)search_main_time("sqlite_lock_timeout", 5) * 1000);
	return db;
}

static int sqlite_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	sqlite3 *db = handle;
	sv rest = key;
	int rc = SEARCH_FAIL;
	size_t rows = 0;
	while (rest.len) {
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;
		if (rest.len > (size_t)INT32_MAX)
			return SEARCH_DEFER;
		int r = sqlite3_prepare_v2(db, rest.p, (int)rest.len, &st, &tail);
		if (r != SQLITE_OK) {
			DEBUG(D_LOOKUP) debug_printf(" sqlite3_exec failed: %s\n", sqlite3_errmsg(db));
			xbuf_reset(result);
			*do_cache = 0;
			return SEARCH_FAIL;
		}
		rest = tail ? sv_sub(rest, (size_t)(tail - rest.p), rest.len) : sv_sub(rest, rest.len, 0);
		if (!st)
			continue; /* white space or a comment */
		int ncol = sqlite3_column_count(st);
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			if (rows++)
				xbuf_putc(result, '\n');
			for (int c = 0; c < ncol; c++) {
				const char *v = (const char *)sqlite3_column_text(st, c);
				if (ncol == 1)
					xbuf_puts(result, v ? v : "<NULL>");
				else
					lookup_put_field(result, sqlite3_column_name(st, c), v);
			}
		}
		if (r != SQLITE_DONE) {
			DEBUG(D_LOOKUP) debug_printf(" sqlite3_exec failed: %s\n", sqlite3_errmsg(db));
			sqlite3_finalize(st);
			xbuf_reset(result);
			*do_cache = 0;
			return SEARCH_FAIL;
		}
		sqlite3_finalize(st);
	}
	if (rows)
		rc = SEARCH_OK;
	else
		*do_cache = 0;
	return rc;
}

static void sqlite_close(void *handle)
{
	sqlite3_close(handle);
}

static bool sqlite_quote(sv in, sv opt, xbuf *out, xbuf *errmsg)
{
	if (opt.len) {
		xbuf_printf(errmsg, "\"" SV_FMT "\" unrecognized after \"${quote_sqlite\"", SV_ARG(opt));
		return false;
	}
	for (size_t i = 0; i < in.len; i++) {
		if (in.p[i] == '\'')
			xbuf_putc(out, '\'');
		xbuf_putc(out, in.p[i]);
	}
	return true;
}

static void sqlite_version(xbuf *out)
{
	xbuf_printf(out, "Library version: SQLite: Compile: %s\n                         Runtime: %s\n",
		SQLITE_VERSION, sqlite_load(out) ? sqlite3_libversion() : "not loadable");
}

static void sqlite_preload(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	if (!sqlite_load(&err)) /* reported again by the first lookup, with its context */
		DEBUG(D_LOOKUP) debug_printf("%s\n", xbuf_cstr(&err));
	xbuf_free(&err);
}

const lookup_info lookup_sqlite = {
	.name = "sqlite", .type = LOOKUP_QUERYSTYLE | LOOKUP_ABSFILEQUERY,
	.open = sqlite_open, .find = sqlite_find, .close = sqlite_close, .quote = sqlite_quote,
	.version_report = sqlite_version, .preload = sqlite_preload,
};
