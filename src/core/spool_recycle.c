/* Recycled spool files; see core/spool_recycle.h for why and the rules. */
#include "core/spool_recycle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

spool_recycle_stats spool_recycle_get_stats(void)
{
	return stats;
}

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
	unsigned start = ((unsigned)getpid() * 31u + put_turn++ * 7u) % SPOOL_RECYCLE_SLOTS;
	bool made = false;
	for (int t = 0; t < PUT_TRIES; t++) {
		unsigned n = (start + (unsigned)t * 17u) % SPOOL_RECYCLE_SLOTS;
		if ((size_t)snprintf(slot, sizeof slot, "%s/" POOL_NAME "/%s%u", input_dir, emptied ? "e" : "", n)
			>= sizeof slot)
			break;
		if (rename_noreplace(AT_FDCWD, path, slot) == 0) {
			stats.put++;
			return 0;
		}
		if (errno == EEXIST)
			continue;
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
	 * exits, after the removal) still has it open: not ours to reuse yet. The probe's lock
	 * is let go at once; the caller takes its own where it needs one. */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	ok = ok && fcntl(fd, F_SETLK, &fl) == 0;
	if (ok) {
		fl.l_type = F_UNLCK;
		fcntl(fd, F_SETLK, &fl);
	}
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
		&& fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0;
	if (ok)
		return fd;
	if (fd >= 0)
		close(fd);
	unlink(dest);
	return -1;
}

static int take(const char *input_dir, const char *dest, int flags, mode_t mode, uid_t uid, gid_t gid, off_t *stale)
{
	char pool[4300];
	if (!input_dir || (size_t)snprintf(pool, sizeof pool, "%s/" POOL_NAME, input_dir) >= sizeof pool)
		return -1;
	DIR *d = opendir(pool);
	if (!d) {
		stats.take_empty++;
		return -1;
	}
	/* A journal (stale NULL: it must be empty) takes an emptied file ("e<n>") first, so that
	 * it need not free blocks itself; a spare, which is overwritten anyway, takes the others
	 * first and leaves the emptied ones to the journals. */
	char names[2][TAKE_TRIES][16];
	int count[2] = { 0, 0 };
	struct dirent *e;
	while ((count[0] < TAKE_TRIES || count[1] < TAKE_TRIES) && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof names[0][0])
			continue;
		int want = (e->d_name[0] == 'e') == (stale == NULL) ? 0 : 1;
		if (count[want] < TAKE_TRIES)
			memcpy(names[want][count[want]++], e->d_name, strlen(e->d_name) + 1);
	}
	int fd = -1, tries = 0;
	bool stop = false;
	for (int c = 0; c < 2 && fd < 0 && !stop; c++) {
		for (int i = 0; i < count[c] && fd < 0 && !stop && tries < TAKE_TRIES; i++) {
			tries++;
			if (rename_noreplace(dirfd(d), names[c][i], dest) == 0)
				fd = adopt(dest, flags, mode, uid, gid, stale);
			else if (errno != ENOENT) /* ENOENT: another process took it first */
				stop = true;      /* dest exists, or worse: the caller's usual path decides */
		}
	}
	closedir(d);
	if (fd >= 0)
		stats.taken++;
	else
		stats.take_empty++;
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
}
