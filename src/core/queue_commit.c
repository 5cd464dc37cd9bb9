/* The queue runner's removals and Maildir directory group commit (queue_commit.h).
 *
 * Why in the runner: each delivery's flushes wait in sequence, and on a file system mounted
 * with discard each unlink of a file with data waits for the device too. The worker's part of
 * a completed message ends with its -H gone from input/ (removed, or moved to the commit
 * directory); the runner does the rest after handing out the next message, so it overlaps the
 * next delivery, and one fsync of a new/ directory covers every delivery made into it since.
 *
 * Order (docs/architecture.md, "Delivery durability"): the directories are synced before any
 * -H in the commit directory or any -J is removed. A runner killed before that leaves its
 * commit directory; the next runner finds it unlocked and moves each -H back into input/; the
 * message's journal (pending seals, valid during this boot: journal_seal.h) says which
 * recipients were delivered, and the reader syncs before it relies on them. */
#include "core/queue_commit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/deliver.h"
#include "core/queue.h"
#include "core/queue_internal.h"
#include "core/spool_recycle.h"
#include "core/spool_tidy.h"
#include "lib/fdio.h"
#include "lib/log.h"

static void add_local(const spool_config *sc, qcommit *c, const char *id, bool committing, sv dirs);

/* <spool>/commit, or <spool>/<queue>/commit for a named queue: each queue's runners recover
 * only their own queue's messages (a -H moved back must land beside its -D). */
bool qcommit_base(const spool_config *sc, char *base, size_t size)
{
	const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
	return (size_t)snprintf(base, size, "%s%s%s/commit", sc->directory, q ? "/" : "", q ? q : "") < size;
}

/* One record on the committer's pipe: this header, then dirs_len bytes of directories. */
typedef struct commit_rec {
	char id[MSG_ID_LEN];
	uint8_t committing;
	uint32_t dirs_len;
} commit_rec;
#define COMMIT_DIRS_MAX (DIRSYNC_MAX * DIRSYNC_PATH_MAX)

/* How long the committer waits for one more report before it syncs what it has, and how many
 * it gathers at most. With one delivery at a time a report came every 1-2 ms and found the
 * committer idle, so each delivery had its own sync of new/ (a device flush beside the next
 * delivery's flush of its Maildir file: 998 flushes for 500 messages). Waiting a little lets
 * one sync cover several; nothing waits for the committer but the runner's exit, and a report
 * arriving resets the wait, so a run's end is not delayed by more than one wait. */
#define COMMIT_GATHER_MS 3
#define COMMIT_GATHER_MAX 32

/* The committer: gather what is waiting, commit it, repeat; at end of file, the rest. */
static void committer_main(const spool_config *sc, qcommit *c, int fd)
{
	static char dirs[COMMIT_DIRS_MAX];
	for (;;) {
		commit_rec r;
		if (!fd_read_all(fd, &r, sizeof r) || r.dirs_len > sizeof dirs || !fd_read_all(fd, dirs, r.dirs_len))
			break;
		char id[MSG_ID_LEN + 1];
		memcpy(id, r.id, MSG_ID_LEN);
		id[MSG_ID_LEN] = 0;
		add_local(sc, c, id, r.committing != 0, sv_make(dirs, r.dirs_len));
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, c->n < COMMIT_GATHER_MAX ? COMMIT_GATHER_MS : 0) == 0) {
			arena_mark m = arena_getmark(pool_scratch);
			qcommit_flush(sc, c);
			arena_reset(pool_scratch, m);
		}
	}
	qcommit_flush(sc, c);
	_exit(0);
}

static void start_committer(const spool_config *sc, qcommit *c)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		close(p[1]);
		signal(SIGPIPE, SIG_DFL);
		committer_main(sc, c, p[0]);
	}
	close(p[0]);
	c->pipe_fd = p[1];
	c->committer = pid;
}

void qcommit_open(const spool_config *sc, qcommit *c)
{
	*c = (qcommit){ .lock_fd = -1, .pipe_fd = -1 };
	char base[900];
	if (!qcommit_base(sc, base, sizeof base))
		return;
	if (mkdir(base, 0750) != 0 && errno != EEXIST)
		return;
	char dir[sizeof c->dir];
	snprintf(dir, sizeof dir, "%s/%ld", base, (long)getpid());
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return;
	/* The lock: held by the runner (and inherited by its workers) while they live. */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return;
	}
	c->lock_fd = fd;
	memcpy(c->dir, dir, sizeof dir);
	start_committer(sc, c);
}

static void remove_items(const spool_config *sc, qcommit *c, bool synced)
{
	for (size_t i = 0; i < c->n; i++) {
		qcommit_item *it = &c->items[i];
		if (it->committing) {
			if (!synced)
				continue;   /* left for recovery: the next runner moves the -H back */
			const char *path = arena_printf(pool_scratch, "%s/%s-H", c->dir, it->id);
			if (spool_recycle_remove(sc, path) != 0 && errno != ENOENT)
				log_write(LOG_MAIN | LOG_PANIC, "failed to remove %s: %s", path, strerror(errno));
		}
		deliver_remove_rest(sc, it->id);
	}
}

void qcommit_flush(const spool_config *sc, qcommit *c)
{
	if (!c->n)
		return;
	bool synced = true;
	if (c->dirs.n) {
		xbuf err;
		xbuf_init(&err, pool_scratch);
		synced = dirsync_flush(&c->dirs, &err);
		if (!synced)
			log_write(LOG_MAIN | LOG_PANIC, "queue run: %s", xbuf_cstr(&err));
	}
	remove_items(sc, c, synced);
	c->n = 0;   /* if the sync failed, the committing ones stay in the directory for recovery */
}

void qcommit_add(const spool_config *sc, qcommit *c, const char *id, bool committing, sv dirs)
{
	if (c->pipe_fd >= 0) {
		commit_rec r = { .committing = committing, .dirs_len = (uint32_t)(committing ? dirs.len : 0) };
		memcpy(r.id, id, MSG_ID_LEN);
		/* One write per record: the committer, waiting in its read, then wakes once for it
		 * instead of once for the header and again for the directories. */
		static char rec[sizeof r + COMMIT_DIRS_MAX];
		if (r.dirs_len <= COMMIT_DIRS_MAX) {
			memcpy(rec, &r, sizeof r);
			if (r.dirs_len)
				memcpy(rec + sizeof r, dirs.p, r.dirs_len);
			if (fd_write_all(c->pipe_fd, rec, sizeof r + r.dirs_len))
				return;
		}
		/* The committer is gone: from here on the runner does it (a record it got half of is
		 * left as a killed runner leaves it: recovered, or files without -H). */
		close(c->pipe_fd);
		c->pipe_fd = -1;
	}
	add_local(sc, c, id, committing, dirs);
}

static void add_local(const spool_config *sc, qcommit *c, const char *id, bool committing, sv dirs)
{
	if (committing) {
		for (size_t off = 0; off < dirs.len;) {
			const char *nl = memchr(dirs.p + off, '\n', dirs.len - off);
			size_t k = nl ? (size_t)(nl - (dirs.p + off)) : dirs.len - off;
			char d[DIRSYNC_PATH_MAX];
			if (k && k < sizeof d) {
				memcpy(d, dirs.p + off, k);
				d[k] = 0;
				if (!dirsync_add(&c->dirs, d)) {
					/* Full: commit what is there first. */
					qcommit_flush(sc, c);
					(void)dirsync_add(&c->dirs, d);
				}
			}
			off += k + 1;
		}
	}
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		qcommit_item *v = realloc(c->items, nc * sizeof *v);
		if (!v) {
			/* No room to remember it: finish everything now. */
			qcommit_flush(sc, c);
			if (!committing)
				deliver_remove_rest(sc, id);
			return;   /* a committing one stays in the directory for recovery */
		}
		c->items = v;
		c->cap = nc;
	}
	qcommit_item *it = &c->items[c->n++];
	memcpy(it->id, id, MSG_ID_LEN);
	it->id[MSG_ID_LEN] = 0;
	it->committing = committing;
}

void qcommit_close(const spool_config *sc, qcommit *c)
{
	if (c->pipe_fd >= 0) {
		close(c->pipe_fd);
		c->pipe_fd = -1;
		int st = 0;
		while (waitpid(c->committer, &st, 0) < 0 && errno == EINTR)
			;
		/* A committer killed between removing a -H and the rest leaves files without -H. */
		if (WIFSIGNALED(st))
			spool_tidy_request(sc);
	}
	qcommit_flush(sc, c);
	free(c->items);
	c->items = NULL;
	c->n = c->cap = 0;
	if (c->dir[0])
		(void)rmdir(c->dir);   /* not empty: a sync failed, recovery takes it */
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
}

static bool recover_dir(const spool_config *sc, hintsdb *idx, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);   /* its runner (or one of its workers) is alive */
		return false;
	}
	DIR *d = fdopendir(dup(fd));
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);
			if (len != MSG_ID_LEN + 2 || strcmp(e->d_name + MSG_ID_LEN, "-H") != 0 ||
				!spool_valid_id(sv_make(e->d_name, MSG_ID_LEN)))
				continue;
			char id[MSG_ID_LEN + 1];
			memcpy(id, e->d_name, MSG_ID_LEN);
			id[MSG_ID_LEN] = 0;
			const char *from = arena_printf(pool_scratch, "%s/%s", dir, e->d_name);
			const char *to = spool_path(pool_scratch, sc, "input", id, "-H");
			/* Noted as due first: killed between the two, the -H is still here (and noted again
			 * next time); the other way round it would be back but in no run's list. */
			if (idx)
				queue_index_note(idx, id, 0, false, SV_NULL);
			else
				queue_schedule_note(sc, id, 0, false);
			if (rename(from, to) != 0)
				log_write(LOG_MAIN | LOG_PANIC, "queue run: cannot move %s back to %s: %s", from, to, strerror(errno));
		}
		closedir(d);
	}
	(void)rmdir(dir);
	close(fd);
	return true;
}

size_t qcommit_recover(const spool_config *sc, hintsdb *idx)
{
	char base[900];
	if (!qcommit_base(sc, base, sizeof base))
		return 0;
	DIR *d = opendir(base);
	if (!d)
		return 0;
	size_t dead = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		dead += recover_dir(sc, idx, arena_printf(pool_scratch, "%s/%s", base, e->d_name));
	}
	closedir(d);
	return dead;
}
