/* The queuefile transport (Exim's EXPERIMENTAL_QUEUEFILE; facts §9): "delivers" a message by
 * putting a copy of its two spool files, <id>-H and <id>-D, into a directory, where another
 * program (a scanner) picks them up and can later move them into an Exim spool's input/.
 *
 * Same file system: both files are hard-linked (the link keeps the data alive after the original
 * message completes). Otherwise they are copied into files created exclusively with the spool's
 * mode. The copies are byte-identical to the spool files as they are now. An existing file in the
 * directory is an error, as is a directory that is not absolute after expansion (a configuration
 * problem: panic). All generic transport options are ignored, as in Exim.
 *
 * Beyond Exim: the copies and the directory entries are made durable (fsync) before the address
 * counts as delivered, since the original message is removed right after. */
#include "drivers/transports/local_transports.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/transports/queuefile.h"

/* Every address of the batch gets the same outcome. */
static void set_all(arena *a, address_item *addrs, addr_result r, int err, const char *text)
{
	for (address_item *ad = addrs; ad; ad = ad->next) {
		if (text)
			tp_set_result(a, ad, r, err, 0, "%s", text);
		else
			tp_set_result(a, ad, r, err, 0, NULL);
	}
}

/* A directory opened without following a symbolic link at its last component. */
static int open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Copy all of src (from offset 0) to dst; false with errno set. */
static bool copy_fd(int dst, int src)
{
	char buf[65536];
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(src, buf, sizeof buf, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
			return true;
		for (ssize_t done = 0; done < n; ) {
			ssize_t w = write(dst, buf + done, (size_t)(n - done));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return false;
			}
			done += w;
		}
		off += n;
	}
}

typedef struct qf_job {
	const driver_instance *t;
	arena *a;
	const char *id;
	const char *srcdir, *dstdir;
	int sdfd, ddfd;
	int data_fd;                 /* the locked -D descriptor, copied from for the data file */
	bool link;
	int mode;
	/* failure */
	int err;
	const char *text;
} qf_job;

static bool qf_fail(qf_job *j, const char *op, const char *path)
{
	j->err = errno;
	j->text = arena_printf(j->a, "%s transport %s file: %s failed with error: %s",
		j->t->name, op, path, strerror(j->err));
	return false;
}

/* Place <id>-<suffix> into the destination directory. */
static bool qf_place(qf_job *j, char suffix)
{
	const char *name = arena_printf(j->a, "%s-%c", j->id, suffix);
	const char *src = arena_printf(j->a, "%s/%s", j->srcdir, name);
	const char *dst = arena_printf(j->a, "%s/%s", j->dstdir, name);

	if (j->link) {
		if (linkat(j->sdfd, name, j->ddfd, name, 0) != 0)
			return qf_fail(j, "linking", dst);
		return true;
	}

	int out = openat(j->ddfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, j->mode);
	if (out < 0)
		return qf_fail(j, "opening", dst);
	int in = j->data_fd;
	if (suffix == 'H') {
		in = openat(j->sdfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0) {
			int e = errno;
			close(out);
			unlinkat(j->ddfd, name, 0);
			errno = e;
			return qf_fail(j, "opening", src);
		}
	}
	bool ok = true;
	const char *op = NULL;
	/* The umask may have narrowed the mode open gave the file. */
	if (fchmod(out, (mode_t)j->mode) != 0)
		op = "setting perms on";
	else if (!copy_fd(out, in) || fsync(out) != 0)
		op = "creating";
	if (op) {
		int e = errno;
		unlinkat(j->ddfd, name, 0);
		errno = e;
		ok = qf_fail(j, op, dst);
	}
	if (in != j->data_fd)
		close(in);
	close(out);
	return ok;
}

static void queuefile_deliver(const driver_instance *t, tp_ctx *c, address_item *addrs)
{
	const struct queuefile_transport_options *o = t->priv;
	arena *a = c->a;

	xbuf dir, err;
	xbuf_init(&dir, a);
	xbuf_init(&err, a);
	int rc = o->directory ? xp_expand(c->env, sv_cstr(o->directory), &dir, &err) : XP_ERROR;
	if (rc != XP_OK) {
		if (!o->directory)
			xbuf_puts(&err, "directory is not set");
		set_all(a, addrs, ADDR_DEFER, 0, arena_printf(a,
			"Expansion of \"%s\" (directory for %s transport) failed: %s",
			o->directory ? o->directory : "", t->name, xbuf_cstr(&err)));
		return;
	}
	const char *dstdir = xbuf_cstr(&dir);
	/* A directory named from tainted data is refused, as Exim's other file-writing transports
	 * refuse tainted file names. */
	if (xbuf_sv(&dir).taint) {
		set_all(a, addrs, ADDR_DEFER, EACCES, arena_printf(a,
			"Tainted '%s' (directory for %s transport) not permitted", dstdir, t->name));
		return;
	}
	if (dstdir[0] != '/') {
		set_all(a, addrs, ADDR_PANIC, ADDR_ERRNO_UNKNOWN, arena_printf(a,
			"%s transport directory: %s is not absolute", t->name, dstdir));
		return;
	}
	if (c->dont_deliver) {    /* -N: counts as delivered */
		set_all(a, addrs, ADDR_OK, 0, NULL);
		return;
	}

	const char *probe = spool_path(a, c->sc, "input", c->m->id, "");
	char *srcdir = arena_strdup(a, probe);
	char *slash = strrchr(srcdir, '/');
	if (slash)
		*slash = 0;

	qf_job j = { .t = t, .a = a, .id = c->m->id, .srcdir = srcdir, .dstdir = dstdir,
		.sdfd = -1, .ddfd = -1, .data_fd = c->data_fd, .mode = c->sc->mode ? c->sc->mode : 0640 };
	struct stat sst, dst;
	const char *bad_dir = NULL;
	if ((j.ddfd = open_dir(dstdir)) < 0 || fstat(j.ddfd, &dst) != 0)
		bad_dir = dstdir;
	else if ((j.sdfd = open_dir(srcdir)) < 0 || fstat(j.sdfd, &sst) != 0)
		bad_dir = srcdir;
	if (bad_dir) {
		int e = errno;
		set_all(a, addrs, ADDR_DEFER, e, arena_printf(a,
			"%s transport accessing directory: %s failed with error: %s",
			t->name, bad_dir, strerror(e)));
		goto out;
	}
	j.link = sst.st_dev == dst.st_dev;

	if (!qf_place(&j, 'H')) {
		set_all(a, addrs, ADDR_DEFER, j.err, j.text);
		goto out;
	}
	if (!qf_place(&j, 'D')) {
		/* Never leave a header file without its data. */
		unlinkat(j.ddfd, arena_printf(a, "%s-H", j.id), 0);
		set_all(a, addrs, ADDR_DEFER, j.err, j.text);
		goto out;
	}
	/* The new names must survive a crash: the original message is removed next. */
	if (fsync(j.ddfd) != 0) {
		int e = errno;
		unlinkat(j.ddfd, arena_printf(a, "%s-D", j.id), 0);
		unlinkat(j.ddfd, arena_printf(a, "%s-H", j.id), 0);
		set_all(a, addrs, ADDR_DEFER, e, arena_printf(a,
			"%s transport accessing directory: %s failed with error: %s",
			t->name, dstdir, strerror(e)));
		goto out;
	}
	set_all(a, addrs, ADDR_OK, 0, NULL);
out:
	if (j.sdfd >= 0)
		close(j.sdfd);
	if (j.ddfd >= 0)
		close(j.ddfd);
}

const transport_ops queuefile_transport_ops = {
	.remote = false,
	.deliver = queuefile_deliver,
};
