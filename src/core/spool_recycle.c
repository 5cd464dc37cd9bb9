/* Recycled spool files; see core/spool_recycle.h for why and the rules. */
#include "core/spool_recycle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/priv.h"

#define POOL_NAME ".postern-free"
#define PUT_TRIES 4    /* slots tried before the file is simply unlinked */
#define TAKE_TRIES 8   /* entries tried before the caller creates a new file */

static spool_recycle_stats stats;
static unsigned put_turn;

/* Whether this process's last put of each kind ([0] emptied, [1] with content, [2] with content
 * of one block, which has many more slots) found every
 * slot it tried taken, and how many puts have gone straight to unlink since. A queue run's
 * committer puts four files per message and nothing takes them out while no message arrives:
 * with the pool full, each put cost four failed renames before its unlink (13 renames per
 * message, 8% of a 2 KB queue run's CPU). While the pool is full only every FULL_RETRY-th put
 * tries it again (one slot), so that room made by other processes' takes is found again soon;
 * this process's own takes and expiry clear the mark at once. */
#define FULL_RETRY 8
static struct {
	pid_t pid; /* whose: a forked child starts afresh */
	bool full[3];
	unsigned skipped[3];
} fullness;

spool_recycle_stats spool_recycle_get_stats(void)
{
	return stats;
}

static void remember_emptied(pid_t me, const char *input_dir, unsigned slot);

static int rename_noreplace(int odir, const char *from, const char *to)
{
	return renameat2(odir, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

/* Into a slot of the pool: "<n>" for a file with its content, "e<n>" for one emptied by its
 * remover (spool_recycle_remove_emptied), which a journal takes first. */
static int put(const char *input_dir, const char *path, bool emptied)
{
	char slot[4400];
	if (!input_dir || !*input_dir)
		return unlink(path);
	/* Start somewhere else in every process and call, so that concurrent removers rarely
	 * try the same slot. */
	pid_t me = getpid();
	unsigned slots = SPOOL_RECYCLE_EMPTIED_SLOTS;
	int kind = 0;
	if (!emptied) {
		/* One block or less: any of the many small slots (core/spool_recycle.h). */
		struct stat st;
		bool small = lstat(path, &st) == 0 && S_ISREG(st.st_mode)
			&& st.st_size <= (st.st_blksize > 0 ? st.st_blksize : 4096);
		slots = small ? SPOOL_RECYCLE_SMALL_SLOTS : SPOOL_RECYCLE_SLOTS;
		kind = small ? 2 : 1;
	}
	/* A small file goes into the slots beyond the SPOOL_RECYCLE_SLOTS that can hold files of any
	 * size, so that one-block files never crowd out a larger one (whose unlink would cost a
	 * discard per block), and a put's tries never all land on those 64 when they are full. */
	unsigned first = kind == 2 ? SPOOL_RECYCLE_SLOTS : 0;
	slots -= first;
	unsigned start = ((unsigned)me * 31u + put_turn++ * 7u) % slots;
	if (fullness.pid != me) {
		memset(&fullness, 0, sizeof fullness);
		fullness.pid = me;
	}
	int tries = PUT_TRIES;
	if (fullness.full[kind]) {
		if (++fullness.skipped[kind] < FULL_RETRY) {
			stats.put_full++;
			return unlink(path);
		}
		fullness.skipped[kind] = 0;
		tries = 1;
	}
	bool made = false;
	for (int t = 0; t < tries; t++) {
		unsigned n = first + (start + (unsigned)t * 17u) % slots;
		if ((size_t)snprintf(slot, sizeof slot, "%s/" POOL_NAME "/%s%u", input_dir, emptied ? "e" : "", n)
			>= sizeof slot)
			break;
		if (rename_noreplace(AT_FDCWD, path, slot) == 0) {
			stats.put++;
			fullness.full[kind] = false;
			if (emptied)
				remember_emptied(me, input_dir, n);
			return 0;
		}
		if (errno == EEXIST) {
			if (t == tries - 1)
				fullness.full[kind] = true;
			continue;
		}
		if (errno != ENOENT)
			break; /* another file system, no permission...: unlinked below */
		if (made) {
			errno = ENOENT; /* the pool is there: the file was not */
			return -1;
		}
		/* The source is gone, or the pool does not exist yet (or did not when we tried:
		 * another process may be making it this moment). Either way, try once more with
		 * the pool certainly there. */
		char pool[4300];
		snprintf(pool, sizeof pool, "%s/" POOL_NAME, input_dir);
		if (mkdir(pool, 0750) == 0)
			priv_give_to_exim(pool);
		else if (errno != EEXIST)
			break;
		made = true;
		t--; /* the same slot again, now that the pool exists */
	}
	stats.put_full++;
	return unlink(path);
}

int spool_recycle_remove_in(const char *input_dir, const char *path)
{
	return put(input_dir, path, false);
}

static int remove_as(const spool_config *sc, const char *path, bool empty)
{
	if (!sc || !sc->directory || sc->split || (sc->queue_name && *sc->queue_name))
		return unlink(path);
	char input[4200];
	if ((size_t)snprintf(input, sizeof input, "%s/input", sc->directory) >= sizeof input)
		return unlink(path);
	bool emptied = false;
	if (empty) {
		int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 && errno == ENOENT)
			return -1;
		/* Under its own name, before the rename: a file in the pool is never written to by
		 * anyone but its taker. Failing that, it goes in with its content, as any other. */
		struct stat st;
		emptied = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1
			&& (st.st_size == 0 || ftruncate(fd, 0) == 0);
		if (fd >= 0)
			close(fd);
	}
	return put(input, path, emptied);
}

int spool_recycle_remove(const spool_config *sc, const char *path)
{
	return remove_as(sc, path, false);
}

int spool_recycle_remove_emptied(const spool_config *sc, const char *path)
{
	return remove_as(sc, path, true);
}

/* A file just renamed to dest from the pool: open it, make sure it is what the pool should
 * hold (a plain file with one name, ours), then empty it (stale NULL) or, for a caller that
 * overwrites it from offset 0 and cuts it to its final length itself, empty it only when it
 * is longer than one block (*stale: the old bytes left). -1 (and dest removed) otherwise. */
static int adopt(const char *dest, int flags, mode_t mode, uid_t uid, gid_t gid, off_t *stale)
{
	int fd = open(dest, (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1
		&& (uid == (uid_t)-1 ? st.st_uid == geteuid() : st.st_uid == uid && st.st_gid == gid);
	/* A process that still has the file locked (a delivery keeps its -D locked until it
	 * exits, after the removal) still has it open: not ours to reuse yet. F_GETLK only tests
	 * (one call; a lock taken and let go cost two); the caller takes its own where it needs one. */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	ok = ok && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK; /* a test, nothing taken */
	/* Emptied before anything is written: nothing of the old message can stay in the new one.
	 * A shrink that frees blocks costs 1-4 ms on a discard-mounted file system (the blocks are
	 * discarded at once), one within the last block 0.01 ms (docs/spool.md, "Recycled files"):
	 * a file of at most one block is kept as it is for a caller that overwrites it, so its
	 * final cut never frees a block; a longer one is emptied here, by the taker (a session's
	 * helper thread while the client sends RCPT and DATA), as before. */
	off_t keep = 0;
	if (ok && stale) {
		keep = st.st_size <= (st.st_blksize > 0 ? st.st_blksize : 4096) ? st.st_size : 0;
		*stale = keep;
	}
	ok = ok && (keep == st.st_size || ftruncate(fd, keep) == 0)
		&& ((st.st_mode & 07777) == mode || fchmod(fd, mode) == 0)
		&& fcntl(fd, F_SETFL, flags & ~(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_NONBLOCK)) == 0;
	if (ok)
		return fd;
	if (fd >= 0)
		close(fd);
	unlink(dest);
	return -1;
}

/* The pool's names as this process last listed them. A take used to open and read the pool
 * directory each time (three times per connection: its spare files), which cost about 7% of a
 * connection's CPU; now a process lists it once and takes the names one after the other, and
 * lists it again only when its names run out or turn out to be taken (by other processes) or
 * when it has none of the kind it prefers. A name that is gone costs one failed rename: the
 * renames without replacement, not the listing, decide who gets a file, as before. */
typedef struct name_list {
	uint16_t slot[SPOOL_RECYCLE_LIST];
	int n, next; /* slot[next..n-1] not tried yet */
} name_list;

static struct {
	pid_t pid;         /* whose listing: a forked child lists for itself */
	char pool[4300];
	name_list kind[2]; /* [0] emptied ("e<n>"), [1] with content ("<n>") */
	unsigned journal_skip; /* journal takes left that create instead of listing (FEW_EMPTIED) */
	off_t resume;          /* where the next listing starts (a directory position; 0: the start) */
	/* The pool's modification time when a listing found it empty (empty_seen). A spool that only
	 * receives (queue_only) soon has an empty pool (the spares of retired idle processes are
	 * taken at once), and each spare's take then opened and read it again: an open, two
	 * getdents64 and a close, three times per message (strace, bench/accept/README.md session
	 * 16). Every put renames a file into the pool, which changes its modification time (with a
	 * fine-grained time once it has been looked at: Linux 6.13's multigrain timestamps), so one
	 * stat() tells whether it can still be empty. */
	bool empty_seen;
	struct timespec empty_mtime;
} listing;

/* A queue run's workers take one emptied file per message and its committer puts one back (the
 * -J) some deliveries later; with few in the pool, nearly every take found its listing used up
 * and read the pool again, which then holds thousands of files with content (two listings of
 * up to 1,024 names per message, more CPU than the discards saved). When a listing finds fewer
 * than FEW_EMPTIED emptied names, the next FEW_EMPTIED journal takes of this process give
 * nothing (the caller creates the journal): each journal so made joins the emptied files when
 * its message ends, so the pool soon holds enough for a listing to serve several takes. */
#define FEW_EMPTIED 8

/* An emptied file this process has just put: its next journal tries that name first. A delivery
 * worker ends a message's -J and takes the next message's -J from the pool; without this, every
 * take found the names of its last listing gone (the worker's own emptied file was put after
 * it) and read the pool again (five system calls per delivery). Another process may take the
 * file first: one failed rename, as for any listed name. */
static void remember_emptied(pid_t me, const char *input_dir, unsigned slot)
{
	char pool[4300];
	if (listing.pid != me || (size_t)snprintf(pool, sizeof pool, "%s/" POOL_NAME, input_dir) >= sizeof pool
		|| strcmp(listing.pool, pool) != 0)
		return;
	name_list *l = &listing.kind[0];
	for (int i = l->next; i < l->n; i++)
		if (l->slot[i] == slot)
			return;
	if (l->next > 0)
		l->slot[--l->next] = (uint16_t)slot;
	else if (l->n < SPOOL_RECYCLE_LIST)
		l->slot[l->n++] = (uint16_t)slot;
}

/* A pool name's slot number and kind; false for anything put() never makes. */
static bool parse_slot(const char *name, int *kind, unsigned *slot)
{
	*kind = name[0] == 'e' ? 0 : 1;
	const char *p = name + (*kind == 0);
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1]))
		return false;
	unsigned v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
		if (v >= (*kind == 0 ? SPOOL_RECYCLE_EMPTIED_SLOTS : SPOOL_RECYCLE_SMALL_SLOTS))
			return false;
	}
	*slot = v;
	return true;
}

/* (Re)list the pool. Each process starts at its own place in the list, so that processes
 * listing at the same moment seldom try the same names. Reading stops at SPOOL_RECYCLE_LIST
 * names of the kind wanted (or four times as many entries): the pool can hold thousands after a
 * queue run, and a session that takes three files need not read them all.
 *
 * A listing goes on where this process's last one stopped (the directory position of the last
 * entry read), and from the start once the end is reached. Every listing used to read the pool
 * from its start: with 32 sessions taking files and workers putting them back all over the
 * pool, every session listed the same first names, took them from each other (1.3 failed
 * renames per relayed message at 32 connections) and listed again; the rest of the pool was
 * listed by nobody (bench/relay/README.md, session 15). getdents64 with a small buffer: a
 * readdir() buffer of 32 KB made the kernel read about 1,000 entries per listing, however few
 * were used. False: no pool directory. */
static bool list_pool(const char *pool, int want)
{
	int fd = open(pool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* On the heap: a session's helper thread, which takes its spares, has a 64 KB stack. */
	enum { BUF = 8192 };
	char *buf = malloc(BUF);
	if (!buf) {
		close(fd);
		return false;
	}
	stats.listed++;
	listing.kind[0].n = listing.kind[1].n = 0;
	/* Before reading: a put during the reading changes it, and the next take reads again. */
	struct stat dst;
	bool have_mtime = fstat(fd, &dst) == 0;
	uint16_t got[2][SPOOL_RECYCLE_LIST];
	off_t from = listing.resume;
	if (from != 0 && lseek(fd, from, SEEK_SET) != from)
		from = lseek(fd, 0, SEEK_SET) == 0 ? 0 : -1;
	bool wrapped = from == 0, done = from < 0;
	off_t next = 0;
	int read = 0;
	/* Names already listed, for a listing that went on from the start after the end. */
	uint8_t seen[2][(SPOOL_RECYCLE_SMALL_SLOTS > SPOOL_RECYCLE_EMPTIED_SLOTS ? SPOOL_RECYCLE_SMALL_SLOTS
		: SPOOL_RECYCLE_EMPTIED_SLOTS) / 8];
	memset(seen, 0, sizeof seen);
	while (!done) {
		ssize_t len = getdents64(fd, buf, BUF);
		if (len <= 0) {
			/* The end (or an error): from the start once, if this listing began further on. */
			next = 0;
			if (len < 0 || wrapped || lseek(fd, 0, SEEK_SET) != 0)
				break;
			wrapped = true;
			continue;
		}
		for (ssize_t off = 0; off < len;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf + off);
			off += e->d_reclen;
			next = e->d_off;
			int k;
			unsigned slot;
			if (parse_slot(e->d_name, &k, &slot) && listing.kind[k].n < SPOOL_RECYCLE_LIST
				&& !(seen[k][slot / 8] & (1u << (slot % 8)))) {
				seen[k][slot / 8] |= (uint8_t)(1u << (slot % 8));
				got[k][listing.kind[k].n++] = (uint16_t)slot;
			}
			if (listing.kind[want].n >= SPOOL_RECYCLE_LIST || ++read >= 4 * SPOOL_RECYCLE_LIST) {
				done = true;
				break;
			}
		}
	}
	close(fd);
	free(buf);
	listing.empty_seen = have_mtime && listing.kind[0].n == 0 && listing.kind[1].n == 0;
	if (listing.empty_seen)
		listing.empty_mtime = dst.st_mtim;
	listing.resume = next;
	for (int k = 0; k < 2; k++) {
		name_list *l = &listing.kind[k];
		int start = l->n ? (int)((unsigned)getpid() % (unsigned)l->n) : 0;
		for (int i = 0; i < l->n; i++)
			l->slot[i] = got[k][(start + i) % l->n];
		l->next = 0;
	}
	return true;
}

static int take(const char *input_dir, const char *dest, int flags, mode_t mode, uid_t uid, gid_t gid, off_t *stale)
{
	char pool[4300];
	if (!input_dir || (size_t)snprintf(pool, sizeof pool, "%s/" POOL_NAME, input_dir) >= sizeof pool)
		return -1;
	if (listing.pid != getpid() || strcmp(listing.pool, pool) != 0) {
		listing.pid = getpid();
		memcpy(listing.pool, pool, strlen(pool) + 1);
		listing.kind[0].n = listing.kind[0].next = listing.kind[1].n = listing.kind[1].next = 0;
		listing.journal_skip = 0;
		listing.resume = 0;
		listing.empty_seen = false;
	}
	/* A journal (stale NULL: it must be empty) takes only an emptied file ("e<n>"): emptying
	 * one with content would free its block on the delivery's path (a discard); a spare, which
	 * is overwritten anyway, takes the others first and leaves the emptied ones to the journals. */
	int want = stale == NULL ? 0 : 1;
	if (listing.empty_seen) {
		struct stat st;
		if (stat(pool, &st) == 0 && st.st_mtim.tv_sec == listing.empty_mtime.tv_sec
			&& st.st_mtim.tv_nsec == listing.empty_mtime.tv_nsec) {
			stats.take_empty++; /* nothing was put since it was found empty */
			return -1;
		}
		listing.empty_seen = false;
	}
	bool listed = false;
	int fd = -1, tries = 0, gone = 0;
	if (want == 0 && listing.kind[0].next == listing.kind[0].n && listing.journal_skip > 0) {
		listing.journal_skip--;
		stats.take_empty++;
		return -1;
	}
	while (fd < 0 && tries < TAKE_TRIES) {
		/* Listed again (once per take) when no name of the wanted kind is left, or when two
		 * names in a row were gone: the listing is out of date. */
		if (!listed && (listing.kind[want].next == listing.kind[want].n || gone >= 2)) {
			if (!list_pool(pool, want))
				break;
			listed = true;
			if (want == 0 && listing.kind[0].n < FEW_EMPTIED)
				listing.journal_skip = FEW_EMPTIED;
		}
		name_list *l = &listing.kind[want];
		if (l->next == l->n && want == 1)
			l = &listing.kind[0];
		if (l->next == l->n)
			break;
		char from[4400];
		snprintf(from, sizeof from, "%s/%s%u", pool, l == &listing.kind[0] ? "e" : "", l->slot[l->next++]);
		tries++;
		if (rename_noreplace(AT_FDCWD, from, dest) == 0) {
			fd = adopt(dest, flags, mode, uid, gid, stale);
			gone = 0;
		} else if (errno == ENOENT) { /* another process took it first */
			gone++;
		} else {
			break; /* dest exists, or worse: the caller's usual path decides */
		}
	}
	if (fd >= 0) {
		stats.taken++;
		fullness.full[0] = fullness.full[1] = fullness.full[2] = false; /* room made by this process */
	} else {
		stats.take_empty++;
	}
	return fd;
}

int spool_recycle_take(const char *input_dir, const char *dest, int flags, mode_t mode, uid_t uid, gid_t gid)
{
	return take(input_dir, dest, flags, mode, uid, gid, NULL);
}

int spool_recycle_take_stale(const char *input_dir, const char *dest, int flags, mode_t mode, uid_t uid, gid_t gid,
	off_t *stale)
{
	*stale = 0;
	return take(input_dir, dest, flags & ~O_APPEND, mode, uid, gid, stale);
}

bool spool_recycle_cut(int fd, off_t *stale, off_t len)
{
	if (*stale > len && ftruncate(fd, len) != 0)
		return false;
	*stale = 0;
	return true;
}

void spool_recycle_expire(const spool_config *sc, time_t max_age)
{
	if (!sc || !sc->directory)
		return;
	char pool[4300];
	if ((size_t)snprintf(pool, sizeof pool, "%s/input/" POOL_NAME, sc->directory) >= sizeof pool)
		return;
	DIR *d = opendir(pool);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		/* ctime: when the file went into the pool (the rename), not when it was written. */
		if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
			&& (now - st.st_ctime >= max_age || st.st_ctime > now))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	fullness.full[0] = fullness.full[1] = fullness.full[2] = false;
}
