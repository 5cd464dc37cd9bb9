/* Hints databases: small persistent key -> value stores under <spool_directory>/db/, one LMDB
 * file per named database ("ratelimit", "seen", and for delivery "retry", "wait-<transport>",
 * "callout", "tls"), named <name>.lmdb (with <name>.lmdb-lock) so that Exim's own hints files
 * (<name>, <name>.lockfile) in a shared spool are never touched: the formats differ. LMDB gives the locking: any number of readers, one writer at a time across
 * processes; every write is its own durable transaction. Values are opaque bytes; each user
 * defines its record layout (and should put a version byte first).
 *
 * A database is opened per use and closed soon after, as Exim does with its hints files, so
 * long-lived processes do not pin old map sizes (except the schedule index, which sessions,
 * queue runners and delivery workers keep open: core/queue.h). Environments are opened with
 * MDB_NOTLS: a read transaction holds an LMDB reader slot only while it runs. */
#ifndef POSTERN_CORE_HINTSDB_H
#define POSTERN_CORE_HINTSDB_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

typedef struct hintsdb hintsdb;

/* Open (creating <spool>/db/ and the database when not readonly) "<spool>/db/<name>.lmdb". name
 * must be a plain file name. NULL with err set on failure (a readonly open of a missing
 * database fails with ENOENT's text). */
hintsdb *hintsdb_open(const char *spool_directory, const char *name, bool readonly, xbuf *err);
void hintsdb_close(hintsdb *db);

/* 1: found (value appended to out), 0: not found, -1: error. */
int hintsdb_get(hintsdb *db, sv key, xbuf *out);
bool hintsdb_put(hintsdb *db, sv key, sv value);
/* True also when the key did not exist. */
bool hintsdb_delete(hintsdb *db, sv key);

/* Read-modify-write under the writer lock: fn sees the old value (found false: none) and either
 * fills out (stored) or sets *remove. Returning false leaves the record as it was. */
typedef bool (*hintsdb_update_fn)(void *ctx, sv old, bool found, xbuf *out, bool *remove);
bool hintsdb_update(hintsdb *db, sv key, hintsdb_update_fn fn, void *ctx);

/* Every record in key order; fn returns false to stop. */
typedef bool (*hintsdb_iter_fn)(void *ctx, sv key, sv value);
bool hintsdb_iterate(hintsdb *db, hintsdb_iter_fn fn, void *ctx);

/* Records with key >= start in key order (start empty: from the first); fn returns false to
 * stop. A reader sees one consistent snapshot. */
bool hintsdb_iterate_from(hintsdb *db, sv start, hintsdb_iter_fn fn, void *ctx);

/* Several puts and deletes in one transaction (all or nothing). */
typedef struct hintsdb_op {
	sv key;
	sv value;
	bool remove;                  /* delete key (missing is fine); value unused */
} hintsdb_op;
bool hintsdb_write_batch(hintsdb *db, const hintsdb_op *ops, size_t n);

/* As hintsdb_open, for databases that are pure hints rebuilt from other state after a crash
 * (the queue schedule index): nosync skips the per-transaction fsync (a system crash may lose
 * the last transactions). */
hintsdb *hintsdb_open_ex(const char *spool_directory, const char *name, bool readonly, bool nosync, xbuf *err);

/* The last error's text (for log lines). */
const char *hintsdb_error(const hintsdb *db);


/* Several reads and writes of any keys as one write transaction (added for the chained
 * wait-<transport> records, core/wait_records.c): fn reads and writes through the txn handle and
 * returns false to abandon every write it made. */
typedef struct hintsdb_txn hintsdb_txn;
typedef bool (*hintsdb_txn_fn)(void *ctx, hintsdb_txn *t);
bool hintsdb_transact(hintsdb *db, hintsdb_txn_fn fn, void *ctx);
/* Within fn: 1 found (value appended to out), 0 not found, -1 error; puts and deletes return false
 * on error (the transaction is then abandoned whatever fn returns). */
int hintsdb_txn_get(hintsdb_txn *t, sv key, xbuf *out);
bool hintsdb_txn_put(hintsdb_txn *t, sv key, sv value);
bool hintsdb_txn_delete(hintsdb_txn *t, sv key);

#endif
