/* The queue schedule index (docs/queue.md): an LMDB hints database next to the spool that maps
 * each queued message to the time it is next due, so that a queue run reads only what is due.
 *
 * Records (keys are bytes; times are 8-byte big-endian seconds so that key order is time order):
 *   "m"                       meta: "1 <last reconciliation time>"
 *   "i" <id>                  <due:8> <flags:1>   (flag 1: frozen)
 *   "t" <due:8> <id>          <flags:1>           the time-ordered view a run walks
 *
 * The database is written without fsync (it is a hint: the spool is the truth), which is safe
 * against process crashes but not against a system crash, where LMDB's pages may reach the disk
 * out of order. So the file name carries the kernel's boot id: after a reboot the old file is
 * never opened again, and the new one is rebuilt from the spool on first use (every message
 * due at once, as Exim treats its queue).
 */
#include "core/queue.h"
#include "core/queue_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/priv.h"
#include "core/spool_integrity.h"
#include "lib/log.h"

#define KEY_ID_LEN (1 + MSG_ID_LEN)
#define KEY_T_LEN (1 + 8 + MSG_ID_LEN)

void queue_list_add(queue_list *l, const char *id)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		void *nv = realloc(l->v, nc * sizeof *l->v);
		if (!nv)
			abort();
		l->v = nv;
		l->cap = nc;
	}
	memcpy(l->v[l->n], id, MSG_ID_LEN);
	l->v[l->n][MSG_ID_LEN] = 0;
	l->n++;
}

void queue_list_free(queue_list *l)
{
	free(l->v);
	*l = (queue_list){ 0 };
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The first 8 hex digits of the kernel's boot id ("0" when unknown). From spool_boot_id(), which
 * the daemon reads once before it forks: its sessions open the index without reading the file. */
static const char *boot_tag(void)
{
	static char tag[16];
	if (tag[0])
		return tag;
	const char *id = spool_boot_id();
	snprintf(tag, sizeof tag, "%.8s", id ? id : "0");
	return tag;
}

const char *queue_index_name(const spool_config *sc, char *buf, size_t len)
{
	const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
	if (q)
		snprintf(buf, len, "schedule-%s.%s", boot_tag(), q);
	else
		snprintf(buf, len, "schedule-%s", boot_tag());
	return buf;
}

static hintsdb *open_index(const spool_config *sc, bool readonly)
{
	char name[300];
	xbuf err;
	xbuf_init(&err, NULL);
	hintsdb *db = hintsdb_open_ex(sc->directory, queue_index_name(sc, name, sizeof name), readonly, true, &err);
	struct stat st;
	char lock[4500];
	snprintf(lock, sizeof lock, "%s/db/%s.lmdb-lock", sc->directory, name);
	if (db && !readonly && priv_is_root() && stat(lock, &st) == 0 && st.st_uid != priv_exim_uid()) {
		/* root may create it; the exim user's processes (SMTP sessions) write it too */
		char path[4500];
		snprintf(path, sizeof path, "%s/db", sc->directory);
		priv_give_to_exim(path);
		snprintf(path, sizeof path, "%s/db/%s.lmdb", sc->directory, name);
		priv_give_to_exim(path);
		snprintf(path, sizeof path, "%s/db/%s.lmdb-lock", sc->directory, name);
		priv_give_to_exim(path);
	}
	if (!db && !readonly)
		log_write(LOG_MAIN | LOG_PANIC, "queue schedule index: %s", xbuf_cstr(&err));
	xbuf_free(&err);
	return db;
}

/* Wake time of a frozen message noted now: auto_thaw or timeout_frozen_after, whichever is
 * first (both act on a frozen message when a queue run meets it). */
static uint64_t frozen_wake(time_t now)
{
	int w = 0;
	if (conf_main.auto_thaw > 0)
		w = conf_main.auto_thaw;
	if (conf_main.timeout_frozen_after > 0 && (w == 0 || conf_main.timeout_frozen_after < w))
		w = conf_main.timeout_frozen_after;
	return w ? (uint64_t)now + (uint64_t)w : QUEUE_DUE_NEVER;
}

int queue_index_lookup(hintsdb *db, const char *id, uint64_t *due, bool *frozen)
{
	unsigned char key[KEY_ID_LEN];
	key[0] = 'i';
	memcpy(key + 1, id, MSG_ID_LEN);
	xbuf v;
	xbuf_init(&v, NULL);
	int rc = hintsdb_get(db, sv_make((const char *)key, sizeof key), &v);
	if (rc == 1 && v.len >= 9) {
		*due = get_be64((const unsigned char *)v.p);
		*frozen = (v.p[8] & 1) != 0;
	} else if (rc == 1) {
		rc = 0; /* a malformed record counts as none; the next note replaces it */
	}
	xbuf_free(&v);
	return rc;
}

/* Batch of operations that writes id's records for due/flags and removes the old "t" key. */
typedef struct note_ops {
	unsigned char ikey[KEY_ID_LEN], tkey_old[KEY_T_LEN], tkey_new[KEY_T_LEN], ival[9];
	unsigned char tval[1 + QUEUE_SKIP_LOG_MAX];
	hintsdb_op ops[3];
	size_t n;
} note_ops;

static void build_note(note_ops *b, const char *id, bool had_old, uint64_t old_due, uint64_t due, bool frozen,
	sv skip_log)
{
	b->n = 0;
	b->ikey[0] = 'i';
	memcpy(b->ikey + 1, id, MSG_ID_LEN);
	if (had_old && old_due != due) {
		b->tkey_old[0] = 't';
		put_be64(b->tkey_old + 1, old_due);
		memcpy(b->tkey_old + 9, id, MSG_ID_LEN);
		b->ops[b->n++] = (hintsdb_op){ .key = sv_make((const char *)b->tkey_old, KEY_T_LEN), .remove = true };
	}
	b->tkey_new[0] = 't';
	put_be64(b->tkey_new + 1, due);
	memcpy(b->tkey_new + 9, id, MSG_ID_LEN);
	b->tval[0] = frozen ? 1 : 0;
	size_t tl = skip_log.len < QUEUE_SKIP_LOG_MAX ? skip_log.len : 0; /* too long: none */
	if (tl)
		memcpy(b->tval + 1, skip_log.p, tl);
	b->ops[b->n++] = (hintsdb_op){ .key = sv_make((const char *)b->tkey_new, KEY_T_LEN), .value = sv_make((const char *)b->tval, 1 + tl) };
	put_be64(b->ival, due);
	b->ival[8] = frozen ? 1 : 0;
	b->ops[b->n++] = (hintsdb_op){ .key = sv_make((const char *)b->ikey, KEY_ID_LEN), .value = sv_make((const char *)b->ival, 9) };
}

/* The index kept open for the life of a process that receives many messages (an SMTP session:
 * opening, mapping and closing the LMDB environment per message cost about 1 ms). LMDB allows
 * one environment per file and process, and none inherited over fork(): the handle belongs to
 * the process that opened it, and a forked child opens its own (the parent's is left alone:
 * closing it in the child would release locks that are the parent's). */
static struct {
	bool enabled;
	pid_t owner;       /* the process that asked: its forked children (helpers) do not keep */
	pid_t pid;
	char path[4400];
	hintsdb *db;
} kept;

void queue_schedule_keep_open(void)
{
	kept.enabled = true;
	kept.owner = getpid();
}

/* Keeping applies to the process that asked for it only. */
static bool keeping(void)
{
	return kept.enabled && kept.owner == getpid();
}

/* The kept environment for sc (opened on first use), or NULL when keeping is off or the open
 * failed (logged by open_index). */
static hintsdb *kept_index(const spool_config *sc)
{
	if (!keeping())
		return NULL;
	char name[300], path[4400];
	snprintf(path, sizeof path, "%s/db/%s", sc->directory, queue_index_name(sc, name, sizeof name));
	if (kept.db && kept.pid == getpid() && strcmp(kept.path, path) == 0)
		return kept.db;
	if (kept.db && kept.pid == getpid())
		hintsdb_close(kept.db); /* another spool (not seen in practice): one open at a time */
	kept.db = open_index(sc, false);
	kept.pid = getpid();
	snprintf(kept.path, sizeof kept.path, "%s", path);
	return kept.db;
}

void queue_schedule_prepare(const spool_config *sc)
{
	queue_schedule_keep_open();
	(void)kept_index(sc);
}

void queue_schedule_note_received(const spool_config *sc, const char *id)
{
	if (!id || !spool_valid_id(sv_cstr(id)))
		return;
	hintsdb *db = kept_index(sc);
	if (!db) {
		if (!keeping())
			queue_schedule_note(sc, id, 0, false);
		return;
	}
	/* A new id has no records to replace, so no read (a read would hold one of LMDB's reader
	 * slots for the life of the process); a reconciliation that listed it first wrote the
	 * same two keys. */
	note_ops b;
	build_note(&b, id, false, 0, 0, false, SV_NULL);
	if (!hintsdb_write_batch(db, b.ops, b.n))
		log_write(LOG_MAIN | LOG_PANIC, "%s: queue schedule index: %s", id, hintsdb_error(db));
}

void queue_schedule_note(const spool_config *sc, const char *id, time_t due, bool frozen)
{
	queue_schedule_note_skip(sc, id, due, frozen, NULL);
}

void queue_schedule_note_skip(const spool_config *sc, const char *id, time_t due, bool frozen, const char *skip_log)
{
	if (!id || !spool_valid_id(sv_cstr(id)))
		return;
	sv skip = skip_log && strlen(skip_log) <= QUEUE_SKIP_LOG_MAX ? sv_cstr(skip_log) : SV_NULL;
	hintsdb *kdb = kept_index(sc);
	if (kdb || keeping()) {
		if (kdb)
			queue_index_note(kdb, id, due, frozen, skip);
		return;
	}
	hintsdb *db = open_index(sc, false);
	if (!db)
		return;
	queue_index_note(db, id, due, frozen, skip);
	hintsdb_close(db);
}

void queue_index_note(hintsdb *db, const char *id, time_t due, bool frozen, sv skip_log)
{
	time_t now = time(NULL);
	uint64_t d = due > 0 ? (uint64_t)due : 0;
	if (frozen && due <= 0)
		d = frozen_wake(now);
	uint64_t old = 0;
	bool old_frozen = false;
	int found = queue_index_lookup(db, id, &old, &old_frozen);
	/* A frozen message is skipped by every plain run with Exim's skip_delivery line. */
	if (frozen && !skip_log.len)
		skip_log = SV_LIT("Message is frozen\n");
	note_ops b;
	build_note(&b, id, found == 1, old, d, frozen, skip_log);
	if (!hintsdb_write_batch(db, b.ops, b.n))
		log_write(LOG_MAIN | LOG_PANIC, "%s: queue schedule index: %s", id, hintsdb_error(db));
}

/* Remove id's records, knowing its "t" key's due time. */
static void forget_entry(hintsdb *db, const char *id, uint64_t old)
{
	unsigned char ikey[KEY_ID_LEN], tkey[KEY_T_LEN];
	ikey[0] = 'i';
	memcpy(ikey + 1, id, MSG_ID_LEN);
	tkey[0] = 't';
	put_be64(tkey + 1, old);
	memcpy(tkey + 9, id, MSG_ID_LEN);
	hintsdb_op ops[2] = {
		{ .key = sv_make((const char *)tkey, KEY_T_LEN), .remove = true },
		{ .key = sv_make((const char *)ikey, KEY_ID_LEN), .remove = true },
	};
	if (!hintsdb_write_batch(db, ops, 2))
		log_write(LOG_MAIN | LOG_PANIC, "%s: queue schedule index: %s", id, hintsdb_error(db));
}

void queue_index_forget(hintsdb *db, const char *id)
{
	uint64_t old = 0;
	bool frozen = false;
	if (queue_index_lookup(db, id, &old, &frozen) == 1)
		forget_entry(db, id, old);
}

void queue_schedule_forget(const spool_config *sc, const char *id)
{
	if (!id || !spool_valid_id(sv_cstr(id)))
		return;
	hintsdb *kdb = kept_index(sc);
	if (kdb) { /* never a second environment beside the kept one (LMDB: one per process) */
		queue_index_forget(kdb, id);
		return;
	}
	if (keeping())
		return;
	/* Nothing to forget when there is no index yet (and no index to create for it). */
	char name[300], path[4500];
	struct stat st;
	snprintf(path, sizeof path, "%s/db/%s.lmdb", sc->directory, queue_index_name(sc, name, sizeof name));
	if (stat(path, &st) != 0)
		return;
	/* One read-write environment for the look-up and the removal: the message was noted at
	 * reception, so the entry is almost always there, and a read-only environment opened
	 * first to find it was a second open per delivery. */
	hintsdb *db = open_index(sc, false);
	if (!db)
		return;
	queue_index_forget(db, id);
	hintsdb_close(db);
}

/* ---- due walk ---- */

typedef struct due_walk {
	uint64_t now;
	queue_list *out;
} due_walk;

static bool due_fn(void *ctx, sv key, sv value)
{
	due_walk *w = ctx;
	(void)value;
	if (key.len != KEY_T_LEN || key.p[0] != 't')
		return false; /* past the "t" range */
	if (get_be64((const unsigned char *)key.p + 1) > w->now)
		return false;
	char id[MSG_ID_LEN + 1];
	memcpy(id, key.p + 9, MSG_ID_LEN);
	id[MSG_ID_LEN] = 0;
	queue_list_add(w->out, id);
	return true;
}

bool queue_index_due(hintsdb *db, time_t now, queue_list *out)
{
	due_walk w = { .now = now > 0 ? (uint64_t)now : 0, .out = out };
	return hintsdb_iterate_from(db, sv_make("t", 1), due_fn, &w);
}

typedef struct skip_walk {
	queue_skip_fn fn;
	void *ctx;
} skip_walk;

static bool skip_fn(void *ctx, sv key, sv value)
{
	skip_walk *w = ctx;
	if (key.len != KEY_T_LEN || key.p[0] != 't')
		return false;
	if (value.len > 1) {
		char id[MSG_ID_LEN + 1];
		memcpy(id, key.p + 9, MSG_ID_LEN);
		id[MSG_ID_LEN] = 0;
		w->fn(w->ctx, id, sv_sub(value, 1, value.len));
	}
	return true;
}

bool queue_index_not_due(hintsdb *db, time_t now, queue_skip_fn fn, void *ctx)
{
	unsigned char start[9];
	start[0] = 't';
	put_be64(start + 1, (now > 0 ? (uint64_t)now : 0) + 1);
	skip_walk w = { .fn = fn, .ctx = ctx };
	return hintsdb_iterate_from(db, sv_make((const char *)start, sizeof start), skip_fn, &w);
}

/* ---- reconciliation ---- */

typedef struct idx_entry {
	char id[MSG_ID_LEN + 1];
	uint64_t due;
} idx_entry;

typedef struct idx_list {
	idx_entry *v;
	size_t n, cap;
} idx_list;

static bool collect_fn(void *ctx, sv key, sv value)
{
	idx_list *l = ctx;
	if (key.len < 1 || key.p[0] != 'i')
		return false;
	if (key.len != KEY_ID_LEN || value.len < 9)
		return true;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 1024;
		void *nv = realloc(l->v, nc * sizeof *l->v);
		if (!nv)
			abort();
		l->v = nv;
		l->cap = nc;
	}
	memcpy(l->v[l->n].id, key.p + 1, MSG_ID_LEN);
	l->v[l->n].id[MSG_ID_LEN] = 0;
	l->v[l->n].due = get_be64((const unsigned char *)value.p);
	l->n++;
	return true;
}

static int cmp_ids(const void *a, const void *b)
{
	return memcmp(a, b, MSG_ID_LEN);
}

/* Operations are written in transactions of this many (bounded memory, bounded lock hold). */
#define BATCH_OPS 3000

typedef struct op_batch {
	hintsdb *db;
	hintsdb_op ops[BATCH_OPS];
	unsigned char keys[BATCH_OPS][KEY_T_LEN];
	unsigned char vals[BATCH_OPS][9];
	size_t n;
	bool ok;
} op_batch;

static void batch_flush(op_batch *b)
{
	if (b->n && !hintsdb_write_batch(b->db, b->ops, b->n))
		b->ok = false;
	b->n = 0;
}

static void batch_add(op_batch *b, const unsigned char *key, size_t klen, const unsigned char *val, size_t vlen, bool remove)
{
	if (b->n == BATCH_OPS)
		batch_flush(b);
	memcpy(b->keys[b->n], key, klen);
	if (vlen)
		memcpy(b->vals[b->n], val, vlen);
	b->ops[b->n] = (hintsdb_op){ .key = sv_make((const char *)b->keys[b->n], klen),
		.value = sv_make((const char *)b->vals[b->n], vlen), .remove = remove };
	b->n++;
}

static void batch_add_entry(op_batch *b, const char *id, uint64_t due)
{
	unsigned char k[KEY_T_LEN], v[9];
	k[0] = 'i';
	memcpy(k + 1, id, MSG_ID_LEN);
	put_be64(v, due);
	v[8] = 0;
	batch_add(b, k, KEY_ID_LEN, v, 9, false);
	k[0] = 't';
	put_be64(k + 1, due);
	memcpy(k + 9, id, MSG_ID_LEN);
	batch_add(b, k, KEY_T_LEN, v + 8, 1, false);
}

static void batch_drop_entry(op_batch *b, const char *id, uint64_t due)
{
	unsigned char k[KEY_T_LEN];
	k[0] = 't';
	put_be64(k + 1, due);
	memcpy(k + 9, id, MSG_ID_LEN);
	batch_add(b, k, KEY_T_LEN, NULL, 0, true);
	k[0] = 'i';
	memcpy(k + 1, id, MSG_ID_LEN);
	batch_add(b, k, KEY_ID_LEN, NULL, 0, true);
}

bool queue_index_reconcile(hintsdb *db, char (*ids)[MSG_ID_LEN + 1], size_t n, time_t listed)
{
	idx_list have = { 0 };
	if (!hintsdb_iterate_from(db, sv_make("i", 1), collect_fn, &have)) {
		free(have.v);
		return false;
	}
	/* qsort must not see a NULL array, even with no elements (UBSan). */
	if (n > 1)
		qsort(ids, n, sizeof *ids, cmp_ids);
	if (have.n > 1)
		qsort(have.v, have.n, sizeof *have.v, cmp_ids);
	op_batch *b = calloc(1, sizeof *b);
	if (!b)
		abort();
	b->db = db;
	b->ok = true;
	size_t i = 0, j = 0;
	while (i < n || j < have.n) {
		int c = i == n ? 1 : j == have.n ? -1 : memcmp(ids[i], have.v[j].id, MSG_ID_LEN);
		if (c < 0) { /* in the spool, not in the index: due now */
			batch_add_entry(b, ids[i], 0);
			i++;
		} else if (c > 0) { /* in the index only: gone, unless it arrived after the listing */
			time_t t = 0;
			int frac = 0;
			if (!spool_id_time(sv_make(have.v[j].id, MSG_ID_LEN), &t, &frac) || t < listed - 1)
				batch_drop_entry(b, have.v[j].id, have.v[j].due);
			j++;
		} else {
			i++;
			j++;
		}
	}
	char meta[64];
	int ml = snprintf(meta, sizeof meta, "1 %lld", (long long)listed);
	batch_add(b, (const unsigned char *)"m", 1, (const unsigned char *)meta, (size_t)ml, false);
	batch_flush(b);
	bool ok = b->ok;
	free(b);
	free(have.v);
	return ok;
}

/* Remove index files of earlier boots (never opened again). */
static void remove_old_boot_files(const spool_config *sc)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/db", sc->directory);
	DIR *d = opendir(dir);
	if (!d)
		return;
	char prefix[32];
	int pl = snprintf(prefix, sizeof prefix, "schedule-%s", boot_tag());
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "schedule-", 9) != 0 || strncmp(e->d_name, prefix, (size_t)pl) == 0)
			continue;
		char path[4500];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

hintsdb *queue_index_open_valid(const spool_config *sc, time_t now)
{
	hintsdb *db = open_index(sc, false);
	if (!db)
		return NULL;
	xbuf meta;
	xbuf_init(&meta, NULL);
	int rc = hintsdb_get(db, sv_make("m", 1), &meta);
	long long last = -1;
	if (rc == 1 && meta.len > 2 && meta.p[0] == '1' && meta.p[1] == ' ')
		last = strtoll(xbuf_cstr(&meta) + 2, NULL, 10);
	xbuf_free(&meta);
	if (rc < 0) {
		hintsdb_close(db);
		return NULL;
	}
	if (last >= 0 && now - last < QUEUE_INDEX_RECONCILE_SECS && now >= last)
		return db;
	if (last < 0)
		remove_old_boot_files(sc);
	/* Rebuild or reconcile from a listing of the spool. */
	time_t listed = time(NULL);
	char (*ids)[MSG_ID_LEN + 1] = NULL;
	xbuf err;
	xbuf_init(&err, NULL);
	arena_mark mk = arena_getmark(pool_scratch);
	size_t n = spool_list_ids_ordered(pool_scratch, sc, false, &ids, &err);
	bool ok = err.len == 0 && queue_index_reconcile(db, ids, n, listed);
	if (!ok)
		log_write(LOG_MAIN | LOG_PANIC, "queue schedule index: rebuild failed: %s",
			err.len ? xbuf_cstr(&err) : hintsdb_error(db));
	arena_reset(pool_scratch, mk);
	xbuf_free(&err);
	if (!ok) {
		hintsdb_close(db);
		return NULL;
	}
	return db;
}
