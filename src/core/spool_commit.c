/* Group commit for the spool; see core/spool_commit.h and docs/spool.md (durability).
 *
 * The shared state is one page, mapped MAP_SHARED by every process that commits into the same
 * spool:  started = number of the last round begun, done = number of the last round finished,
 * failed = number of the last round whose syncfs() failed. Rounds are run one at a time by the
 * holder of an flock on the file, so done only grows and "done >= n" means round n (or a later
 * one) finished. A caller that reads started == s after its writes needs round s + 1: round s
 * may have begun before the writes, round s + 1 cannot have.
 *
 * The flock belongs to the open file description, which fork() shares; so the file is opened
 * again in every process (the pid is remembered) rather than inherited from the daemon.
 */
#include "core/spool_commit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMMIT_MAGIC 0x506f7374436d7431ULL /* "PostCmt1" */
#define COMMIT_STATE_SIZE 4096

typedef struct commit_state {
	uint64_t magic;
	uint64_t started;
	uint64_t done;
	uint64_t failed;
	int32_t failed_errno;
} commit_state;

static struct {
	pid_t pid;            /* process that opened fd/st; 0: not opened */
	char dir[4096];       /* spool directory it belongs to */
	int fd;
	commit_state *st;
	bool unusable;        /* opening failed: sync alone in this process */
} cs;

static spool_commit_stats stats;

spool_commit_stats spool_commit_get_stats(void)
{
	return stats;
}

static void close_state(void)
{
	/* An fd inherited from the parent is shared with it: closing our copy is harmless (the
	 * flock is released only by LOCK_UN or the last close). */
	if (cs.st) {
		munmap(cs.st, COMMIT_STATE_SIZE);
		close(cs.fd);
	}
	cs.st = NULL;
	cs.fd = -1;
	cs.pid = 0;
	cs.unusable = false;
}

/* Open and map <spool>/db/postern-commit for this process; false: use no shared state. */
static bool open_state(const spool_config *sc)
{
	if (cs.pid == getpid() && strcmp(cs.dir, sc->directory) == 0)
		return !cs.unusable;
	close_state();
	cs.pid = getpid();
	snprintf(cs.dir, sizeof cs.dir, "%s", sc->directory);
	cs.unusable = true;
	char path[4200];
	if (snprintf(path, sizeof path, "%s/db", sc->directory) >= (int)sizeof path)
		return false;
	if (mkdir(path, 0750) == 0 && sc->uid != (uid_t)-1 && chown(path, sc->uid, sc->gid) != 0) {
		/* best effort, as for the other spool directories */
	}
	snprintf(path, sizeof path, "%s/db/postern-commit", sc->directory);
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0)
		return false;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	if (sc->uid != (uid_t)-1 && st.st_uid != sc->uid && fchown(fd, sc->uid, sc->gid) != 0) {
		/* root created it: without the chown the exim user cannot open it and syncs alone */
	}
	/* Never shrink: another process may have it mapped. Extending fills with zeros. */
	if (st.st_size < COMMIT_STATE_SIZE && ftruncate(fd, COMMIT_STATE_SIZE) != 0) {
		close(fd);
		return false;
	}
	void *p = mmap(NULL, COMMIT_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return false;
	}
	commit_state *s = p;
	uint64_t zero = 0;
	/* A fresh (all zero) file gets its magic; anything else unknown is not ours to use. */
	__atomic_compare_exchange_n(&s->magic, &zero, COMMIT_MAGIC, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->magic, __ATOMIC_SEQ_CST) != COMMIT_MAGIC) {
		munmap(p, COMMIT_STATE_SIZE);
		close(fd);
		return false;
	}
	cs.fd = fd;
	cs.st = s;
	cs.unusable = false;
	return true;
}

static bool sync_alone(int fd, xbuf *err)
{
	stats.alone++;
	if (syncfs(fd) != 0) {
		xbuf_printf(err, "Error syncing spool: %s", strerror(errno));
		return false;
	}
	return true;
}

static bool lock_state(void)
{
	while (flock(cs.fd, LOCK_EX) != 0)
		if (errno != EINTR)
			return false;
	return true;
}

bool spool_group_sync(const spool_config *sc, int fd, xbuf *err)
{
	stats.calls++;
	if (!open_state(sc))
		return sync_alone(fd, err);
	commit_state *s = cs.st;
	/* Everything this process wrote, renamed or created is done (system calls have returned);
	 * a round that starts from now on covers it. */
	uint64_t need = __atomic_load_n(&s->started, __ATOMIC_SEQ_CST) + 1;
	bool led = false;
	while (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) < need) {
		if (!lock_state())
			return sync_alone(fd, err);
		if (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) < need) {
			/* Leader: every process that read started before this increment is covered. */
			uint64_t round = __atomic_add_fetch(&s->started, 1, __ATOMIC_SEQ_CST);
			int rc = syncfs(fd);
			int e = errno;
			if (rc != 0) {
				__atomic_store_n(&s->failed_errno, e, __ATOMIC_SEQ_CST);
				__atomic_store_n(&s->failed, round, __ATOMIC_SEQ_CST);
			}
			__atomic_store_n(&s->done, round, __ATOMIC_SEQ_CST);
			stats.led++;
			led = true;
		}
		flock(cs.fd, LOCK_UN);
	}
	if (!led)
		stats.shared++;
	/* Any failure from our round on means our files may not be on disk: a later round's
	 * success does not prove it (the error was reported once, to that round's leader). */
	if (__atomic_load_n(&s->failed, __ATOMIC_SEQ_CST) >= need) {
		xbuf_printf(err, "Error syncing spool: %s",
			strerror(__atomic_load_n(&s->failed_errno, __ATOMIC_SEQ_CST)));
		return false;
	}
	return true;
}
