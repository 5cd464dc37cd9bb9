/* The autoreply transport's "once" records (Exim 4.96 "The autoreply transport": once,
 * once_file_size, once_repeat): when was a reply last sent to this To: value?
 *
 * Two forms, as in Exim. With once_file_size = 0 a database at the once path: here an LMDB file
 * (MDB_NOSUBDIR, so the path is the data file and "<path>-lock" sits beside it), key the To:
 * value, value the time as 8 bytes in host order. With once_file_size > 0 a plain file of at
 * most that many bytes holding records "<time: 8 bytes, host order><address>\0", oldest first
 * (Exim's layout, byte for byte); a new record goes at the end and the oldest ones are dropped
 * to keep the file within its size. */
#include "drivers/transports/autoreply_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Exim names the database library in its messages; Debian's is Berkeley DB 4.1+. We keep its
 * wording so log lines read the same. */
#define ONCE_DB_KIND "db (v4.1+)"

static bool open_fail(once_state *s, const char *kind, int e)
{
	s->err = e;
	s->text = arena_printf(s->a, "Failed to open %s file %s when sending message from %s transport: %s",
		kind, s->path, s->tname, strerror(e));
	return false;
}

/* ---- the database form ---- */

static bool db_open(once_state *s, MDB_env **env, MDB_dbi *dbi, MDB_txn **txn, bool write)
{
	int rc = mdb_env_create(env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(*env, (size_t)64 << 20);
	if (rc == 0)
		rc = mdb_env_open(*env, s->path, MDB_NOSUBDIR, (mdb_mode_t)s->mode);
	if (rc == 0)
		rc = mdb_txn_begin(*env, NULL, write ? 0 : MDB_RDONLY, txn);
	if (rc == 0)
		rc = mdb_dbi_open(*txn, NULL, 0, dbi);
	if (rc != 0) {
		if (*env)
			mdb_env_close(*env);
		*env = NULL;
		/* LMDB returns errno values for system errors and its own codes otherwise. */
		return open_fail(s, ONCE_DB_KIND, rc > 0 ? rc : EIO);
	}
	return true;
}

static bool db_check(once_state *s, time_t *last, bool *found)
{
	MDB_env *env = NULL;
	MDB_dbi dbi;
	MDB_txn *txn;
	if (!db_open(s, &env, &dbi, &txn, false))
		return false;
	MDB_val k = { s->key.len, (void *)s->key.p }, v;
	*found = mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof(int64_t);
	if (*found) {
		int64_t t;
		memcpy(&t, v.mv_data, sizeof t);
		*last = (time_t)t;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return true;
}

static bool db_record(once_state *s, time_t now)
{
	MDB_env *env = NULL;
	MDB_dbi dbi;
	MDB_txn *txn;
	if (!db_open(s, &env, &dbi, &txn, true))
		return false;
	int64_t t = (int64_t)now;
	MDB_val k = { s->key.len, (void *)s->key.p }, v = { sizeof t, &t };
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	mdb_env_close(env);
	if (rc != 0)
		return open_fail(s, ONCE_DB_KIND, rc > 0 ? rc : EIO);
	return true;
}

/* ---- the fixed-size file form ---- */

/* Read the whole file (it never exceeds once_file_size, and we read no more than that). */
static bool file_load(once_state *s, int fd, xbuf *out)
{
	size_t cap = (size_t)s->file_size;
	xbuf_reserve(out, cap + 1);
	size_t n = 0;
	while (n < cap) {
		ssize_t r = pread(fd, out->p + n, cap - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return false;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	out->len = n;
	return true;
}

/* Walk the records: each is 8 bytes of time then a NUL-terminated address. */
typedef struct rec {
	size_t off, len;      /* the whole record */
	time_t t;
	sv addr;
} rec;

static bool next_rec(sv data, size_t *pos, rec *r)
{
	if (*pos + sizeof(int64_t) + 1 > data.len)
		return false;
	const char *a = data.p + *pos + sizeof(int64_t);
	const char *nul = memchr(a, 0, data.len - (*pos + sizeof(int64_t)));
	if (!nul)
		return false;
	int64_t t;
	memcpy(&t, data.p + *pos, sizeof t);
	r->off = *pos;
	r->t = (time_t)t;
	r->addr = sv_make(a, (size_t)(nul - a));
	r->len = sizeof(int64_t) + r->addr.len + 1;
	*pos += r->len;
	return true;
}

static int file_open(once_state *s)
{
	int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, (mode_t)s->mode);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static bool file_check(once_state *s, time_t *last, bool *found)
{
	int fd = file_open(s);
	if (fd < 0)
		return open_fail(s, "\"once\"", errno);
	xbuf data;
	xbuf_init(&data, s->a);
	bool ok = file_load(s, fd, &data);
	close(fd);
	if (!ok)
		return open_fail(s, "\"once\"", errno);
	*found = false;
	size_t pos = 0;
	rec r;
	while (next_rec(xbuf_sv(&data), &pos, &r))
		if (sv_eq(r.addr, s->key)) {
			*found = true;
			*last = r.t;
		}
	return true;
}

static bool file_record(once_state *s, time_t now)
{
	int fd = file_open(s);
	if (fd < 0)
		return open_fail(s, "\"once\"", errno);
	xbuf data, out;
	xbuf_init(&data, s->a);
	xbuf_init(&out, s->a);
	bool ok = file_load(s, fd, &data);
	/* Keep every other address's record, oldest first, then this one's. */
	size_t pos = 0;
	rec r;
	while (ok && next_rec(xbuf_sv(&data), &pos, &r))
		if (!sv_eq(r.addr, s->key))
			xbuf_put(&out, data.p + r.off, r.len);
	int64_t t = (int64_t)now;
	size_t newlen = sizeof t + s->key.len + 1;
	/* Drop the oldest until the new one fits. */
	size_t skip = 0;
	sv all = xbuf_sv(&out);
	pos = 0;
	while (out.len - skip + newlen > (size_t)s->file_size && next_rec(all, &pos, &r))
		skip = pos;
	xbuf fresh;
	xbuf_init(&fresh, s->a);
	if (out.len > skip)
		xbuf_put(&fresh, out.p + skip, out.len - skip);
	if (fresh.len + newlen <= (size_t)s->file_size) {
		xbuf_put(&fresh, &t, sizeof t);
		xbuf_putsv(&fresh, s->key);
		xbuf_putc(&fresh, 0);
	}
	if (ok)
		ok = pwrite(fd, fresh.p ? fresh.p : "", fresh.len, 0) == (ssize_t)fresh.len
			&& ftruncate(fd, (off_t)fresh.len) == 0 && fsync(fd) == 0;
	int e = errno;
	close(fd);
	if (!ok)
		return open_fail(s, "\"once\"", e);
	return true;
}

bool once_should_skip(once_state *s, time_t now, bool *skip)
{
	time_t last = 0;
	bool found = false;
	bool ok = s->file_size > 0 ? file_check(s, &last, &found) : db_check(s, &last, &found);
	if (!ok)
		return false;
	/* once_repeat 0 means "never again"; otherwise again after that long. */
	*skip = found && (s->repeat <= 0 || now < last + s->repeat);
	return true;
}

bool once_record(once_state *s, time_t now)
{
	return s->file_size > 0 ? file_record(s, now) : db_record(s, now);
}
