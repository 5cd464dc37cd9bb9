/* Writing the spool (core/spool.h): the -D file of a message being received and the -H file
 * that makes it exist, in Exim 4.96's layout (facts §1), with the durability rule: the message
 * is acknowledged only after both files and their directory entries are on disk.
 *
 * Sequence: spool_begin creates <id>-D exclusively (O_EXCL: an id is never reused) and takes
 * Exim's fcntl write lock on its first line, so an Exim or Postern queue runner leaves it alone;
 * the body is appended through a buffer; spool_commit writes -D out, writes -H to a temporary
 * name and out, renames it into place, and waits for a group sync of the file system that covers
 * all of it (core/spool_commit.h). A -D without -H is not a message (queue runners skip it);
 * spool_abort removes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/priv_trust.h"
#include "core/spool.h"
#include "core/queue.h"
#include "core/queue_named.h"
#include "core/spool_commit.h"
#include "core/spool_integrity.h"
#include "core/spool_recycle.h"
#include "core/spool_worker.h"
#include "lib/crc64.h"
#include "lib/durable.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define SPOOL_WBUF 65536

struct spool_txn {
	const spool_config *sc;
	char id[MSG_ID_LEN + 1];
	int fd;
	bool committed;
	/* The background fdatasync of -D (spool_data_sync_start, core/spool_worker.h): running
	 * until waited for; its result (0 or an errno) is valid then. */
	bool dsync_running, dsync_done;
	bool dsync_stale;     /* bytes written to -D after the sync started: it must run again */
	int dsync_errno;
	unsigned dsync_ticket;
	/* What has been written to -D so far, for the integrity line (core/spool_integrity.h):
	 * every byte goes through flush_buf, from offset 0 on. */
	uint64_t dcrc, dlen;
	/* Old bytes of a recycled spare -D past what is written (core/spool_recycle.h): cut off
	 * (data_cut) at the end of the body, before anything reads or syncs the file. */
	off_t dstale;
	size_t blen;
	/* Not zeroed at the start (spool_begin writes them at once), nor is buf. */
	char dir[4096], dpath[4096 + 32], hpath[4096 + 32];
	char buf[SPOOL_WBUF];
};

bool spool_config_from_main(spool_config *sc, xbuf *err)
{
	memset(sc, 0, sizeof *sc);
	const char *dir = conf_main.spool_directory;
	if (!dir || !*dir) {
		xbuf_puts(err, "spool_directory is not set");
		return false;
	}
	if (strchr(dir, '$')) {
		xp_env env;
		xp_env_init(&env, pool_perm);
		xbuf out;
		xbuf_init(&out, pool_perm);
		int rc = xp_expand(&env, sv_cstr(dir), &out, err);
		xp_env_release(&env);
		if (rc != XP_OK) {
			xbuf_printf(err, "%sfailed to expand spool_directory \"%s\"", err->len ? ": " : "", dir);
			return false;
		}
		dir = xbuf_cstr(&out);
	}
	sc->directory = dir;
	sc->split = conf_main.split_spool_directory;
	/* The process's current queue (core/queue_named.h): a message received after the ACL chose a
	 * queue, or created while delivering one from a named queue, goes there. */
	sc->queue_name = *queue_named_current() ? queue_named_current() : NULL;
	sc->mode = 0640;
	/* A caller without Exim's rights (core/priv_trust.h) tries to give its files to the exim
	 * user too, as Exim does, and fails. */
	bool give = geteuid() == 0 || priv_caller_lacks_trust();
	sc->uid = give ? conf_main.exim_user : (uid_t)-1;
	sc->gid = give ? conf_main.exim_group : (gid_t)-1;
	return true;
}

/* A spool file's name as Exim's messages give it: the queue and split parts are there even when
 * empty ("<dir>//input//<id>-D", observed). */
static const char *exim_style_name(arena *a, const spool_config *sc, const char *subdir, const char *id,
	const char *suffix)
{
	char split[2] = { sc->split ? id[5] : 0, 0 };
	return arena_printf(a, "%s/%s/%s/%s/%s%s", sc->directory, sc->queue_name ? sc->queue_name : "", subdir,
		split, id, suffix);
}

/* <dir>[/<queue>]/<subdir>[/<c>] */
static const char *spool_dir_of(arena *a, const spool_config *sc, const char *subdir, const char *id)
{
	const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
	if (sc->split && id)
		return arena_printf(a, "%s%s%s/%s/%c", sc->directory, q ? "/" : "", q ? q : "", subdir, id[5]);
	return arena_printf(a, "%s%s%s/%s", sc->directory, q ? "/" : "", q ? q : "", subdir);
}

const char *spool_path(arena *a, const spool_config *sc, const char *subdir, const char *id, const char *suffix)
{
	return arena_printf(a, "%s/%s%s", spool_dir_of(a, sc, subdir, id), id, suffix ? suffix : "");
}

bool spool_make_dirs(const char *path, const spool_config *sc, xbuf *err)
{
	struct stat st;
	if (stat(path, &st) == 0)
		return true;
	char *p = strdup(path);
	if (!p)
		abort();
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			if (mkdir(p, 0750) == 0) {
				if (sc->uid != (uid_t)-1 && chown(p, sc->uid, sc->gid) != 0) { /* best effort */ }
			} else if (errno != EEXIST) {
				xbuf_printf(err, "Failed to create directory \"%s\": %s", p, strerror(errno));   /* Exim's words */
				free(p);
				return false;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return true;
}

/* Exim locks the first line of the -D file (its name), which is what another process tests. */
static bool lock_data_file(int fd, const char *id, bool wait)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0,
		.l_len = (off_t)strlen(id) + 3 };
	return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl) == 0;
}

/* A spare -D made in advance (core/spool_worker.h), renamed to the message's name: no inode
 * is created on the way to the 354. RENAME_NOREPLACE keeps O_EXCL's promise (an id is never
 * reused): EEXIST in errno tells the caller to take another id. Its mode and owner were set
 * when it was made. False (errno 0) when there is no spare or it could not be used. */
static bool take_spare_data(spool_txn *t)
{
	char spare[4300];
	off_t stale;
	int fd = spool_spare_take(SPARE_DATA, t->dir, spare, sizeof spare, &stale);
	errno = 0;
	if (fd < 0)
		return false;
	/* Named with its old bytes: no reader looks at a -D before its -H exists, and -H is
	 * written after data_cut. A session killed before leaves a -D without -H, no message. */
	if (renameat2(AT_FDCWD, spare, AT_FDCWD, t->dpath, RENAME_NOREPLACE) == 0) {
		t->fd = fd;
		t->dstale = stale;
		return true;
	}
	int e = errno;
	unlink(spare);
	close(fd);
	errno = e == EEXIST ? EEXIST : 0;
	return false;
}

spool_txn *spool_begin(const spool_config *sc, const char *id, xbuf *err)
{
	/* Not calloc: zeroing the 64 KB write buffer and the 12 KB of paths cost more instructions
	 * than the rest of a message's reception (callgrind); the other fields start zeroed. */
	spool_txn *t = malloc(sizeof *t);
	if (!t)
		abort();
	memset(t, 0, offsetof(spool_txn, dir));
	t->dir[0] = t->dpath[0] = t->hpath[0] = 0;
	t->sc = sc;
	t->fd = -1;
	t->dcrc = crc64_init();
	snprintf(t->id, sizeof t->id, "%s", id);
	arena_mark mk = arena_getmark(pool_scratch);
	int n = snprintf(t->dir, sizeof t->dir, "%s", spool_dir_of(pool_scratch, sc, "input", id));
	arena_reset(pool_scratch, mk);
	if (n < 0 || (size_t)n + MSG_ID_LEN + 4 > sizeof t->dir) {
		xbuf_printf(err, "spool directory name too long: %s", sc->directory);
		free(t);
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (snprintf(t->dpath, sizeof t->dpath, "%s/%s-D", t->dir, id) >= (int)sizeof t->dpath ||
		snprintf(t->hpath, sizeof t->hpath, "%s/%s-H", t->dir, id) >= (int)sizeof t->hpath) {
		xbuf_printf(err, "spool file name too long in %s", t->dir);
		free(t);
		errno = ENAMETOOLONG;
		return NULL;
	}
	/* A spare renamed into the directory proves it exists: the stat of spool_make_dirs is
	 * needed only on the way to creating the file. */
	bool spare = take_spare_data(t);
	int spare_errno = errno;   /* EEXIST: the id is taken (below) */
	if (!spare && spare_errno != EEXIST && !spool_make_dirs(t->dir, sc, err)) {
		free(t);
		return NULL;
	}
	errno = spare_errno;
	if (spare) {
		if (!lock_data_file(t->fd, id, false)) {
			xbuf_printf(err, "Cannot lock spool file %s: %s", t->dpath, strerror(errno));
			spool_abort(t);
			return NULL;
		}
		t->blen = (size_t)snprintf(t->buf, sizeof t->buf, "%s-D\n", id);
		return t;
	}
	/* Copied out of the scratch arena, which is reset at once: each message's name would
	 * otherwise stay there for the life of a session process. */
	char dname[sizeof t->dpath + 64];
	arena_mark nm = arena_getmark(pool_scratch);
	snprintf(dname, sizeof dname, "%s", exim_style_name(pool_scratch, sc, "input", id, "-D"));
	arena_reset(pool_scratch, nm);
	if (errno == EEXIST) {
		xbuf_printf(err, "Failed to create spool file %s: %s", dname, strerror(EEXIST));
		free(t);
		errno = EEXIST;
		return NULL;
	}
	t->fd = open(t->dpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, sc->mode ? sc->mode : 0640);
	if (t->fd < 0) {
		int e = errno;
		xbuf_printf(err, "Failed to create spool file %s: %s", dname, strerror(e));
		free(t);
		errno = e; /* EEXIST tells spool_begin_message to take another id */
		return NULL;
	}
	if (sc->uid != (uid_t)-1 && fchown(t->fd, sc->uid, sc->gid) != 0) {
		/* Exim's two lines, the first naming its source line (observed). */
		int e = errno;
		log_write(LOG_MAIN | LOG_PANIC, "exim.c:878: chown(%s, %lu:%lu) failed (%s). Please contact the "
			"authors and refer to https://bugs.exim.org/show_bug.cgi?id=2391", dname,
			(unsigned long)sc->uid, (unsigned long)sc->gid, strerror(e));
		xbuf_printf(err, "Failed setting ownership on spool file %s: %s", dname, strerror(e));
		spool_abort(t);
		return NULL;
	}
	if (fchmod(t->fd, sc->mode ? sc->mode : 0640) != 0 || !lock_data_file(t->fd, id, false)) {
		xbuf_printf(err, "Cannot lock spool file %s: %s", t->dpath, strerror(errno));
		spool_abort(t);
		return NULL;
	}
	/* The file's name as its first line: insurance against a lost directory. */
	t->blen = (size_t)snprintf(t->buf, sizeof t->buf, "%s-D\n", id);
	return t;
}

spool_txn *spool_begin_message(const spool_config *sc, message *m, xbuf *err)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		struct timeval tv;
		spool_new_message_id_time(m->id, &tv);
		m->received_time = tv.tv_sec;
		m->received_usec = (int)tv.tv_usec;
		size_t mark = err->len;
		spool_txn *t = spool_begin(sc, m->id, err);
		if (t || errno != EEXIST)
			return t;
		xbuf_truncate(err, mark); /* a pid reused within 5 ms: take the next id */
	}
	return NULL;
}

static bool flush_buf(spool_txn *t, xbuf *err)
{
	size_t off = 0;
	while (off < t->blen) {
		ssize_t n = write(t->fd, t->buf + off, t->blen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			xbuf_printf(err, "Error writing spool file %s: %s", t->dpath, strerror(errno));
			/* Keep only what was not written: a later try (the commit after a quiet cut)
			 * must not write the written part twice. */
			memmove(t->buf, t->buf + off, t->blen - off);
			t->blen -= off;
			return false;
		}
		t->dcrc = crc64_update(t->dcrc, t->buf + off, (size_t)n);
		t->dlen += (uint64_t)n;
		off += (size_t)n;
		t->dsync_stale = true;
	}
	t->blen = 0;
	return true;
}

bool spool_write_body(spool_txn *t, const void *p, size_t n, xbuf *err)
{
	const char *s = p;
	while (n) {
		if (t->blen == sizeof t->buf && !flush_buf(t, err))
			return false;
		size_t k = sizeof t->buf - t->blen;
		if (k > n)
			k = n;
		memcpy(t->buf + t->blen, s, k);
		t->blen += k;
		s += k;
		n -= k;
	}
	return true;
}

bool spool_flush(spool_txn *t, xbuf *err)
{
	return flush_buf(t, err);
}

/* Everything buffered written, and a recycled -D cut to what was written: from here on the
 * file holds exactly the body so far. Called before the body is read back, synced or described
 * by the integrity line. A shrink within the file's one block frees nothing (0.01 ms). */
static bool data_cut(spool_txn *t, xbuf *err)
{
	if (!flush_buf(t, err))
		return false;
	if (t->dstale && !spool_recycle_cut(t->fd, &t->dstale, (off_t)t->dlen)) {
		xbuf_printf(err, "Error writing spool file %s: %s", t->dpath, strerror(errno));
		return false;
	}
	return true;
}

/* data_cut where the caller reports nothing itself: a failure leaves the file as it was (the
 * buffer or the old bytes still pending), so the commit tries again and reports it. */
static bool data_cut_quiet(spool_txn *t)
{
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = data_cut(t, &err);
	xbuf_free(&err);
	return ok;
}

int spool_data_fd(const spool_txn *t)
{
	/* Callers read the body back through the fd (regex ACLs, $message_body), so everything
	 * written must be in the file. The handle is always allocated writable (spool_begin). */
	spool_txn *w = (spool_txn *)t;
	if ((w->blen || w->dstale) && !data_cut_quiet(w))
		return -1;
	return t->fd;
}

/* Making -D durable runs in the helper thread (core/spool_worker.h), so that its device flush
 * overlaps with what the session does meanwhile (header preparation, the MIME and DATA ACLs,
 * writing the -H temporary and its own fdatasync). Two fdatasyncs in flight together let the
 * block layer serve both with one cache flush where one after the other costs two
 * (bench/accept/README.md). The thread only calls fdatasync on a descriptor the session keeps
 * open until it has waited for the result. */
static void data_sync_begin(spool_txn *t)
{
	if (!t || t->fd < 0 || t->dsync_running || t->dsync_done)
		return;
	if (!data_cut_quiet(t)) /* a failure shows again at commit */
		return;
	t->dsync_stale = false;
	t->dsync_running = spool_worker_sync_start(t->fd, &t->dsync_ticket);
}

/* With the integrity line (a boot id) the three syncs of a commit start together instead
 * (commit_at_once): a device flush already under way when the others arrive could not cover
 * them, and they would wait for a second one. */
void spool_data_sync_start(spool_txn *t)
{
	if (!spool_boot_id()) {
		data_sync_begin(t);
	} else if (t && t->fd >= 0) {
		/* The end of the body: the cut now, before the ACLs may read the file back. A
		 * failure shows again at commit. */
		data_cut_quiet(t);
	}
}

/* Wait for the background sync if one runs. In a forked child (ACL ${run}...) it is not ours:
 * the content is synced again here. */
static void dsync_join(spool_txn *t)
{
	if (t->dsync_running) {
		int e = spool_worker_sync_wait(t->dsync_ticket);
		t->dsync_errno = e < 0 ? 0 : e;
		if (e < 0)
			t->dsync_stale = true;
	}
	t->dsync_running = false;
}

/* Sync (again) here if the background sync did not run or something was written after it
 * started. False with errno on failure. */
static bool data_sync_wait(spool_txn *t)
{
	if (t->dsync_running) {
		dsync_join(t);
		t->dsync_done = true;
		if (t->dsync_errno) { /* reported once: a second fdatasync could say nothing */
			errno = t->dsync_errno;
			return false;
		}
	}
	if (t->dsync_done && !t->dsync_stale)
		return true;
	if (fdatasync(t->fd) != 0)
		return false;
	t->dsync_done = true;
	t->dsync_stale = false;
	return true;
}

/* The last part of a commit in Exim's order (no boot id, so no integrity line): -D and the -H
 * temporary are each made durable with fdatasync (content and size) BEFORE -H gets its name, the
 * two in parallel; one group round (core/spool_commit.h) then makes the new name durable. */
static bool commit_in_order(spool_txn *t, durable_file *f, xbuf *err)
{
	bool ok = durable_sync(f, err);
	/* -D must be complete on stable storage before -H is named. */
	bool dok = data_sync_wait(t);
	if (!dok && ok) {
		xbuf_printf(err, "Error writing spool file %s: %s", t->dpath, strerror(errno));
		ok = false;
	}
	if (!(ok && durable_rename(f, err)))
		return false;
	queue_schedule_note_received(t->sc, t->id);
	return spool_group_sync(t->sc, t->dir, err);
}

/* With the integrity line: -H is named at once, and its fdatasync (a helper thread), -D's
 * (running since the end of the body) and the directory round (this thread) all run together:
 * one device flush where Exim's order needs two one after the other. Nothing is acknowledged
 * before all three have succeeded; a crash before that can leave a named -H that a reader
 * after the restart recognises as never acknowledged (core/spool_integrity.h). */
static bool commit_at_once(spool_txn *t, durable_file *f, xbuf *err)
{
	if (!durable_rename_early(f, err))
		return false;
	/* -H has its name from here on: the caller removes it again on failure. */
	data_sync_begin(t);
	unsigned ticket = 0;
	bool hbg = spool_worker_sync_start_in(1, f->fd, &ticket);
	bool ok = spool_group_sync(t->sc, t->dir, err);
	queue_schedule_note_received(t->sc, t->id);
	int he = 0;
	if (hbg) {
		he = spool_worker_sync_wait_in(1, ticket);
		if (he < 0) /* not this process's thread (a forked child): sync here */
			he = fdatasync(f->fd) == 0 ? 0 : errno;
	} else if (fdatasync(f->fd) != 0) {
		he = errno;
	}
	if (he && ok) {
		xbuf_printf(err, "Error writing spool file %s: %s", t->hpath, strerror(he));
		ok = false;
	}
	bool dok = data_sync_wait(t);
	if (!dok && ok) {
		xbuf_printf(err, "Error writing spool file %s: %s", t->dpath, strerror(errno));
		ok = false;
	}
	return ok;
}

/* Whatever the order, a crash never leaves a named -H of an acknowledged message whose files are
 * incomplete (docs/spool.md, durability). */
bool spool_commit(spool_txn *t, const message *m, xbuf *err)
{
	/* -D holds exactly its dlen bytes before they are synced and summed into the -H. */
	if (!data_cut(t, err))
		return false;
	if (!t->dsync_running && (!t->dsync_done || t->dsync_stale)) {
		t->dsync_done = false;
		spool_data_sync_start(t); /* not started at the end of the body (or written since) */
	}
	/* The -D sync (if it runs) must not outlive the descriptor whatever happens below. */
	xbuf h;
	xbuf_init(&h, NULL);
	spool_format_header(m, &h);
	bool at_once = spool_integrity_insert(&h, t->dlen, crc64_final(t->dcrc));
	durable_file f;
	/* The -H temporary: a spare made in advance when there is one (its mode and owner set). */
	char spare[4300];
	off_t hstale;
	int sfd = spool_spare_take(SPARE_HEADER, t->dir, spare, sizeof spare, &hstale);
	bool ok = sfd >= 0 ? durable_adopt(&f, t->hpath, sfd, spare, err)
		: durable_open(&f, t->hpath, (mode_t)(t->sc->mode ? t->sc->mode : 0640), err);
	if (ok && sfd < 0 && t->sc->uid != (uid_t)-1 && fchown(f.fd, t->sc->uid, t->sc->gid) != 0) {
		xbuf_printf(err, "Failed to set owner of spool file %s: %s", t->hpath, strerror(errno));
		ok = false;
	}
	ok = ok && durable_write(&f, h.p, h.len, err);
	/* A recycled temporary is cut to the new content under its private name, before its
	 * rename and its fdatasync: the named -H never has old bytes past its end. */
	if (ok && sfd >= 0 && !spool_recycle_cut(f.fd, &hstale, (off_t)h.len)) {
		xbuf_printf(err, "Error writing spool file %s: %s", t->hpath, strerror(errno));
		ok = false;
	}
	xbuf_free(&h);
	bool named = false;
	if (ok) {
		ok = at_once ? commit_at_once(t, &f, err) : commit_in_order(t, &f, err);
		named = f.tmp_path == NULL;
	} else {
		data_sync_wait(t); /* the background sync must not outlive the descriptor */
	}
	if (ok && !durable_write_out(t->fd)) { /* write-back errors of -D since it was opened */
		xbuf_printf(err, "Error writing spool file %s: %s", t->dpath, strerror(errno));
		ok = false;
	}
	ok = ok && durable_finish(&f, err);
	durable_abort(&f);
	if (!ok) {
		if (named)
			unlink(t->hpath);
		return false;
	}
	t->committed = true;
	return true;
}

void spool_abort(spool_txn *t)
{
	if (!t)
		return;
	dsync_join(t);
	if (t->committed)
		unlink(t->hpath);
	if (t->fd >= 0) {
		unlink(t->dpath);
		close(t->fd);
	}
	free(t);
}

void spool_end(spool_txn *t)
{
	if (!t)
		return;
	dsync_join(t);
	if (t->fd >= 0)
		close(t->fd); /* closing releases the fcntl lock */
	free(t);
}

void spool_msglog(const spool_config *sc, const char *id, const char *fmt, ...)
{
	arena_mark mk = arena_getmark(pool_scratch);
	const char *dir = spool_dir_of(pool_scratch, sc, "msglog", id);
	const char *path = arena_printf(pool_scratch, "%s/%s", dir, id);
	xbuf err;
	xbuf_init(&err, pool_scratch);
	xbuf line;
	xbuf_init(&line, pool_scratch);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	tod_format_time(TOD_LOG, tv.tv_sec, tv.tv_usec, &line);
	xbuf_putc(&line, ' ');
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(&line, fmt, ap);
	va_end(ap);
	xbuf_putc(&line, '\n');
	/* A new message's log: a spare made in advance. It may be a recycled file with old bytes
	 * (core/spool_recycle.h), and later writers (deliveries, Exim's too) append: so the line
	 * is written at offset 0 and the file cut after it while the name is still private, and
	 * only then renamed into place (never over an existing log). */
	char spare[4300];
	off_t stale;
	int fd = spool_spare_take(SPARE_MSGLOG, dir, spare, sizeof spare, &stale);
	if (fd >= 0) {
		bool ok = pwrite(fd, line.p, line.len, 0) == (ssize_t)line.len
			&& spool_recycle_cut(fd, &stale, (off_t)line.len)
			&& renameat2(AT_FDCWD, spare, AT_FDCWD, path, RENAME_NOREPLACE) == 0;
		if (!ok)
			unlink(spare);
		close(fd);
		if (ok) {
			arena_reset(pool_scratch, mk);
			return;
		}
	}
	/* Usually the log exists (reception wrote "Received from"): appended to without the
	 * directory check, which only a log about to be created needs. */
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && spool_make_dirs(dir, sc, &err))
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, sc->mode ? sc->mode : 0640);
	if (fd >= 0) {
		if (write(fd, line.p, line.len) != (ssize_t)line.len) { /* msglog is advisory */ }
		close(fd);
	}
	arena_reset(pool_scratch, mk);
}

int spool_open_locked(const spool_config *sc, const char *id, xbuf *err)
{
	arena_mark mk = arena_getmark(pool_scratch);
	const char *path = spool_path(pool_scratch, sc, "input", id, "-D");
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		/* Exim names a named queue in this text ("Spool Q=quar file <id>-D not found"). */
		const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
		/* Reset first: err may live in pool_scratch too (queue_named_move's does). */
		arena_reset(pool_scratch, mk);
		xbuf_printf(err, "Spool%s%s file %s-D not found", q ? " Q=" : "", q ? q : "", id);
		errno = e;
		return -1;
	}
	if (!lock_data_file(fd, id, false)) {
		int e = errno;
		close(fd);
		arena_reset(pool_scratch, mk);
		xbuf_printf(err, "Spool file for %s is locked (another process is handling this message)", id);
		errno = e == EACCES ? EAGAIN : e;
		return -1;
	}
	arena_reset(pool_scratch, mk);
	return fd;
}

bool spool_rewrite_header(const spool_config *sc, const message *m, xbuf *err)
{
	xbuf h;
	xbuf_init(&h, NULL);
	spool_format_header(m, &h);
	/* Error texts go to e (heap) and then to err: err may be in pool_scratch, reset below. */
	xbuf e;
	xbuf_init(&e, NULL);
	arena_mark mk = arena_getmark(pool_scratch);
	const char *path = spool_path(pool_scratch, sc, "input", m->id, "-H");
	durable_file f;
	bool ok = durable_open(&f, path, (mode_t)(sc->mode ? sc->mode : 0640), &e);
	if (ok && sc->uid != (uid_t)-1 && fchown(f.fd, sc->uid, sc->gid) != 0) {
		xbuf_printf(&e, "Failed to set owner of spool file %s: %s", path, strerror(errno));
		durable_abort(&f);
		ok = false;
	}
	ok = ok && durable_write(&f, h.p, h.len, &e) && durable_commit(&f, &e);
	arena_reset(pool_scratch, mk);
	xbuf_putsv(err, xbuf_sv(&e));
	xbuf_free(&e);
	xbuf_free(&h);
	return ok;
}

bool spool_remove_header(const spool_config *sc, const char *id, xbuf *err)
{
	arena_mark mk = arena_getmark(pool_scratch);
	const char *path = spool_path(pool_scratch, sc, "input", id, "-H");
	bool ok = spool_recycle_remove(sc, path) == 0 || errno == ENOENT;
	char why[700] = "";
	if (!ok)
		snprintf(why, sizeof why, "failed to remove %s: %s", path, strerror(errno));
	arena_reset(pool_scratch, mk);   /* err may be in pool_scratch too: written after */
	xbuf_puts(err, why);
	return ok;
}

bool spool_remove_message(const spool_config *sc, const char *id, xbuf *err)
{
	/* Error texts go to e (heap) and then to err: err may be in pool_scratch, reset below. */
	xbuf e;
	xbuf_init(&e, NULL);
	arena_mark mk = arena_getmark(pool_scratch);
	bool ok = true;
	/* -H first: once it is gone the message no longer exists for any reader. */
	static const struct { const char *dir, *suffix; } parts[] = {
		{ "input", "-H" }, { "input", "-D" }, { "input", "-J" }, { "msglog", "" },
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		const char *path = spool_path(pool_scratch, sc, parts[i].dir, id, parts[i].suffix);
		if (unlink(path) != 0 && errno != ENOENT && i < 2) {
			xbuf_printf(&e, "failed to remove %s: %s", path, strerror(errno));
			ok = false;
		}
	}
	const char *dir = spool_dir_of(pool_scratch, sc, "input", id);
	ok = durable_sync_dir(dir, &e) && ok;
	queue_schedule_forget(sc, id);
	arena_reset(pool_scratch, mk);
	xbuf_putsv(err, xbuf_sv(&e));
	xbuf_free(&e);
	return ok;
}
