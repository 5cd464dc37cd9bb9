/* dbm, dbmnz, dbmjz: Berkeley DB files (any access method; exim_dbmbuild writes DB_HASH).
 * dbm keys carry a terminating NUL, dbmnz keys do not, and dbmjz keys are an Exim list whose items
 * are joined with NULs (Cyrus sasldb style). A single trailing NUL on the data is dropped, as
 * exim_dbmbuild stores one. */
#include <db.h>
#include <errno.h>
#include <string.h>

#include "lib/debug.h"
#include "build_config.h"
#include "lib/dynlib.h"
#include "lib/list.h"
#include "lib/log.h"
#include "search/search.h"

/* Berkeley DB's own diagnostics go to the log, as Exim routes them ("Berkeley DB error: ..."). */
static void bdb_errcall(const DB_ENV *env, const char *prefix, const char *msg)
{
	(void)env;
	(void)prefix;
	log_write(LOG_MAIN, "Berkeley DB error: %s", msg);
}

/* Berkeley DB, loaded at the first lookup or by the daemon (lib/dynlib.h); the rest of its
 * interface is reached through the DB handle's own function pointers. */
#define BDB_FUNCTIONS(X) X(db_create) X(db_strerror)
DYNLIB_TABLE(bdb_api, BDB_FUNCTIONS)
static bdb_api bdb;
DYNLIB_LOADER(bdb_load, "DBM", BDB_SONAME, bdb_api, bdb, BDB_FUNCTIONS)
#define db_create bdb.db_create
#define db_strerror bdb.db_strerror

static void dbm_preload(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	if (!bdb_load(&err)) /* reported again by the first lookup, with its context */
		DEBUG(D_LOOKUP) debug_printf("%s\n", xbuf_cstr(&err));
	xbuf_free(&err);
}

static void *dbm_open(const char *filename, xbuf *errmsg)
{
	if (!bdb_load(errmsg))
		return NULL;
	DB *db = NULL;
	int r = db_create(&db, NULL, 0);
	if (r == 0)
		db->set_errcall(db, bdb_errcall);
	if (r == 0)
		r = db->open(db, NULL, filename, NULL, DB_UNKNOWN, DB_RDONLY, 0);
	if (r != 0) {
		xbuf_printf(errmsg, "failed to open %s as a db (v4.1+) file: %s", filename,
			r > 0 ? strerror(r) : db_strerror(r));
		if (db)
			db->close(db, 0);
		return NULL;
	}
	return db;
}

static int dbm_get(DB *db, const void *k, size_t klen, xbuf *result, xbuf *errmsg)
{
	DBT key, data;
	memset(&key, 0, sizeof key);
	memset(&data, 0, sizeof data);
	key.data = (void *)k;
	key.size = (u_int32_t)klen;
	int r = db->get(db, NULL, &key, &data, 0);
	if (r == DB_NOTFOUND)
		return SEARCH_FAIL;
	if (r != 0) {
		xbuf_printf(errmsg, "DBM lookup failed: %s", r > 0 ? strerror(r) : db_strerror(r));
		return SEARCH_DEFER;
	}
	size_t n = data.size;
	if (n && ((const char *)data.data)[n - 1] == 0)
		n--;
	xbuf_put(result, data.data, n);
	return SEARCH_OK;
}

static int dbm_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	xbuf k;
	xbuf_init(&k, NULL);
	xbuf_putsv(&k, key);
	int rc = dbm_get(handle, k.p, k.len + 1, result, errmsg); /* includes the NUL */
	xbuf_free(&k);
	return rc;
}

static int dbmnz_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	return dbm_get(handle, key.p ? key.p : "", key.len, result, errmsg);
}

static int dbmjz_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	xbuf k, item;
	xbuf_init(&k, NULL);
	xbuf_init(&item, NULL);
	list_iter it;
	list_iter_init(&it, key, 0);
	bool first = true;
	while (list_next(&it, &item)) {
		if (!first)
			xbuf_putc(&k, 0);
		xbuf_putsv(&k, xbuf_sv(&item));
		first = false;
	}
	int rc = k.len ? dbm_get(handle, k.p, k.len, result, errmsg) : SEARCH_FAIL;
	xbuf_free(&k);
	xbuf_free(&item);
	return rc;
}

static void dbm_close(void *handle)
{
	DB *db = handle;
	db->close(db, 0);
}

const lookup_info lookup_dbm = {
	.name = "dbm", .type = LOOKUP_SINGLEKEY,
	.open = dbm_open, .find = dbm_find, .close = dbm_close, .preload = dbm_preload,
};
const lookup_info lookup_dbmnz = {
	.name = "dbmnz", .type = LOOKUP_SINGLEKEY,
	.open = dbm_open, .find = dbmnz_find, .close = dbm_close,
};
const lookup_info lookup_dbmjz = {
	.name = "dbmjz", .type = LOOKUP_SINGLEKEY,
	.open = dbm_open, .find = dbmjz_find, .close = dbm_close,
};
