/* The -J journal: the addresses a delivery has finished, appended once per transport batch (by
 * the transport child, before it reports; by the delivery process only for what the child could
 * not journal), before -H is rewritten or removed. If the process dies between the two, the
 * next delivery (and -bp) read -J into the non-recipients (spool_read_journal), so nothing is
 * delivered twice. Each batch goes out in one write() with its seal (core/journal_seal.h), so
 * a crash cannot leave a shorter but valid-looking address, and a stale block after a power
 * loss counts for nothing. Not synced: a kill -9 needs only the page cache, and a journal lost
 * in a power loss means a second delivery, never a lost one (the mailbox and its directory are
 * synced before the line is written). docs/architecture.md, "Delivery durability". */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/deliver_internal.h"
#include "core/dirsync.h"
#include "core/journal_seal.h"
#include "core/spool_recycle.h"
#include "lib/log.h"

int djournal_open(const spool_config *sc, const char *id, xbuf *err)
{
	const char *path = spool_path(pool_scratch, sc, "input", id, "-J");
	mode_t mode = sc->mode ? sc->mode : 0640;
	/* A recycled file (core/spool_recycle.h) when there is no journal yet; one that exists
	 * (an earlier attempt's) makes the take fail and is appended to. */
	int fd = -1;
	if (!sc->split && !(sc->queue_name && *sc->queue_name) && sc->directory) {
		const char *input = arena_printf(pool_scratch, "%s/input", sc->directory);
		fd = spool_recycle_take(input, path, O_WRONLY | O_APPEND, mode,
			geteuid() == 0 ? sc->uid : (uid_t)-1, geteuid() == 0 ? sc->gid : (gid_t)-1);
	}
	if (fd < 0) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
		/* The Exim user's, as every spool file (and as Exim makes its journals): a root-owned
		 * journal, once emptied into the pool, was no use to the next journal's take (which
		 * wants the Exim user's files) and was unlinked there. Best effort: the journal
		 * works either way. */
		struct stat st;
		if (fd >= 0 && geteuid() == 0 && sc->uid != (uid_t)-1 && fstat(fd, &st) == 0
			&& (st.st_uid != sc->uid || st.st_gid != sc->gid) && fchown(fd, sc->uid, sc->gid) != 0)
			log_write(LOG_MAIN, "cannot give %s to the Exim user: %s", path, strerror(errno));
	}
	if (fd < 0)
		xbuf_printf(err, "failed to open %s: %s", path, strerror(errno));
	return fd;
}

bool djournal_write_fd(int fd, const sv *addrs, size_t n, xbuf *err)
{
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		xbuf line;
		xbuf_init(&line, pool_scratch);
		xbuf_putsv(&line, addrs[i]);
		xbuf_putc(&line, '\n');
		ssize_t w = write(fd, line.p, line.len);
		if (w != (ssize_t)line.len) {
			xbuf_printf(err, "failed to write the journal: %s", w < 0 ? strerror(errno) : "short write");
			ok = false;
		}
	}
	/* fdatasync: the size change is part of the data it writes; the times are not needed. */
	if (ok && fdatasync(fd) != 0) {
		xbuf_printf(err, "failed to fsync the journal: %s", strerror(errno));
		ok = false;
	}
	return ok;
}

bool djournal_write_sealed(int fd, const char *id, const sv *addrs, size_t n, xbuf *err)
{
	xbuf batch;
	xbuf_init(&batch, pool_scratch);
	for (size_t i = 0; i < n; i++) {
		xbuf_putsv(&batch, addrs[i]);
		xbuf_putc(&batch, '\n');
	}
	/* Sealed as pending while a Maildir directory of this delivery is left unsynced for the
	 * queue runner (core/dirsync.h): valid until the next boot only. */
	if (dirsync_pending.n) {
		/* The directories go with the batch, so a reader that counts it syncs just those
		 * (journal_sync_pending) instead of the whole system. */
		const char *dirs[DIRSYNC_MAX];
		for (size_t i = 0; i < dirsync_pending.n; i++)
			dirs[i] = dirsync_pending.path[i];
		journal_seal_pending_dirs(&batch, dirs, dirsync_pending.n);
		journal_seal_pending(&batch, id, xbuf_sv(&batch));
	} else {
		journal_seal(&batch, id, xbuf_sv(&batch));
	}
	ssize_t w = write(fd, batch.p, batch.len);
	if (w != (ssize_t)batch.len) {
		xbuf_printf(err, "failed to write the journal: %s", w < 0 ? strerror(errno) : "short write");
		return false;
	}
	return true;
}

bool djournal_append(const spool_config *sc, const char *id, const sv *addrs, size_t n, xbuf *err)
{
	if (n == 0)
		return true;
	int fd = djournal_open(sc, id, err);
	if (fd < 0)
		return false;
	bool ok = djournal_write_sealed(fd, id, addrs, n, err);
	close(fd);
	return ok;
}

void djournal_remove(const spool_config *sc, const char *id)
{
	/* -H now records every address of the journal: its content is needed no more. */
	spool_recycle_remove_emptied(sc, spool_path(pool_scratch, sc, "input", id, "-J"));
}

void dspool_remove_rest(const spool_config *sc, const char *id)
{
	/* -H is gone already: the message no longer exists for any reader, and a power loss that
	 * loses these unlinks brings back at worst files nobody reads (-D without -H) or a message
	 * whose synced -J lists every recipient as delivered. So no directory sync here. */
	static const struct { const char *dir, *suffix; } parts[] = {
		{ "input", "-D" }, { "input", "-J" }, { "msglog", "" },
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		const char *path = spool_path(pool_scratch, sc, parts[i].dir, id, parts[i].suffix);
		/* Nothing here frees a block: on a file system mounted with discard each freed block
		 * is discarded at once (0.6-0.7 ms here), and a queue runner's committer, which does
		 * this for every message its workers deliver, was the run's bottleneck at three
		 * discards per message (bench/deliver/README.md, session 15). The journal is emptied
		 * (the next journal, which appends, takes only emptied files): it was never synced, so
		 * its blocks are seldom on disk yet and emptying it frees none. -D and msglog go in
		 * with their content, which the spare that takes them overwrites (a file of more than
		 * one block is emptied by that taker, or unlinked when the pool has no room:
		 * core/spool_recycle.h). */
		int rc = i == 1 ? spool_recycle_remove_emptied(sc, path) : spool_recycle_remove(sc, path);
		if (rc != 0 && errno != ENOENT && i == 0)
			log_write(LOG_MAIN | LOG_PANIC, "failed to remove %s: %s", path, strerror(errno));
	}
}
