/* Appending to one mailbox file (Exim 4.96 "Operational details for appending"): the lock file
 * made with the NFS-safe hitching-post link, the checks on the file (type, links, owner, group,
 * mode) before and after opening it, fcntl and/or flock locks (non-blocking with retries, or
 * blocking with a timeout), the quota, and the write itself. A failed write puts the file back
 * to its old length and times, so a deferred delivery leaves no partial message behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "drivers/transports/appendfile_internal.h"
#include "lib/list.h"

/* Blocking lock calls are interrupted by SIGALRM; the handler only has to exist. */
static void on_alarm(int sig)
{
	(void)sig;
}

/* One attempt at the lock file. 1: got it; 0: busy (try again later); -1: outcome recorded. */
static int take_lockfile(af_ctx *x, const char *lockname)
{
	const char *host = conf_main_string("primary_hostname");
	char *hitch = arena_printf(x->a, "%s.%s.%08x.%08x", lockname, host ? host : "localhost",
		(unsigned)time(NULL), (unsigned)getpid());
	int fd = open(hitch, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)x->o->lockfile_mode);
	if (fd < 0) {
		af_fail(x, ADDR_DEFER, errno, "creating lock file hitching post %s (euid=%ld egid=%ld)", hitch,
			(long)geteuid(), (long)getegid());
		return -1;
	}
	(void)fchmod(fd, (mode_t)x->o->lockfile_mode);
	close(fd);
	bool got = link(hitch, lockname) == 0;
	if (!got) {
		/* A link made over NFS may succeed without saying so: two links mean it did. */
		struct stat st;
		got = stat(hitch, &st) == 0 && st.st_nlink == 2;
	}
	(void)unlink(hitch);
	if (got)
		return 1;
	/* A lock file older than lockfile_timeout was left behind by a crash: remove it. */
	struct stat st;
	if (x->o->lockfile_timeout > 0 && lstat(lockname, &st) == 0 &&
		time(NULL) - st.st_mtime > (time_t)x->o->lockfile_timeout)
		(void)unlink(lockname);
	return 0;
}

/* A shared fcntl lock needs a descriptor open for reading: MBX locking opens the mailbox for
 * reading and writing, as Exim does (observed). */
static int mailbox_access(const af_ctx *x)
{
	return x->o->use_mbx_lock ? O_RDWR : O_WRONLY;
}

/* One lock call on fd (fcntl when with_fcntl, flock when use_flock_lock), blocking for at most
 * the configured timeouts (the caller has a SIGALRM handler in place). true: locked. */
bool af_lock_fd(const struct appendfile_transport_options *o, int fd, bool exclusive, bool with_fcntl)
{
	if (with_fcntl) {
		struct flock fl = { .l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
		int rc;
		if (o->lock_fcntl_timeout > 0) {
			alarm((unsigned)o->lock_fcntl_timeout);
			rc = fcntl(fd, F_SETLKW, &fl);
			alarm(0);
		} else {
			rc = fcntl(fd, F_SETLK, &fl);
		}
		if (rc != 0)
			return false;
	}
	if (o->use_flock_lock) {
		int op = exclusive ? LOCK_EX : LOCK_SH, rc;
		if (o->lock_flock_timeout > 0) {
			alarm((unsigned)o->lock_flock_timeout);
			rc = flock(fd, op);
			alarm(0);
		} else {
			rc = flock(fd, op | LOCK_NB);
		}
		if (rc != 0)
			return false;
	}
	return true;
}

/* The checks on an existing file (st from lstat or stat). false: outcome recorded. */
static bool check_existing(af_ctx *x, const struct stat *st, const char *what, mode_t *mode_out)
{
	const struct appendfile_transport_options *o = x->o;
	bool fifo = S_ISFIFO(st->st_mode) && o->allow_fifo;
	if (st->st_nlink != 1 && !fifo && !S_ISFIFO(st->st_mode)) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_NOTREGULAR, "mailbox %s%s has too many links (%lu)", x->path, what,
			(unsigned long)st->st_nlink);
		return false;
	}
	if (!S_ISREG(st->st_mode) && !fifo) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_NOTREGULAR, "mailbox %s%s is not a regular file", x->path, what);
		return false;
	}
	if (o->check_owner && st->st_uid != geteuid()) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_BADUGID, "mailbox %s%s has wrong uid (%ld != %ld)", x->path, what,
			(long)st->st_uid, (long)geteuid());
		return false;
	}
	if (o->check_group && st->st_gid != getegid()) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_BADUGID, "mailbox %s%s has wrong gid (%ld != %ld)", x->path, what,
			(long)st->st_gid, (long)getegid());
		return false;
	}
	mode_t perm = st->st_mode & 07777, want = (mode_t)o->mode & 07777;
	if (perm & ~want) {
		/* Wider than configured: reduce it. */
		if (chmod(x->path, perm & want) != 0) {
			af_fail(x, ADDR_DEFER, errno, "attempting to reset the mode of mailbox %s", x->path);
			return false;
		}
		perm &= want;
	}
	if ((want & ~perm) && o->mode_fail_narrower) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_BADMODE, "mailbox %s%s has the wrong mode %o (%o expected)", x->path, what,
			(unsigned)(st->st_mode & 07777), (unsigned)want);
		return false;
	}
	*mode_out = perm;
	return true;
}

/* Open the file (creating it if allowed), with the checks before and after. fd < 0: outcome
 * recorded. */
static int open_mailbox(af_ctx *x, struct stat *out)
{
	const struct appendfile_transport_options *o = x->o;
	for (int loop = 0; loop < 10; loop++) {
		struct stat st;
		if (lstat(x->path, &st) != 0) {
			if (errno != ENOENT) {
				af_fail(x, ADDR_DEFER, errno, "attempting to lstat mailbox %s", x->path);
				return -1;
			}
			if (o->file_must_exist) {
				af_fail(x, ADDR_DEFER, ENOENT, "mailbox %s does not exist, but file_must_exist is set", x->path);
				return -1;
			}
			if (!af_create_allowed(x, x->path, true))
				return -1;
			int fd = open(x->path, mailbox_access(x) | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
				(mode_t)o->mode);
			if (fd < 0) {
				if (errno == EEXIST)
					continue;
				af_fail(x, ADDR_DEFER, errno, "while creating mailbox %s", x->path);
				return -1;
			}
			/* The umask narrowed the mode; Exim gives a new mailbox exactly "mode". */
			(void)fchmod(fd, (mode_t)o->mode);
			if (fstat(fd, out) != 0) {
				af_fail(x, ADDR_DEFER, errno, "while checking mailbox %s", x->path);
				close(fd);
				return -1;
			}
			return fd;
		}
		const char *what = "";
		bool symlink = S_ISLNK(st.st_mode);
		if (symlink) {
			/* The link's own owner is checked, so one user cannot plant a link to another's
			 * mailbox in a shared directory. */
			if (o->check_owner && st.st_uid != geteuid()) {
				af_fail(x, ADDR_DEFER, AF_ERRNO_BADUGID, "mailbox %s (symlink) has wrong uid (%ld != %ld)",
					x->path, (long)st.st_uid, (long)geteuid());
				return -1;
			}
			if (!o->allow_symlink) {
				af_fail(x, ADDR_DEFER, AF_ERRNO_NOTREGULAR, "mailbox %s is not a regular file", x->path);
				return -1;
			}
			what = " (symlink target)";
			if (stat(x->path, &st) != 0) {
				if (errno != ENOENT) {
					af_fail(x, ADDR_DEFER, errno, "attempting to stat mailbox %s", x->path);
					return -1;
				}
				/* A dangling link: create its target (O_EXCL would refuse to follow it). */
				if (o->file_must_exist) {
					af_fail(x, ADDR_DEFER, ENOENT, "mailbox %s does not exist, but file_must_exist is set",
						x->path);
					return -1;
				}
				int fd = open(x->path, mailbox_access(x) | O_APPEND | O_CREAT | O_NOCTTY | O_CLOEXEC, (mode_t)o->mode);
				if (fd < 0) {
					af_fail(x, ADDR_DEFER, errno, "while creating mailbox %s", x->path);
					return -1;
				}
				if (fstat(fd, out) != 0 || !S_ISREG(out->st_mode)) {
					af_fail(x, ADDR_DEFER, AF_ERRNO_NOTREGULAR, "mailbox %s is not a regular file", x->path);
					close(fd);
					return -1;
				}
				return fd;
			}
		}
		mode_t perm;
		if (!check_existing(x, &st, what, &perm))
			return -1;
		int flags = mailbox_access(x) | O_APPEND | O_NOCTTY | O_CLOEXEC | (symlink ? 0 : O_NOFOLLOW);
		if (S_ISFIFO(st.st_mode))
			flags |= O_NONBLOCK;  /* no reader: ENXIO, a deferral, instead of hanging */
		int fd = open(x->path, flags);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;  /* it vanished: behave as if it had never existed */
			af_fail(x, ADDR_DEFER, errno, "while opening mailbox %s", x->path);
			return -1;
		}
		if (fstat(fd, out) != 0 || out->st_ino != st.st_ino || out->st_dev != st.st_dev ||
			(out->st_mode & S_IFMT) != (st.st_mode & S_IFMT) || out->st_uid != st.st_uid ||
			(out->st_mode & 07777) != perm) {
			x->freeze = true;
			af_fail(x, ADDR_DEFER, AF_ERRNO_INODECHANGED, "opened mailbox %s has changed since it was checked",
				x->path);
			close(fd);
			return -1;
		}
		if (S_ISFIFO(st.st_mode)) {
			int fl = fcntl(fd, F_GETFL);
			if (fl >= 0)
				(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		}
		return fd;
	}
	x->freeze = true;
	af_fail(x, ADDR_DEFER, AF_ERRNO_EXISTRACE, "mailbox %s kept appearing and disappearing", x->path);
	return -1;
}

/* file_format: the transport named for the existing file's first bytes, or NULL for this one.
 * false: outcome recorded (no match, or an unknown transport). */
static bool check_format(af_ctx *x, const driver_instance **other)
{
	*other = NULL;
	int fd = open(x->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return true;  /* missing: this transport */
	char head[256];
	ssize_t n = read(fd, head, sizeof head);
	close(fd);
	if (n <= 0)
		return true;  /* empty: this transport */
	sv list = sv_cstr(x->o->file_format);
	list_iter it;
	list_iter_init(&it, list, 0);
	xbuf test, name;
	xbuf_init(&test, x->a);
	xbuf_init(&name, x->a);
	while (list_next(&it, &test)) {
		sv tv = sv_copy(x->a, xbuf_sv(&test));
		if (!list_next(&it, &name))
			break;
		if (tv.len > (size_t)n || memcmp(head, tv.p, tv.len) != 0)
			continue;
		if (strcmp(xbuf_cstr(&name), x->t->name) == 0)
			return true;
		const driver_instance *d = tp_find(xbuf_cstr(&name));
		if (d == NULL || d->info == NULL || d->info->ops == NULL) {
			af_fail(x, ADDR_DEFER, 0, "%s transport (for %s mailbox format) not found", xbuf_cstr(&name),
				x->path);
			return false;
		}
		*other = d;
		return true;
	}
	af_fail(x, ADDR_DEFER, 0, "mailbox %s format is not recognized by the %s transport (file_format)", x->path,
		x->t->name);
	return false;
}

void af_deliver_file(af_ctx *x)
{
	const struct appendfile_transport_options *o = x->o;
	if (strcmp(x->path, "/dev/null") == 0) {
		x->result = ADDR_OK;
		return;
	}
	if (!af_make_dirs(x, x->path, false))
		return;
	if (o->file_format != NULL) {
		const driver_instance *other;
		if (!check_format(x, &other))
			return;
		if (other != NULL) {
			/* Hand the batch to the transport for that format; it sets the outcomes. */
			const transport_ops *ops = other->info->ops;
			ops->deliver(other, x->c, x->addrs);
			x->result = x->addrs->result;
			x->basic_errno = x->addrs->basic_errno;
			x->more_errno = x->addrs->more_errno;
			x->message = x->addrs->message.p ? sv_dup(x->a, x->addrs->message) : NULL;
			x->freeze = x->addrs->freeze;
			return;
		}
	}

	struct sigaction sa = { .sa_handler = on_alarm }, old_sa;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old_sa);

	char *lockname = o->use_lockfile ? arena_printf(x->a, "%s.lock", x->path) : NULL;
	int retries = o->lock_retries > 0 ? o->lock_retries : 1;
	/* With blocking locks the waiting happens in the call: fewer tries cover the same time. */
	int timeout = o->use_fcntl_lock && o->lock_fcntl_timeout > 0 ? o->lock_fcntl_timeout
		: o->use_flock_lock && o->lock_flock_timeout > 0 ? o->lock_flock_timeout : 0;
	if (timeout > 0) {
		long long total = (long long)retries * o->lock_interval;
		retries = (int)((total + timeout - 1) / timeout);
		if (retries < 1)
			retries = 1;
	}
	int fd = -1;
	bool have_lockfile = false;
	const char *failed = "lock file";
	struct stat st;
	for (int attempt = 0; attempt < retries; attempt++) {
		if (attempt > 0 && o->lock_interval > 0 && timeout == 0)
			sleep((unsigned)o->lock_interval);
		if (lockname) {
			int rc = take_lockfile(x, lockname);
			if (rc < 0)
				goto out;
			if (rc == 0) {
				failed = "lock file";
				continue;
			}
			have_lockfile = true;
		}
		fd = open_mailbox(x, &st);
		if (fd < 0)
			goto out;
		if (S_ISFIFO(st.st_mode))
			break;
		if (o->use_mbx_lock) {
			af_mbx_lock_rc mrc = af_mbx_lock(x, fd);
			if (mrc == AF_MBX_LOCKED)
				break;
			if (mrc == AF_MBX_FAILED)
				goto out;
		} else if (af_lock_fd(x->o, fd, true, x->o->use_fcntl_lock)) {
			break;
		}
		/* Not locked: let go of everything, so nothing is held while waiting. */
		close(fd);
		fd = -1;
		if (have_lockfile) {
			(void)unlink(lockname);
			have_lockfile = false;
		}
		failed = "fcntl/flock";
	}
	if (fd < 0) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_LOCKFAILED, "failed to lock mailbox %s (%s)", x->path, failed);
		goto out;
	}

	/* Locked: the size now is the size to restore on failure and to measure the quota by. */
	if (fstat(fd, &st) != 0) {
		af_fail(x, ADDR_DEFER, errno, "while checking mailbox %s", x->path);
		goto out;
	}
	long long before = x->mailbox_size >= 0 ? x->mailbox_size : (long long)st.st_size;
	x->last_read = st.st_atime;
	if (!af_quota_check(x, before, 0, x->path))
		goto out;
	x->w.size_limit = x->quota > 0 && !x->quota_no_check && o->quota_is_inclusive ? x->quota - before : 0;
	xbuf err;
	xbuf_init(&err, x->a);
	int errnum = 0;
	bool ok = o->mbx_format ? af_mbx_write(x, fd, (long long)st.st_size, &err, &errnum)
		: af_write_message(x, fd, &err, &errnum);
	if (ok && !S_ISFIFO(st.st_mode) && fsync(fd) != 0) {
		ok = false;
		errnum = errno;
		xbuf_reset(&err);
	}
	struct stat now;
	long long after = fstat(fd, &now) == 0 ? (long long)now.st_size : st.st_size;
	x->written = after - st.st_size;
	if (!ok) {
		/* Put the file back as it was: no partial message is left for a reader to see. */
		if (S_ISREG(st.st_mode)) {
			(void)ftruncate(fd, st.st_size);
			struct timespec ts[2] = { st.st_atim, st.st_mtim };
			(void)futimens(fd, ts);
		}
		af_write_failed(x, errnum, &err, x->path);
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		/* Keep the access time older than the modification time: that is how readers tell
		 * there is new mail. */
		struct timespec ts[2] = { st.st_atim, { .tv_nsec = UTIME_NOW } };
		(void)futimens(fd, ts);
	}
	af_mbx_unlock(x, fd);
	if (close(fd) != 0) {
		fd = -1;
		af_fail(x, ADDR_DEFER, errno, "error while closing %s", x->path);
		goto out;
	}
	fd = -1;
	x->result = ADDR_OK;
	af_quota_warn(x, before, before + x->written);

out:
	af_mbx_unlock(x, fd);
	if (fd >= 0)
		close(fd);
	if (have_lockfile)
		(void)unlink(lockname);
	sigaction(SIGALRM, &old_sa, NULL);
}
