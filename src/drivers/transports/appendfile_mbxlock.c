/* use_mbx_lock: the locking rules of the c-client library (Pine, UW IMAP), as Exim 4.96 follows
 * them (observed with strace): the mailbox itself gets only a shared lock, and the exclusive
 * lock is taken on "/tmp/.<device>.<inode>" of the mailbox (both numbers in lower-case hex),
 * created with lockfile_mode. The lock file must be a plain file with one link, and the one
 * locked must still be the one at that name (someone may have removed it meanwhile). When
 * the message is written, the mailbox's lock is raised to exclusive without waiting: if that
 * works no c-client reader has the mailbox open, and the lock file is removed. fcntl() is used
 * unless only use_flock_lock is set; with both, both. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/transports/appendfile_internal.h"

static bool use_fcntl(const struct appendfile_transport_options *o)
{
	return o->use_fcntl_lock || !o->use_flock_lock;
}

/* One lock call on fd: fcntl unless only use_flock_lock is set (see the top). */
static bool lock_one(const struct appendfile_transport_options *o, int fd, bool exclusive)
{
	return af_lock_fd(o, fd, exclusive, use_fcntl(o));
}

af_mbx_lock_rc af_mbx_lock(af_ctx *x, int mailbox_fd)
{
	const struct appendfile_transport_options *o = x->o;
	if (!lock_one(o, mailbox_fd, false))
		return AF_MBX_BUSY;
	struct stat mst, lst, fst;
	if (fstat(mailbox_fd, &mst) != 0)
		return AF_MBX_BUSY;
	x->mbx_lockname = arena_printf(x->a, "/tmp/.%lx.%lx", (unsigned long)mst.st_dev, (unsigned long)mst.st_ino);
	if (lstat(x->mbx_lockname, &lst) == 0 && (!S_ISREG(lst.st_mode) || lst.st_nlink != 1)) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_LOCKFAILED, "MBX lock file %s is not a regular file or has more than "
			"one link", x->mbx_lockname);
		return AF_MBX_FAILED;
	}
	int fd = open(x->mbx_lockname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, (mode_t)o->lockfile_mode);
	if (fd < 0) {
		/* Exim's wording, its odd " :" included (observed). */
		af_fail(x, ADDR_DEFER, AF_ERRNO_LOCKFAILED, "failed to open MBX lock file %s :%s", x->mbx_lockname,
			strerror(errno));
		return AF_MBX_FAILED;
	}
	if (!lock_one(o, fd, true) || lstat(x->mbx_lockname, &lst) != 0 || fstat(fd, &fst) != 0
		|| lst.st_dev != fst.st_dev || lst.st_ino != fst.st_ino) {
		close(fd);
		return AF_MBX_BUSY;
	}
	x->mbx_lockfd = fd;
	return AF_MBX_LOCKED;
}

void af_mbx_unlock(af_ctx *x, int mailbox_fd)
{
	if (x->mbx_lockfd < 0)
		return;
	if (mailbox_fd >= 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		bool alone = use_fcntl(x->o) ? fcntl(mailbox_fd, F_SETLK, &fl) == 0 : true;
		if (alone && x->o->use_flock_lock)
			alone = flock(mailbox_fd, LOCK_EX | LOCK_NB) == 0;
		if (alone)
			(void)unlink(x->mbx_lockname);
	}
	close(x->mbx_lockfd);
	x->mbx_lockfd = -1;
}
