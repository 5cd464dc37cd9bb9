/* The spool's helper thread and spare files; see core/spool_worker.h.
 *
 * One mutex guards everything the threads share. Each waiter has a condition variable of its
 * own (each helper thread one, the session one), signalled after the mutex is released: with one
 * shared variable and a broadcast under the lock, every change woke all three threads, which then
 * queued on the mutex (about 30 futex calls and as many context switches per message, measured in
 * bench/relay/README.md, session 13). The thread
 * takes work in this order: a queued fdatasync first (a session waits for it before its 250),
 * then the spares in the order a message needs them (-D at DATA, the -H temporary at the end
 * of the body, msglog after the commit). A session that needs a spare the thread has not begun
 * takes the job back and creates the file itself, so it never waits behind an fdatasync for a
 * file it could make at once.
 *
 * fork(): the child has no thread, and the mutex may have been held at the fork; an atfork
 * handler gives the child a fresh state (no thread, no spares of its own: the parent's stay
 * the parent's) and a new generation, so a sync ticket from the parent is seen as foreign.
 */
#include "core/spool_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/spool_recycle.h"

enum { SP_NONE, SP_WANTED, SP_CREATING, SP_READY };
enum { SY_NONE, SY_QUEUED, SY_RUNNING, SY_DONE };
/* Two fdatasyncs at once: -D's (begun at the end of the body) and the named -H's, while the
 * session itself waits for the directory round (spool_write.c). */
#define SYNC_SLOTS 2

typedef struct spare {
	int state;
	int fd;
	off_t stale; /* old bytes of a recycled file, for the taker to overwrite and cut */
	char path[4200];
} spare;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t thread_cv[SYNC_SLOTS]; /* a helper thread waits here for its work */
	pthread_cond_t session_cv;            /* the session waits here for a sync or a spare */
	bool atfork_set;
	bool started[SYNC_SLOTS]; /* the slot's thread runs in this process */
	bool stop;
	pthread_t thread[SYNC_SLOTS];
	unsigned gen;          /* bumped in every forked child */
	/* One fdatasync job per slot; slot 0's thread also makes the spares. */
	int sync_state[SYNC_SLOTS], sync_fd[SYNC_SLOTS], sync_errno[SYNC_SLOTS];
	/* spares */
	bool enabled;
	pid_t pid;
	char input_dir[4096], msglog_dir[4096];
	uid_t uid;
	gid_t gid;
	mode_t mode;
	spare sp[SPARE_KINDS];
} W = { .mu = PTHREAD_MUTEX_INITIALIZER,
	.thread_cv = { PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER },
	.session_cv = PTHREAD_COND_INITIALIZER };

static const char spare_suffix[SPARE_KINDS] = { 'D', 'H', 'M' };

static void after_fork_child(void)
{
	pthread_mutex_init(&W.mu, NULL);
	for (int i = 0; i < SYNC_SLOTS; i++)
		pthread_cond_init(&W.thread_cv[i], NULL);
	pthread_cond_init(&W.session_cv, NULL);
	W.stop = W.enabled = false;
	W.gen++;
	for (int i = 0; i < SYNC_SLOTS; i++) {
		W.started[i] = false;
		W.sync_state[i] = SY_NONE;
	}
	for (int k = 0; k < SPARE_KINDS; k++) {
		W.sp[k].state = SP_NONE;
		W.sp[k].fd = -1; /* the descriptors are close-on-exec; the files are the parent's */
	}
}

static const char *spare_dir(spare_kind k)
{
	return k == SPARE_MSGLOG ? W.msglog_dir : W.input_dir;
}

static int spare_name(spare_kind k, pid_t pid, char *out, size_t size)
{
	return snprintf(out, size, "%s/.postern-spare.%ld.%c", spare_dir(k), (long)pid, spare_suffix[k]);
}

/* Whether O_TMPFILE creation works here; cleared at the first sign that the kernel, the file
 * system or a missing /proc cannot do it, after which files are created by name as before. */
static _Atomic bool tmpfile_ok = true;
static _Atomic unsigned long made_unnamed;

unsigned long spool_spares_made_unnamed(void)
{
	return made_unnamed;
}

/* Whether linkat(fd, "", AT_EMPTY_PATH) works for this process: since Linux 6.10 it does for the
 * opener of the file; before, it needed CAP_DAC_READ_SEARCH (ENOENT without it), which the exim
 * user lacks, and the descriptor's /proc link (open(2)) is the unprivileged way. The direct call
 * costs about half as much (no walk through /proc: perf, bench/accept/README.md session 16). */
static _Atomic int empty_path_link = -1; /* -1 not known yet, 0 no, 1 yes */

static int link_fd(int fd, const char *path)
{
	if (empty_path_link != 0) {
		int r = linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH);
		if (r == 0 || errno != ENOENT) {
			if (r == 0)
				empty_path_link = 1;
			return r;
		}
		/* ENOENT: refused (an older kernel), or path's directory is gone: the /proc way tells */
	}
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int r = linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
	if (r == 0 && empty_path_link < 0)
		empty_path_link = 0;
	return r;
}

/* A new file at path, made as an unnamed O_TMPFILE inode in dir, given owner and mode, then
 * linked to path. Why: ext4 allocates the inode in the O_TMPFILE open without taking the
 * directory's lock, where an O_CREAT open allocates it with the lock held; without a journal an
 * allocation may read an inode table block for every inode its group freed in the last 30 s
 * (bench/accept/README.md), so with a named create the other sessions' creates and renames in
 * input/ queued (and spun: rwsem_spin_on_owner, 3.5-5.5% of the CPU) behind that. The link takes
 * the lock for a directory entry only. A process killed before the link leaves nothing (the
 * kernel frees an unnamed inode with its last descriptor); the name appears with its owner and
 * mode already set. -1 with errno as open(2) for the named path (ENOENT: no such directory);
 * -2: O_TMPFILE cannot be used here (tmpfile_ok is cleared), create by name. */
static int create_unnamed_then_link(const char *dir, const char *path, int flags, mode_t mode, uid_t uid, gid_t gid)
{
	int fd = open(dir, O_TMPFILE | (flags & (O_RDWR | O_WRONLY)) | O_CLOEXEC, mode);
	if (fd < 0) {
		/* A kernel without O_TMPFILE opens the directory itself (EISDIR); a file system without
		 * it says EOPNOTSUPP. Anything else (ENOENT, EACCES, ENOSPC, EMFILE...) a named create
		 * would meet too. */
		if (errno != EISDIR && errno != EOPNOTSUPP && errno != EINVAL)
			return -1;
		tmpfile_ok = false;
		return -2;
	}
	if ((uid != (uid_t)-1 && fchown(fd, uid, gid) != 0) || fchmod(fd, mode) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	int r = link_fd(fd, path);
	if (r != 0 && errno == EEXIST && unlink(path) == 0) /* a dead process's leftover with our pid */
		r = link_fd(fd, path);
	if (r != 0) {
		int e = errno;
		close(fd);
		if (e == ENOENT && access("/proc/self/fd", X_OK) != 0)
			tmpfile_ok = false; /* no /proc */
		errno = e;
		return e == ENOENT && !tmpfile_ok ? -2 : -1;
	}
	made_unnamed++;
	return fd;
}

/* In the thread, without the lock (or by an idle process that has no thread yet): a file with
 * the spool's mode and owner, new and empty, or a recycled one that may still hold *stale old
 * bytes (its taker overwrites it from offset 0 and cuts it before it can be read:
 * core/spool_recycle.h). A leftover of an earlier process with our pid (it is dead: the pid is
 * ours) is replaced. */
static int create_spare(spare_kind k, const char *path, mode_t mode, uid_t uid, gid_t gid, off_t *stale)
{
	int flags = O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | (k == SPARE_MSGLOG ? O_WRONLY : O_RDWR);
	/* An ended message's file when the pool has one: no inode to allocate. */
	int fd = spool_recycle_take_stale(W.input_dir, path, flags, mode, uid, gid, stale);
	if (fd >= 0)
		return fd;
	*stale = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (tmpfile_ok) {
			fd = create_unnamed_then_link(spare_dir(k), path, flags, mode, uid, gid);
			if (fd >= 0)
				return fd;
		}
		if (!tmpfile_ok || fd == -2) {
			fd = open(path, flags, mode);
			if (fd < 0 && errno == EEXIST && unlink(path) == 0)
				fd = open(path, flags, mode);
			if (fd >= 0)
				break;
		}
		if (attempt > 0 || errno != ENOENT)
			return -1;
		/* A new spool (other processes may be at it too). */
		if (mkdir(spare_dir(k), 0750) == 0) {
			if (uid != (uid_t)-1 && chown(spare_dir(k), uid, gid) != 0) { /* best effort, as spool_write.c */ }
		} else if (errno != EEXIST) {
			return -1;
		}
	}
	if (fd < 0)
		return -1;
	if ((uid != (uid_t)-1 && fchown(fd, uid, gid) != 0) || fchmod(fd, mode) != 0) {
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Release the lock, then wake the one thread that waits on cv: woken under the lock, it would
 * only block again on the mutex. The variables are static, so signalling after the unlock is safe. */
static void unlock_and_signal(pthread_cond_t *cv)
{
	pthread_mutex_unlock(&W.mu);
	pthread_cond_signal(cv);
}

static void *worker_main(void *arg)
{
	int slot = (int)(intptr_t)arg;
	/* Woken at MAIL, the thread must not take the CPU from the session before its reply is
	 * out (measured: MAIL 0.1 -> 1.5-2 ms at load 9); SCHED_BATCH drops wake-up preemption. */
	struct sched_param sp = { .sched_priority = 0 };
	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	pthread_mutex_lock(&W.mu);
	for (;;) {
		if (W.sync_state[slot] == SY_QUEUED) {
			W.sync_state[slot] = SY_RUNNING;
			int fd = W.sync_fd[slot];
			pthread_mutex_unlock(&W.mu);
			int e = fdatasync(fd) == 0 ? 0 : errno;
			pthread_mutex_lock(&W.mu);
			W.sync_errno[slot] = e;
			W.sync_state[slot] = SY_DONE;
			unlock_and_signal(&W.session_cv);
			pthread_mutex_lock(&W.mu);
			continue;
		}
		int k = 0;
		while (slot == 0 && k < SPARE_KINDS && W.sp[k].state != SP_WANTED)
			k++;
		if (slot != 0)
			k = SPARE_KINDS;
		if (k < SPARE_KINDS && !W.stop) {
			spare *s = &W.sp[k];
			s->state = SP_CREATING;
			char path[sizeof s->path];
			snprintf(path, sizeof path, "%s", s->path);
			mode_t mode = W.mode;
			uid_t uid = W.uid;
			gid_t gid = W.gid;
			pthread_mutex_unlock(&W.mu);
			off_t stale = 0;
			int fd = create_spare((spare_kind)k, path, mode, uid, gid, &stale);
			pthread_mutex_lock(&W.mu);
			s->fd = fd;
			s->stale = stale;
			s->state = fd >= 0 ? SP_READY : SP_NONE;
			unlock_and_signal(&W.session_cv);
			pthread_mutex_lock(&W.mu);
			continue;
		}
		if (W.stop)
			break;
		pthread_cond_wait(&W.thread_cv[slot], &W.mu);
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* With the lock held. */
static bool ensure_thread(int slot)
{
	if (W.started[slot])
		return true;
	if (!W.atfork_set) {
		if (pthread_atfork(NULL, NULL, after_fork_child) != 0)
			return false;
		W.atfork_set = true;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024); /* system calls only */
	/* Signals stay with the session's own thread: the helper starts with all blocked. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Not while another slot's thread is being told to stop (spool_spares_release). */
	W.stop = false;
	W.started[slot] = pthread_create(&W.thread[slot], &attr, worker_main, (void *)(intptr_t)slot) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return W.started[slot];
}

void spool_spares_enable(const spool_config *sc)
{
	if (!sc || sc->split || (sc->queue_name && *sc->queue_name))
		return;
	pthread_mutex_lock(&W.mu);
	/* From now on a forked child must not take this process's spares, thread or not. */
	if (!W.atfork_set && pthread_atfork(NULL, NULL, after_fork_child) == 0)
		W.atfork_set = true;
	if (!W.atfork_set) {
		pthread_mutex_unlock(&W.mu);
		return;
	}
	int a = snprintf(W.input_dir, sizeof W.input_dir, "%s/input", sc->directory);
	int b = snprintf(W.msglog_dir, sizeof W.msglog_dir, "%s/msglog", sc->directory);
	if (a > 0 && b > 0 && (size_t)a < sizeof W.input_dir - 64 && (size_t)b < sizeof W.msglog_dir - 64) {
		W.enabled = true;
		W.pid = getpid();
		W.uid = sc->uid;
		W.gid = sc->gid;
		W.mode = sc->mode ? sc->mode : 0640;
		for (int k = 0; k < SPARE_KINDS; k++)
			if (W.sp[k].state == SP_NONE)
				W.sp[k].fd = -1;
	}
	pthread_mutex_unlock(&W.mu);
}

void spool_spares_prepare(void)
{
	if (!W.enabled)
		return;
	pthread_mutex_lock(&W.mu);
	bool want = false;
	for (int k = 0; k < SPARE_KINDS; k++) {
		spare *s = &W.sp[k];
		if (s->state != SP_NONE)
			continue;
		spare_name((spare_kind)k, W.pid, s->path, sizeof s->path);
		s->state = SP_WANTED;
		want = true;
	}
	if (want && ensure_thread(0)) {
		unlock_and_signal(&W.thread_cv[0]);
		return;
	}
	if (want)
		for (int k = 0; k < SPARE_KINDS; k++)
			if (W.sp[k].state == SP_WANTED)
				W.sp[k].state = SP_NONE;
	pthread_mutex_unlock(&W.mu);
}

void spool_spares_make_now(bool (*stop)(void *ctx), void *ctx)
{
	if (!W.enabled)
		return;
	pthread_mutex_lock(&W.mu);
	if (W.started[0]) { /* the thread is there: let it make them, as at MAIL */
		pthread_mutex_unlock(&W.mu);
		spool_spares_prepare();
		return;
	}
	for (int k = 0; k < SPARE_KINDS; k++) {
		spare *s = &W.sp[k];
		if (s->state != SP_NONE)
			continue;
		if (stop && stop(ctx))
			break;
		spare_name((spare_kind)k, W.pid, s->path, sizeof s->path);
		off_t stale = 0;
		s->fd = create_spare((spare_kind)k, s->path, W.mode, W.uid, W.gid, &stale);
		s->stale = stale;
		s->state = s->fd >= 0 ? SP_READY : SP_NONE;
	}
	pthread_mutex_unlock(&W.mu);
}

int spool_spare_take(spare_kind k, const char *dir, char *path, size_t size, off_t *stale)
{
	*stale = 0;
	if (!W.enabled || k < 0 || k >= SPARE_KINDS)
		return -1;
	int fd = -1;
	pthread_mutex_lock(&W.mu);
	spare *s = &W.sp[k];
	while (s->state == SP_CREATING)
		pthread_cond_wait(&W.session_cv, &W.mu);
	if (s->state == SP_WANTED) {
		s->state = SP_NONE; /* not begun: quicker to make the file where it is needed */
	} else if (s->state == SP_READY && strcmp(dir, spare_dir(k)) == 0 && strlen(s->path) < size) {
		memcpy(path, s->path, strlen(s->path) + 1);
		fd = s->fd;
		*stale = s->stale;
		s->fd = -1;
		s->state = SP_NONE;
	}
	pthread_mutex_unlock(&W.mu);
	return fd;
}

void spool_spares_release(void)
{
	if (!W.started[0] && !W.started[1] && !W.enabled)
		return;
	pthread_mutex_lock(&W.mu);
	if (W.started[0] || W.started[1]) {
		W.stop = true;
		pthread_mutex_unlock(&W.mu);
		for (int i = 0; i < SYNC_SLOTS; i++)
			pthread_cond_signal(&W.thread_cv[i]);
		for (int i = 0; i < SYNC_SLOTS; i++)
			if (W.started[i])
				pthread_join(W.thread[i], NULL);
		pthread_mutex_lock(&W.mu);
		W.started[0] = W.started[1] = false;
	}
	for (int k = 0; k < SPARE_KINDS; k++) {
		spare *s = &W.sp[k];
		if (s->state == SP_READY) {
			spool_recycle_remove_in(W.input_dir, s->path);
			close(s->fd);
		}
		s->fd = -1;
		s->state = SP_NONE;
	}
	W.enabled = false;
	pthread_mutex_unlock(&W.mu);
}

void spool_spares_remove_for(const spool_config *sc, pid_t pid)
{
	if (!sc || !sc->directory || sc->split || pid <= 0)
		return;
	char path[4300];
	for (int k = 0; k < SPARE_KINDS; k++) {
		snprintf(path, sizeof path, "%s/%s/.postern-spare.%ld.%c", sc->directory,
			k == SPARE_MSGLOG ? "msglog" : "input", (long)pid, spare_suffix[k]);
		unlink(path);
	}
}

bool spool_worker_sync_start_in(int slot, int fd, unsigned *ticket)
{
	if (slot < 0 || slot >= SYNC_SLOTS)
		return false;
	pthread_mutex_lock(&W.mu);
	bool ok = W.sync_state[slot] == SY_NONE && ensure_thread(slot);
	if (ok) {
		W.sync_fd[slot] = fd;
		W.sync_state[slot] = SY_QUEUED;
		*ticket = W.gen;
		unlock_and_signal(&W.thread_cv[slot]);
		return true;
	}
	pthread_mutex_unlock(&W.mu);
	return false;
}

int spool_worker_sync_wait_in(int slot, unsigned ticket)
{
	if (ticket != W.gen || slot < 0 || slot >= SYNC_SLOTS)
		return -1;
	pthread_mutex_lock(&W.mu);
	while (W.sync_state[slot] == SY_QUEUED || W.sync_state[slot] == SY_RUNNING)
		pthread_cond_wait(&W.session_cv, &W.mu);
	int e = W.sync_state[slot] == SY_DONE ? W.sync_errno[slot] : EIO;
	W.sync_state[slot] = SY_NONE;
	pthread_mutex_unlock(&W.mu);
	return e;
}

bool spool_worker_sync_start(int fd, unsigned *ticket)
{
	return spool_worker_sync_start_in(0, fd, ticket);
}

int spool_worker_sync_wait(unsigned ticket)
{
	return spool_worker_sync_wait_in(0, ticket);
}
