/* lmdb: read-only lookups in an LMDB file (no subdirectory), default unnamed database;
 * key bytes without a NUL, value returned as stored (facts §8). */
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "search/search.h"

static void *lmdb_open(const char *filename, xbuf *errmsg)
{
	MDB_env *env = NULL;
	int r = mdb_env_create(&env);
	if (r == 0)
		r = mdb_env_open(env, filename, MDB_NOSUBDIR | MDB_RDONLY, 0660);
	if (r != 0) {
		xbuf_printf(errmsg, "LMDB: Unable to open environment with %s: %s", filename, mdb_strerror(r));
		if (env)
			mdb_env_close(env);
		return NULL;
	}
	return env;
}

static int lmdb_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	MDB_env *env = handle;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int r = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (r == 0)
		r = mdb_dbi_open(txn, NULL, 0, &dbi);
	if (r != 0) {
		xbuf_printf(errmsg, "LMDB: %s", mdb_strerror(r));
		if (txn)
			mdb_txn_abort(txn);
		return SEARCH_DEFER;
	}
	MDB_val k = { key.len, (void *)(key.p ? key.p : "") }, v;
	r = mdb_get(txn, dbi, &k, &v);
	int rc;
	if (r == MDB_NOTFOUND) {
		xbuf_puts(errmsg, "LMDB: lookup, no data found");
		rc = SEARCH_FAIL;
	} else if (r != 0) {
		xbuf_printf(errmsg, "LMDB: lookup error: %s", mdb_strerror(r));
		rc = SEARCH_DEFER;
	} else {
		xbuf_put(result, v.mv_data, v.mv_size);
		rc = SEARCH_OK;
	}
	mdb_txn_abort(txn);
	return rc;
}

static void lmdb_close(void *handle)
{
	mdb_env_close(handle);
}

static void lmdb_version(xbuf *out)
{
	xbuf_printf(out, "Library version: LMDB: Compile: %s\n", MDB_VERSION_STRING);
}

const lookup_info lookup_lmdb = {
	.name = "lmdb", .type = LOOKUP_SINGLEKEY | LOOKUP_ABSFILE,
	.open = lmdb_open, .find = lmdb_find, .close = lmdb_close, .version_report = lmdb_version,
};
