/* The orphan sweep (spool_tidy.h).
 *
 * Why each removal cannot lose mail (docs/spool.md, "Orphan sweep"): a message exists for every
 * reader exactly while its -H exists; -H is renamed into place only after -D is complete and
 * synced (that rename is what a 250 acknowledges) and is the first file removed at
 * "Completed". So -D, -J or msglog without -H anywhere is either a reception that never got
 * its 250 or the rest of a finished message. The checks close the windows in which -H is
 * briefly elsewhere or not yet there:
 *   - -H moved into a queue runner's commit directory (its worker holds the -D lock while it
 *     moves it there; the recovery moves it back without that lock): with the -D locked by us,
 *     the commit directories are looked at first and input/ second, so a -H moving from the
 *     former to the latter is seen in one of them;
 *   - a receiver between creating (or renaming a spare to) <id>-D and locking it, a delivery
 *     between opening -D and locking it: the ctime margin, far longer than those windows;
 *   - a receiver, a delivery or a transport child that survives its delivery process: each
 *     holds a lock on -D (the spool lock on the id line, or the children's lock at 2^40), and
 *     ours is an open-file-description lock, which conflicts with both.
 * Spare files and -H temporaries carry their process's pid: removed only when no process has
 * that pid, or the one that has it started after the file was last changed. */
#include "core/spool_tidy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/log.h"
#include "core/queue_commit.h"
#include "core/spool_recycle.h"

typedef struct found {
	char id[MSG_ID_LEN + 1];
	char kind;                    /* 'H', 'D', 'J' or 'M' (msglog) */
} found;

typedef struct found_list {
	found *v;
	size_t n, cap;
} found_list;

static void found_add(found_list *l, const char *id, char kind)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		found *v = realloc(l->v, nc * sizeof *v);
		if (!v)
			abort();
		l->v = v;
		l->cap = nc;
	}
	memcpy(l->v[l->n].id, id, MSG_ID_LEN);
	l->v[l->n].id[MSG_ID_LEN] = 0;
	l->v[l->n].kind = kind;
	l->n++;
}

static int found_order(const void *pa, const void *pb)
{
	const found *a = pa, *b = pb;
	int c = memcmp(a->id, b->id, MSG_ID_LEN);
	return c ? c : a->kind - b->kind;
}

time_t spool_tidy_margin(void)
{
	const char *v = getuid() == 0 ? getenv("POSTERN_TIDY_MARGIN") : NULL;
	if (v && *v) {
		char *end;
		long s = strtol(v, &end, 10);
		if (!*end && s >= 0)
			return (time_t)s;
	}
	return SPOOL_TIDY_MARGIN;
}

/* ---- processes ---- */

/* When the process with this pid started (seconds since the epoch), 0 when unknown; *zombie:
 * it has ended and waits for its parent (an orphan's zombie can linger where init does not
 * reap, and kill() still finds it). */
static time_t process_start(pid_t pid, bool *zombie)
{
	static long long btime = -1;
	*zombie = false;
	if (btime < 0) {
		btime = 0;
		FILE *f = fopen("/proc/stat", "re");
		if (f) {
			char line[256];
			while (fgets(line, sizeof line, f))
				if (sscanf(line, "btime %lld", &btime) == 1)
					break;
			fclose(f);
		}
	}
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The command name (field 2) may hold spaces and parentheses: count from the last ')'.
	 * Then field 3 is the state and field 22 the start time in clock ticks after boot. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	*zombie = p[2] == 'Z' || p[2] == 'X';
	p++;
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || btime <= 0)
		return 0;
	unsigned long long ticks = strtoull(p + 1, NULL, 10);
	long hz = sysconf(_SC_CLK_TCK);
	return hz > 0 ? (time_t)(btime + (long long)(ticks / (unsigned long long)hz)) : 0;
}

/* Why a file of process pid, last changed at ctime, is dead weight; NULL when it may be in
 * use (the process lives and started before the file changed, or that cannot be told). */
static const char *owner_gone(pid_t pid, time_t ctime)
{
	if (pid <= 0)
		return NULL;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return "dead process";
	bool zombie;
	time_t start = process_start(pid, &zombie);
	if (zombie)
		return "dead process";
	/* 2 s: the boot time and the start time are each rounded down to a second. */
	if (start && start > ctime + 2)
		return "earlier process";
	return NULL;
}

/* ".postern-spare.<pid>.<D|H|M>" or ".<id>-H.tmp.<pid>.<n>": the owner's pid, else 0. */
static pid_t private_file_pid(const char *name, const char **what)
{
	static const char spare[] = ".postern-spare.";
	char *end;
	if (strncmp(name, spare, sizeof spare - 1) == 0) {
		long pid = strtol(name + sizeof spare - 1, &end, 10);
		if (end != name + sizeof spare - 1 && end[0] == '.' && strchr("DHM", end[1]) && end[1] && !end[2]) {
			*what = "spare file";
			return (pid_t)pid;
		}
		return 0;
	}
	if (name[0] != '.' || strlen(name) < MSG_ID_LEN + 8 || !spool_valid_id(sv_make(name + 1, MSG_ID_LEN))
		|| strncmp(name + 1 + MSG_ID_LEN, "-H.tmp.", 7) != 0)
		return 0;
	const char *p = name + 1 + MSG_ID_LEN + 7;
	long pid = strtol(p, &end, 10);
	if (end == p || *end != '.' || !end[1])
		return 0;
	const char *q = end + 1;
	strtoul(q, &end, 10);
	if (end == q || *end)
		return 0;
	*what = "temporary file";
	return (pid_t)pid;
}

/* ---- scanning ---- */

static void remove_logged(const char *path, const char *reason)
{
	if (unlink(path) == 0)
		log_write(LOG_MAIN, "spool tidy: removed %s (%s)", path, reason);
	else if (errno != ENOENT)
		log_write(LOG_MAIN | LOG_PANIC, "spool tidy: cannot remove %s: %s", path, strerror(errno));
}

static size_t sweep_private(const char *dir, const char *name)
{
	const char *what = NULL;
	pid_t pid = private_file_pid(name, &what);
	if (!pid)
		return 0;
	char path[4200];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return 0;
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	const char *why = owner_gone(pid, st.st_ctime);
	if (!why)
		return 0;
	char reason[128];
	snprintf(reason, sizeof reason, "%s of %s %ld", what, why, (long)pid);
	remove_logged(path, reason);
	return 1;
}

/* One directory: message files into l ('M' for msglog), private files swept at once. */
static size_t scan_dir(const char *dir, bool msglog, found_list *l)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t removed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *name = e->d_name;
		size_t len = strlen(name);
		if (name[0] == '.') {
			if (len > 2)
				removed += sweep_private(dir, name);
			continue;
		}
		if (msglog) {
			if (len == MSG_ID_LEN && spool_valid_id(sv_make(name, MSG_ID_LEN)))
				found_add(l, name, 'M');
		} else if (len == MSG_ID_LEN + 2 && name[MSG_ID_LEN] == '-' && strchr("HDJ", name[MSG_ID_LEN + 1])
			&& spool_valid_id(sv_make(name, MSG_ID_LEN))) {
			found_add(l, name, name[MSG_ID_LEN + 1]);
		}
	}
	closedir(d);
	return removed;
}

static size_t scan_tree(const char *base, bool msglog, found_list *l)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t removed = scan_dir(base, msglog, l);
	char sub[4200];
	for (const char *c = b62; *c; c++)
		if ((size_t)snprintf(sub, sizeof sub, "%s/%c", base, *c) < sizeof sub)
			removed += scan_dir(sub, msglog, l);
	return removed;
}

/* ---- one candidate message ---- */

/* Open-file-description locks on the spool lock's range and on the transport children's
 * (core/deliver.c): they conflict with both kinds of lock other processes hold. */
static bool lock_data(int fd)
{
	struct flock a = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = MSG_ID_LEN + 3 };
	struct flock b = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)1 << 40, .l_len = 1 };
	return fcntl(fd, F_OFD_SETLK, &a) == 0 && fcntl(fd, F_OFD_SETLK, &b) == 0;
}

/* Whether <id>-H exists in a commit directory (looked at first: see the top) or in input/. */
static bool header_anywhere(const spool_config *sc, const char *id)
{
	bool seen = false;
	char path[4300], base[900];
	if (qcommit_base(sc, base, sizeof base)) {
		DIR *d = opendir(base);
		if (d) {
			struct dirent *e;
			struct stat st;
			while (!seen && (e = readdir(d)))
				if (e->d_name[0] >= '0' && e->d_name[0] <= '9'
					&& (size_t)snprintf(path, sizeof path, "%s/%s/%s-H", base, e->d_name, id) < sizeof path
					&& lstat(path, &st) == 0)
					seen = true;
			closedir(d);
		}
	}
	for (int split = 0; split < 2 && !seen; split++) {
		spool_config s = *sc;
		s.split = split;
		struct stat st;
		arena_mark m = arena_getmark(pool_scratch);
		if (lstat(spool_path(pool_scratch, &s, "input", id, "-H"), &st) == 0 || errno != ENOENT)
			seen = true;   /* present, or cannot tell: keep */
		arena_reset(pool_scratch, m);
	}
	return seen;
}

#define PARTS 6   /* -D, -J and msglog, each flat and split */

static size_t sweep_message(const spool_config *sc, const char *id, time_t margin, time_t now)
{
	static const struct { const char *dir, *suffix; } kinds[3] = {
		{ "input", "-D" }, { "input", "-J" }, { "msglog", "" },
	};
	char path[PARTS][4300];
	int fds[PARTS];
	bool present[PARTS] = { false };
	bool keep = false;
	for (int i = 0; i < PARTS; i++) {
		fds[i] = -1;
		spool_config s = *sc;
		s.split = i % 2;
		arena_mark m = arena_getmark(pool_scratch);
		snprintf(path[i], sizeof path[i], "%s", spool_path(pool_scratch, &s, kinds[i / 2].dir, id, kinds[i / 2].suffix));
		arena_reset(pool_scratch, m);
		if (i % 2 && strcmp(path[i], path[i - 1]) == 0)
			continue;
		struct stat st;
		if (i / 2 == 0) {
			fds[i] = open(path[i], O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			if (fds[i] < 0) {
				keep |= errno != ENOENT;
				continue;
			}
			if (!lock_data(fds[i]) || fstat(fds[i], &st) != 0) {
				keep = true;   /* in use */
				continue;
			}
			if (st.st_nlink == 0)
				continue;      /* removed meanwhile */
		} else if (lstat(path[i], &st) != 0) {
			keep |= errno != ENOENT;
			continue;
		}
		if (!S_ISREG(st.st_mode) || now - st.st_ctime < margin)
			keep = true;
		present[i] = true;
	}
	size_t removed = 0;
	if (!keep && !header_anywhere(sc, id))
		for (int i = 0; i < PARTS; i++)
			if (present[i]) {
				remove_logged(path[i], "no -H file");
				removed++;
			}
	for (int i = 0; i < PARTS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return removed;
}

size_t spool_tidy_sweep(const spool_config *sc, time_t margin)
{
	if (!sc || !sc->directory)
		return 0;
	found_list l = { 0 };
	size_t removed = 0;
	arena_mark m = arena_getmark(pool_scratch);
	const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
	const char *base = arena_printf(pool_scratch, "%s%s%s", sc->directory, q ? "/" : "", q ? q : "");
	removed += scan_tree(arena_printf(pool_scratch, "%s/input", base), false, &l);
	removed += scan_tree(arena_printf(pool_scratch, "%s/msglog", base), true, &l);
	arena_reset(pool_scratch, m);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, found_order);
	time_t now = time(NULL);
	for (size_t i = 0; i < l.n;) {
		size_t j = i;
		bool header = false;
		while (j < l.n && memcmp(l.v[j].id, l.v[i].id, MSG_ID_LEN) == 0)
			header |= l.v[j++].kind == 'H';
		if (!header)
			removed += sweep_message(sc, l.v[i].id, margin, now);
		i = j;
	}
	free(l.v);
	return removed;
}

/* ---- when ---- */

/* A hint like the others, so in db/ (Exim ignores files there it does not know):
 * db/postern-tidy, or db/postern-tidy-<queue> for a named queue. */
static const char *stamp_path(const spool_config *sc)
{
	const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
	return arena_printf(pool_scratch, "%s/db/postern-tidy%s%s", sc->directory, q ? "-" : "", q ? q : "");
}

void spool_tidy_request(const spool_config *sc)
{
	if (!sc || !sc->directory)
		return;
	arena_mark m = arena_getmark(pool_scratch);
	struct timespec old[2] = { { 0, 0 }, { 0, 0 } };
	(void)utimensat(AT_FDCWD, stamp_path(sc), old, AT_SYMLINK_NOFOLLOW);
	arena_reset(pool_scratch, m);
}

/* In the detached child: nothing of the parent's but the stamp's descriptor (a daemon's
 * listening sockets must not outlive it here), standard streams on /dev/null, default signal
 * handling. */
static void become_sweeper(int keep_fd)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGCHLD, SIGALRM, SIGPIPE, SIGUSR1, SIGUSR2 };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_reopen();
	/* Not the caller's standard streams either: whoever reads the caller's output to its end
	 * (a shell pipeline, a test) must not wait for the sweep. */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		for (int i = 0; i < 3; i++)
			if (null != i && keep_fd != i)
				dup2(null, i);
		if (null > 2 && null != keep_fd)
			close(null);
	}
	if (keep_fd > 3)
		close_range(3, (unsigned)keep_fd - 1, 0);
	close_range((unsigned)keep_fd + 1, ~0U, 0);
}

void spool_tidy_start(const spool_config *sc, bool force)
{
	if (!sc || !sc->directory)
		return;
	arena_mark m = arena_getmark(pool_scratch);
	const char *path = stamp_path(sc);
	time_t now = time(NULL);
	struct stat st;
	bool due = force || stat(path, &st) != 0 || st.st_mtime > now || now - st.st_mtime >= SPOOL_TIDY_INTERVAL;
	int fd = due ? open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640) : -1;
	if (fd < 0 && due && errno == ENOENT) {   /* a new spool: no db/ yet */
		const char *db = arena_printf(pool_scratch, "%s/db", sc->directory);
		if (mkdir(db, 0750) == 0 && getuid() == 0 && sc->uid != (uid_t)-1 && chown(db, sc->uid, sc->gid) != 0) { /* best effort */ }
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	}
	arena_reset(pool_scratch, m);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);     /* a sweep is running; a request made since stays for the next */
		return;
	}
	if (getuid() == 0 && sc->uid != (uid_t)-1 && fchown(fd, sc->uid, sc->gid) != 0) { /* best effort */ }
	(void)futimens(fd, NULL);
	time_t margin = spool_tidy_margin();
	fflush(NULL);
	pid_t child = fork();
	if (child == 0) {
		/* Twice, so that the sweeper is nobody's child to wait for. */
		if (fork() == 0) {
			become_sweeper(fd);
			spool_tidy_sweep(sc, margin);
			spool_recycle_expire(sc, SPOOL_RECYCLE_MAX_AGE);
			_exit(0);
		}
		_exit(0);
	}
	if (child > 0)
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	close(fd);   /* the lock stays with the sweeper's copy of the descriptor */
}
