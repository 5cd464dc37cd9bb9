/* -MG: moving a message to another queue (core/queue_named_move.h).
 *
 * Order: msglog, -D, -J, -H are linked into the target (the -H last: a runner of the target
 * queue sees the message only when it is whole, and finds its -D locked by us, since a hard
 * link shares the inode and its fcntl lock); the target directories are synced; then -H, -J,
 * -D, msglog are unlinked in the old queue and its directories synced. A crash in between
 * leaves the message in both queues, never in neither: the lock stops two deliveries, and a
 * later -MG or removal tidies the other copy. */
#include "core/queue_named_move.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/queue.h"
#include "lib/durable.h"
#include "lib/log.h"

enum { F_MSGLOG, F_DATA, F_JOURNAL, F_HEADER, F_COUNT };
static const struct { const char *subdir, *suffix; bool optional; } files[F_COUNT] = {
	[F_MSGLOG] = { "msglog", "", true },     /* Exim moves a message without one */
	[F_DATA] = { "input", "-D", false },
	[F_JOURNAL] = { "input", "-J", true },
	[F_HEADER] = { "input", "-H", false },
};

static const char *qname(const spool_config *sc)
{
	return sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
}

/* The path as Exim's error text shows it: <spool>/<queue>/<subdir>/<split>/<id><suffix>, empty
 * parts left empty ("<spool>//input//<id>-D" for the default queue, unsplit). */
static const char *exim_path(const spool_config *sc, int f, const char *id)
{
	char split[2] = { sc->split ? id[5] : 0, 0 };
	return arena_printf(pool_scratch, "%s/%s/%s/%s/%s%s", sc->directory,
		qname(sc) ? qname(sc) : "", files[f].subdir, split, id, files[f].suffix);
}

/* The directory a file lives in (created when missing, owned like the spool's). */
static const char *dir_of(const spool_config *sc, int f, const char *id)
{
	const char *p = spool_path(pool_scratch, sc, files[f].subdir, id, "");
	return arena_strndup(pool_scratch, p, (size_t)(strrchr(p, '/') - p));
}

static bool make_dir(const spool_config *sc, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode);
	const char *slash = strrchr(path, '/');
	if (slash && slash != path && !make_dir(sc, arena_strndup(pool_scratch, path, (size_t)(slash - path))))
		return false;
	if (mkdir(path, 0750) != 0)
		return errno == EEXIST;
	if (sc->uid != (uid_t)-1 && chown(path, sc->uid, sc->gid) != 0) { /* best effort, as spool_write */ }
	return true;
}

static void sync_dirs(const spool_config *sc, const char *id)
{
	xbuf err;
	xbuf_init(&err, pool_scratch);
	/* msglog and input (the -D, -J and -H share one directory). */
	bool ok = durable_sync_dir(dir_of(sc, F_MSGLOG, id), &err);
	ok = durable_sync_dir(dir_of(sc, F_HEADER, id), &err) && ok;
	if (!ok)
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
}

static bool header_frozen(const spool_config *sc, const char *id)
{
	arena_mark mk = arena_getmark(pool_msg);
	message m;
	msg_origin o;
	xbuf err;
	xbuf_init(&err, pool_msg);
	bool frozen = spool_read_header(pool_msg, sc, id, &m, &o, &err) && m.frozen;
	arena_reset(pool_msg, mk);
	return frozen;
}

qmove_rc queue_named_move(const spool_config *from, const char *to, const char *id)
{
	xbuf err;
	xbuf_init(&err, pool_scratch);
	int fd = spool_open_locked(from, id, &err);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EACCES)
			return QMOVE_LOCKED;
		log_write(LOG_MAIN, "%s", xbuf_cstr(&err));
		return QMOVE_MISSING;
	}
	arena_mark mk = arena_getmark(pool_scratch);
	spool_config dest = *from;
	dest.queue_name = to && *to ? to : NULL;
	bool frozen = header_frozen(from, id);
	bool linked[F_COUNT] = { false };
	bool ok = true;
	for (int f = 0; f < F_COUNT && ok; f++) {
		const char *src = spool_path(pool_scratch, from, files[f].subdir, id, files[f].suffix);
		const char *dst = spool_path(pool_scratch, &dest, files[f].subdir, id, files[f].suffix);
		make_dir(&dest, dir_of(&dest, f, id));
		if (link(src, dst) == 0) {
			linked[f] = true;
			continue;
		}
		if (errno == ENOENT && files[f].optional && access(src, F_OK) != 0)
			continue;
		log_write(LOG_MAIN | LOG_PANIC, "link(\"%s\", \"%s\") failed while moving message: %s",
			exim_path(from, f, id), exim_path(&dest, f, id), strerror(errno));
		ok = false;
	}
	if (!ok) {
		for (int f = F_COUNT - 1; f >= 0; f--)
			if (linked[f])
				unlink(spool_path(pool_scratch, &dest, files[f].subdir, id, files[f].suffix));
		close(fd);
		arena_reset(pool_scratch, mk);
		return QMOVE_MOVED;
	}
	sync_dirs(&dest, id);
	for (int f = F_COUNT - 1; f >= 0; f--)
		if (linked[f] && unlink(spool_path(pool_scratch, from, files[f].subdir, id, files[f].suffix)) != 0)
			log_write(LOG_MAIN | LOG_PANIC, "unlink(\"%s\") failed while moving message: %s",
				exim_path(from, f, id), strerror(errno));
	sync_dirs(from, id);
	queue_schedule_forget(from, id);
	queue_schedule_note(&dest, id, 0, frozen);
	const char *qf = qname(from), *qt = qname(&dest);
	log_write(LOG_MAIN, "moved from %s%s%sinput, msglog to %s%s%sinput, msglog",
		qf ? "(" : "", qf ? qf : "", qf ? ") " : "", qt ? "(" : "", qt ? qt : "", qt ? ") " : "");
	close(fd);
	arena_reset(pool_scratch, mk);
	return QMOVE_MOVED;
}
