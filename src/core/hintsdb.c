/* Hints databases on LMDB (see hintsdb.h). */
#include "core/hintsdb.h"
#include "core/priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build_config.h"

#define HINTSDB_MAP_SIZE ((size_t)256 << 20) /* address space reserved; the file grows as needed */

#if LOOKUP_LMDB
#include <lmdb.h>

struct hintsdb {
	MDB_env *env;
	MDB_dbi dbi;
	bool readonly;
	char error[256];
};

static void set_error(hintsdb *db, const char *what, int rc)
{
	snprintf(db->error, sizeof db->error, "%s: %s", what, mdb_strerror(rc));
}

hintsdb *hintsdb_open(const char *spool_directory, const char *name, bool readonly, xbuf *err)
{
	return hintsdb_open_ex(spool_directory, name, readonly, false, err);
}

hintsdb *hintsdb_open_ex(const char *spool_directory, const char *name, bool readonly, bool nosync, xbuf *err)
{
	if (!name || !*name || strchr(name, '/') || name[0] == '.') {
		xbuf_printf(err, "invalid hints database name \"%s\"", name ? name : "");
		return NULL;
	}
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/db", spool_directory);
	snprintf(path, sizeof path, "%s/%s.lmdb", dir, name);
	bool made_dir = false;
	if (!readonly && !(made_dir = mkdir(dir, 0750) == 0) && errno != EEXIST) {
		xbuf_printf(err, "failed to create directory %s: %s", dir, strerror(errno));
		return NULL;
	}
	struct stat st;
	bool existed = stat(path, &st) == 0;
	if (readonly && !existed) {
		xbuf_printf(err, "failed to open hints database %s: %s", path, strerror(errno));
		return NULL;
	}
	hintsdb *db = calloc(1, sizeof *db);
	if (!db)
		return NULL;
	db->readonly = readonly;
	int rc = mdb_env_create(&db->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(db->env, HINTSDB_MAP_SIZE);
	if (rc == 0)
		/* MDB_NOTLS: a read transaction gives its reader slot back when it ends. Without it a
		 * process holds a slot from its first read until it closes the environment, and one
		 * that exits or is killed with the environment open (a delivery worker keeping the
		 * schedule index) leaves the slot taken for good: 126 of those and every reader of the
		 * database fails. */
		rc = mdb_env_open(db->env, path, MDB_NOSUBDIR | MDB_NOTLS | (readonly ? MDB_RDONLY : 0)
			| (nosync ? MDB_NOSYNC : 0), 0640);
	MDB_txn *txn = NULL;
	if (rc == 0)
		rc = mdb_txn_begin(db->env, NULL, readonly ? MDB_RDONLY : 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &db->dbi);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	if (rc != 0) {
		xbuf_printf(err, "failed to open hints database %s: %s", path, mdb_strerror(rc));
		mdb_env_close(db->env);
		free(db);
		return NULL;
	}
	if (!existed) {
		/* Made by root (a delivery process): the files go to the exim user, as Exim's do, or
		 * the transport processes, running as that user, could not read them (they saw no
		 * retry data at all) and the exim user's own processes could not update them. */
		char lock[4300];
		snprintf(lock, sizeof lock, "%s-lock", path);
		if (made_dir)
			priv_give_to_exim(dir);
		priv_give_to_exim(path);
		priv_give_to_exim(lock);
	}
	return db;
}

void hintsdb_close(hintsdb *db)
{
	if (!db)
		return;
	mdb_env_close(db->env);
	free(db);
}

static MDB_val val_of(sv s)
{
	return (MDB_val){ s.len, (void *)s.p };
}

int hintsdb_get(hintsdb *db, sv key, xbuf *out)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		set_error(db, "begin", rc);
		return -1;
	}
	MDB_val k = val_of(key), v;
	rc = mdb_get(txn, db->dbi, &k, &v);
	int result = 0;
	if (rc == 0) {
		xbuf_put(out, v.mv_data, v.mv_size);
		result = 1;
	} else if (rc != MDB_NOTFOUND) {
		set_error(db, "get", rc);
		result = -1;
	}
	mdb_txn_abort(txn);
	return result;
}

bool hintsdb_update(hintsdb *db, sv key, hintsdb_update_fn fn, void *ctx)
{
	if (db->readonly) {
		snprintf(db->error, sizeof db->error, "database opened read-only");
		return false;
	}
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(db->env, 0);
		rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	}
	if (rc != 0) {
		set_error(db, "begin", rc);
		return false;
	}
	MDB_val k = val_of(key), v;
	rc = mdb_get(txn, db->dbi, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		set_error(db, "get", rc);
		mdb_txn_abort(txn);
		return false;
	}
	sv old = rc == 0 ? sv_make(v.mv_data, v.mv_size) : SV_NULL;
	xbuf nv;
	xbuf_init(&nv, NULL);
	bool remove = false;
	if (!fn(ctx, old, rc == 0, &nv, &remove)) {
		xbuf_free(&nv);
		mdb_txn_abort(txn);
		return true;
	}
	if (remove) {
		rc = mdb_del(txn, db->dbi, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	} else {
		MDB_val nval = { nv.len, nv.p ? nv.p : (void *)"" };
		rc = mdb_put(txn, db->dbi, &k, &nval, 0);
	}
	xbuf_free(&nv);
	if (rc != 0) {
		set_error(db, remove ? "delete" : "put", rc);
		mdb_txn_abort(txn);
		return false;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		set_error(db, "commit", rc);
		return false;
	}
	return true;
}

static bool put_fn(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	(void)old;
	(void)found;
	(void)remove;
	xbuf_putsv(out, *(sv *)ctx);
	return true;
}

bool hintsdb_put(hintsdb *db, sv key, sv value)
{
	return hintsdb_update(db, key, put_fn, &value);
}

static bool del_fn(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	(void)ctx;
	(void)old;
	(void)out;
	*remove = true;
	return found;
}

bool hintsdb_delete(hintsdb *db, sv key)
{
	return hintsdb_update(db, key, del_fn, NULL);
}

bool hintsdb_iterate(hintsdb *db, hintsdb_iter_fn fn, void *ctx)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		set_error(db, "begin", rc);
		return false;
	}
	MDB_cursor *cur;
	rc = mdb_cursor_open(txn, db->dbi, &cur);
	if (rc != 0) {
		set_error(db, "cursor", rc);
		mdb_txn_abort(txn);
		return false;
	}
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (!fn(ctx, sv_make(k.mv_data, k.mv_size), sv_make(v.mv_data, v.mv_size)))
			break;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return true;
}

bool hintsdb_iterate_from(hintsdb *db, sv start, hintsdb_iter_fn fn, void *ctx)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		set_error(db, "begin", rc);
		return false;
	}
	MDB_cursor *cur;
	rc = mdb_cursor_open(txn, db->dbi, &cur);
	if (rc != 0) {
		set_error(db, "cursor", rc);
		mdb_txn_abort(txn);
		return false;
	}
	MDB_val k = val_of(start), v;
	rc = start.len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (!fn(ctx, sv_make(k.mv_data, k.mv_size), sv_make(v.mv_data, v.mv_size)))
			break;
	bool ok = rc == 0 || rc == MDB_NOTFOUND;
	if (!ok)
		set_error(db, "cursor get", rc);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return ok;
}

bool hintsdb_write_batch(hintsdb *db, const hintsdb_op *ops, size_t n)
{
	if (db->readonly) {
		snprintf(db->error, sizeof db->error, "database opened read-only");
		return false;
	}
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(db->env, 0);
		rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	}
	if (rc != 0) {
		set_error(db, "begin", rc);
		return false;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		MDB_val k = val_of(ops[i].key);
		if (ops[i].remove) {
			rc = mdb_del(txn, db->dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			MDB_val v = { ops[i].value.len, ops[i].value.p ? (void *)ops[i].value.p : (void *)"" };
			rc = mdb_put(txn, db->dbi, &k, &v, 0);
		}
	}
	if (rc != 0) {
		set_error(db, "batch write", rc);
		mdb_txn_abort(txn);
		return false;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		set_error(db, "commit", rc);
		return false;
	}
	return true;
}

const char *hintsdb_error(const hintsdb *db)
{
	return db->error;
}

struct hintsdb_txn {
	hintsdb *db;
	MDB_txn *txn;
	bool failed;
};

int hintsdb_txn_get(hintsdb_txn *t, sv key, xbuf *out)
{
	MDB_val k = val_of(key), v;
	int rc = mdb_get(t->txn, t->db->dbi, &k, &v);
	if (rc == 0) {
		xbuf_put(out, v.mv_data, v.mv_size);
		return 1;
	}
	if (rc == MDB_NOTFOUND)
		return 0;
	set_error(t->db, "get", rc);
	return -1;
}

bool hintsdb_txn_put(hintsdb_txn *t, sv key, sv value)
{
	MDB_val k = val_of(key), v = { value.len, value.p ? (void *)value.p : (void *)"" };
	int rc = mdb_put(t->txn, t->db->dbi, &k, &v, 0);
	if (rc != 0) {
		set_error(t->db, "put", rc);
		t->failed = true;
	}
	return rc == 0;
}

bool hintsdb_txn_delete(hintsdb_txn *t, sv key)
{
	MDB_val k = val_of(key);
	int rc = mdb_del(t->txn, t->db->dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		set_error(t->db, "delete", rc);
		t->failed = true;
		return false;
	}
	return true;
}

bool hintsdb_transact(hintsdb *db, hintsdb_txn_fn fn, void *ctx)
{
	if (db->readonly) {
		snprintf(db->error, sizeof db->error, "database opened read-only");
		return false;
	}
	hintsdb_txn t = { .db = db };
	int rc = mdb_txn_begin(db->env, NULL, 0, &t.txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(db->env, 0);
		rc = mdb_txn_begin(db->env, NULL, 0, &t.txn);
	}
	if (rc != 0) {
		set_error(db, "begin", rc);
		return false;
	}
	if (!fn(ctx, &t) || t.failed) {
		mdb_txn_abort(t.txn);
		return !t.failed;
	}
	rc = mdb_txn_commit(t.txn);
	if (rc != 0) {
		set_error(db, "commit", rc);
		return false;
	}
	return true;
}

#else /* no LMDB in this build */

hintsdb *hintsdb_open(const char *spool_directory, const char *name, bool readonly, xbuf *err)
{
	(void)spool_directory;
	(void)readonly;
	xbuf_printf(err, "hints database \"%s\": this build has no LMDB support", name ? name : "");
	return NULL;
}
void hintsdb_close(hintsdb *db) { (void)db; }
int hintsdb_get(hintsdb *db, sv key, xbuf *out) { (void)db; (void)key; (void)out; return -1; }
bool hintsdb_put(hintsdb *db, sv key, sv value) { (void)db; (void)key; (void)value; return false; }
bool hintsdb_delete(hintsdb *db, sv key) { (void)db; (void)key; return false; }
bool hintsdb_update(hintsdb *db, sv key, hintsdb_update_fn fn, void *ctx)
{
	(void)db; (void)key; (void)fn; (void)ctx;
	return false;
}
bool hintsdb_iterate(hintsdb *db, hintsdb_iter_fn fn, void *ctx) { (void)db; (void)fn; (void)ctx; return false; }
bool hintsdb_iterate_from(hintsdb *db, sv start, hintsdb_iter_fn fn, void *ctx)
{
	(void)db; (void)start; (void)fn; (void)ctx;
	return false;
}
bool hintsdb_write_batch(hintsdb *db, const hintsdb_op *ops, size_t n) { (void)db; (void)ops; (void)n; return false; }
hintsdb *hintsdb_open_ex(const char *spool_directory, const char *name, bool readonly, bool nosync, xbuf *err)
{
	(void)nosync;
	return hintsdb_open(spool_directory, name, readonly, err);
}
const char *hintsdb_error(const hintsdb *db) { (void)db; return "no LMDB support"; }

bool hintsdb_transact(hintsdb *db, hintsdb_txn_fn fn, void *ctx) { (void)db; (void)fn; (void)ctx; return false; }
int hintsdb_txn_get(hintsdb_txn *t, sv key, xbuf *out) { (void)t; (void)key; (void)out; return -1; }
bool hintsdb_txn_put(hintsdb_txn *t, sv key, sv value) { (void)t; (void)key; (void)value; return false; }
bool hintsdb_txn_delete(hintsdb_txn *t, sv key) { (void)t; (void)key; return false; }

#endif
