/* Group commit for the spool; see core/spool_commit.h and docs/spool.md (durability).
 *
 * The shared state is one page per spool input directory, mapped MAP_SHARED by every process
 * that commits into that directory:  started = number of the last round begun, done = number of
 * the last round finished, failed = number of the last round whose fsync() failed. Rounds are
 * run one at a time by the holder of an flock on the file, so done only grows and "done >= n"
 * means round n (or a later one) finished. A caller that reads started == s after its rename
 * needs round s + 1: round s may have begun before the rename, round s + 1 cannot have.
 *
 * A round is an fsync() of the input directory: it makes the directory entries (the renamed -H
 * files, and -D) durable; each session makes its own files' content durable with fdatasync, at
 * the same time as the round (spool_write.c, core/spool_integrity.h) or, without a boot id, before
 * its rename. Every directory has its own state file, so a round covers exactly the renames it
 * syncs, also with split_spool_directory and named queues.
 *
 * The flock belongs to the open file description, which fork() shares; so the file is opened
 * again in every process (the pid is remembered) rather than inherited from the daemon.
 */
#include "core/spool_commit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define COMMIT_MAGIC 0x506f7374436d7431ULL /* "PostCmt1" */
#define COMMIT_STATE_SIZE 4096

typedef struct commit_state {
	uint64_t magic;
	uint64_t started;
	uint64_t done;
	uint64_t failed;
	int32_t failed_errno;
	/* Bumped after every round (after the unlock); sessions waiting for a round sleep on it
	 * (a futex in the shared page) instead of queueing on the flock. A file written by an
	 * older build has it zero and never bumped: its waiters' sleeps time out (WAIT_MS). */
	uint32_t round_seq;
	uint32_t sleepers;  /* how many sleep on round_seq: the leader wakes only if any */
} commit_state;

/* A sleeper looks again after this long even without a wake-up (a leader of an older build,
 * or one killed between its unlock and its wake-up). */
#define WAIT_MS 5

static struct {
	pid_t pid;            /* process that opened fd/st/dirfd; 0: not opened */
	char dir[4096];       /* the input directory they belong to */
	int fd;
	int dirfd;            /* that directory, for the rounds' fsync */
	commit_state *st;
	bool unusable;        /* opening the state failed: sync alone in this process */
} cs = { .fd = -1, .dirfd = -1 };

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
	if (cs.dirfd >= 0)
		close(cs.dirfd);
	cs.st = NULL;
	cs.fd = -1;
	cs.dirfd = -1;
	cs.pid = 0;
	cs.unusable = false;
}

/* The state file's name for input directory `dir`: db/postern-dircommit-<dir relative to the
 * spool, '/' written as '+'> ("postern-dircommit-input", "...-input+A", "...-q2+input"). Queue
 * names and split subdirectories contain no '+', so different directories never share a file. */
static bool state_path(const spool_config *sc, const char *dir, char *out, size_t size)
{
	size_t sl = strlen(sc->directory);
	const char *rel = dir;
	if (strncmp(dir, sc->directory, sl) == 0 && dir[sl] == '/')
		rel = dir + sl + 1;
	int n = snprintf(out, size, "%s/db/postern-dircommit-", sc->directory);
	if (n < 0 || (size_t)n >= size)
		return false;
	size_t o = (size_t)n;
	for (const char *p = rel; *p; p++) {
		if (o + 1 >= size)
			return false;
		out[o++] = *p == '/' ? '+' : *p;
	}
	out[o] = 0;
	return true;
}

/* Open the input directory and map its state file for this process; false: the directory
 * itself cannot be opened (nothing can be synced). cs.unusable: sync alone, without sharing. */
static bool open_state(const spool_config *sc, const char *dir)
{
	if (cs.pid == getpid() && strcmp(cs.dir, dir) == 0)
		return true;
	close_state();
	cs.pid = getpid();
	snprintf(cs.dir, sizeof cs.dir, "%s", dir);
	cs.unusable = true;
	cs.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs.dirfd < 0) {
		int e = errno;
		cs.pid = 0;
		errno = e;
		return false;
	}
	char path[4200];
	if (snprintf(path, sizeof path, "%s/db", sc->directory) >= (int)sizeof path)
		return true;
	if (mkdir(path, 0750) == 0 && sc->uid != (uid_t)-1 && chown(path, sc->uid, sc->gid) != 0) {
		/* best effort, as for the other spool directories */
	}
	if (!state_path(sc, dir, path, sizeof path))
		return true;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0)
		return true;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return true;
	}
	if (sc->uid != (uid_t)-1 && st.st_uid != sc->uid && fchown(fd, sc->uid, sc->gid) != 0) {
		/* root created it: without the chown the exim user cannot open it and syncs alone */
	}
	/* Never shrink: another process may have it mapped. Extending fills with zeros. */
	if (st.st_size < COMMIT_STATE_SIZE && ftruncate(fd, COMMIT_STATE_SIZE) != 0) {
		close(fd);
		return true;
	}
	void *p = mmap(NULL, COMMIT_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return true;
	}
	commit_state *s = p;
	uint64_t zero = 0;
	/* A fresh (all zero) file gets its magic; anything else unknown is not ours to use. */
	__atomic_compare_exchange_n(&s->magic, &zero, COMMIT_MAGIC, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->magic, __ATOMIC_SEQ_CST) != COMMIT_MAGIC) {
		munmap(p, COMMIT_STATE_SIZE);
		close(fd);
		return true;
	}
	cs.fd = fd;
	cs.st = s;
	cs.unusable = false;
	return true;
}

static bool sync_alone(xbuf *err)
{
	stats.alone++;
	if (fsync(cs.dirfd) != 0) {
		xbuf_printf(err, "Error syncing spool: %s", strerror(errno));
		return false;
	}
	return true;
}

/* The flock without waiting: 1 taken, 0 another process leads a round, -1 unusable. */
static int try_lock_state(void)
{
	while (flock(cs.fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return -1;
	}
	return 1;
}

/* Sleep until round_seq moves from seen (or WAIT_MS): the round being run may cover us. Why
 * not wait in flock(LOCK_EX) as before: an unlock wakes every process blocked on the flock, one
 * takes it and the others block again, so k waiters cost about k*k/2 wake-ups per round; with
 * 32 sessions on 2 CPUs that made 32 connections slower than 8. */
static void wait_round(commit_state *s, uint32_t seen)
{
	__atomic_add_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
	struct timespec ts = { 0, WAIT_MS * 1000000L };
	/* Shared (not FUTEX_PRIVATE): the page is mapped by every session process. */
	syscall(SYS_futex, &s->round_seq, FUTEX_WAIT, seen, &ts, NULL, 0);
	__atomic_sub_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
}

static void end_round(commit_state *s, bool ran)
{
	flock(cs.fd, LOCK_UN);
	if (!ran)
		return;
	/* After the unlock: a sleeper whose rename came after this round began must find the
	 * lock free when it wakes, to lead the next one. */
	__atomic_add_fetch(&s->round_seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->sleepers, __ATOMIC_SEQ_CST) > 0)
		syscall(SYS_futex, &s->round_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

bool spool_group_sync(const spool_config *sc, const char *dir, xbuf *err)
{
	stats.calls++;
	if (!open_state(sc, dir)) {
		xbuf_printf(err, "Error syncing spool: cannot open %s: %s", dir, strerror(errno));
		return false;
	}
	if (cs.unusable)
		return sync_alone(err);
	commit_state *s = cs.st;
	/* This process's rename into the directory is done (the system call has returned); a
	 * round that starts from now on covers it. */
	uint64_t need = __atomic_load_n(&s->started, __ATOMIC_SEQ_CST) + 1;
	bool led = false;
	while (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) < need) {
		/* Read before the try: a round ending after it bumps round_seq, so the sleep below
		 * returns at once instead of missing its wake-up. */
		uint32_t seen = __atomic_load_n(&s->round_seq, __ATOMIC_SEQ_CST);
		int got = try_lock_state();
		if (got < 0)
			return sync_alone(err);
		if (got == 0) {
			if (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) < need)
				wait_round(s, seen);
			continue;
		}
		bool ran = false;
		if (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) < need) {
			/* Leader: every process that read started before this increment is covered. */
			uint64_t round = __atomic_add_fetch(&s->started, 1, __ATOMIC_SEQ_CST);
			int rc = fsync(cs.dirfd);
			int e = errno;
			if (rc != 0) {
				__atomic_store_n(&s->failed_errno, e, __ATOMIC_SEQ_CST);
				__atomic_store_n(&s->failed, round, __ATOMIC_SEQ_CST);
			}
			__atomic_store_n(&s->done, round, __ATOMIC_SEQ_CST);
			stats.led++;
			led = ran = true;
		}
		end_round(s, ran);
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
