/* Durable file replacement; see durable.h. */
#include "lib/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned tmp_counter;

static char *vformat(const char *fmt, va_list ap)
{
	xbuf b;
	xbuf_init(&b, NULL);
	xbuf_vprintf(&b, fmt, ap);
	return b.p ? b.p : strdup("");
}

/* Remember the first failure, drop the temporary file, and report. */
static bool fail(durable_file *f, xbuf *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(durable_file *f, xbuf *err, const char *fmt, ...)
{
	if (!f->error) {
		va_list ap;
		va_start(ap, fmt);
		f->error = vformat(fmt, ap);
		va_end(ap);
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->tmp_path) {
		unlink(f->tmp_path);
		free(f->tmp_path);
		f->tmp_path = NULL;
	}
	if (err)
		xbuf_puts(err, f->error ? f->error : "out of memory");
	return false;
}

/* The directory part of a path ("." when there is none). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

bool durable_open(durable_file *f, const char *path, mode_t mode, xbuf *err)
{
	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->path = strdup(path);
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!f->path || *base == 0)
		return fail(f, err, "cannot write \"%s\": not a file name", path);
	size_t dirlen = (size_t)(base - path);
	for (int attempt = 0; attempt < 100; attempt++) {
		xbuf name;
		xbuf_init(&name, NULL);
		xbuf_printf(&name, "%.*s.%s.tmp.%ld.%u", (int)dirlen, path, base, (long)getpid(), ++tmp_counter);
		int fd = open(xbuf_cstr(&name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			xbuf_free(&name);
			continue;
		}
		if (fd < 0) {
			int e = errno;
			bool r = fail(f, err, "failed to create temporary file \"%s\": %s", xbuf_cstr(&name), strerror(e));
			xbuf_free(&name);
			return r;
		}
		f->fd = fd;
		f->tmp_path = name.p;
		if (fchmod(fd, mode) != 0)
			return fail(f, err, "failed to set mode of \"%s\": %s", f->tmp_path, strerror(errno));
		return true;
	}
	return fail(f, err, "failed to create a temporary file for \"%s\": too many attempts", path);
}

bool durable_adopt(durable_file *f, const char *path, int fd, const char *tmp_path, xbuf *err)
{
	memset(f, 0, sizeof *f);
	f->fd = fd;
	f->path = strdup(path);
	f->tmp_path = strdup(tmp_path);
	if (!f->path || !f->tmp_path) {
		if (!f->tmp_path) { /* fail() removes the file only by this name */
			unlink(tmp_path);
		}
		return fail(f, err, "cannot write \"%s\": out of memory", path);
	}
	return true;
}

bool durable_write(durable_file *f, const void *p, size_t n, xbuf *err)
{
	if (f->error || f->done || f->fd < 0)
		return fail(f, err, "cannot write \"%s\": file is not open", f->path ? f->path : "");
	const char *c = p;
	while (n) {
		ssize_t w = write(f->fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return fail(f, err, "failed to write \"%s\": %s", f->tmp_path, strerror(errno));
		}
		c += w;
		n -= (size_t)w;
	}
	return true;
}

bool durable_sync_dir(const char *dir, xbuf *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (err)
			xbuf_printf(err, "failed to open directory \"%s\": %s", dir, strerror(errno));
		return false;
	}
	bool ok = fsync(fd) == 0;
	if (!ok && err)
		xbuf_printf(err, "fsync of directory \"%s\" failed: %s", dir, strerror(errno));
	close(fd);
	return ok;
}

bool durable_commit(durable_file *f, xbuf *err)
{
	if (f->error || f->done || f->fd < 0)
		return fail(f, err, "cannot commit \"%s\": file is not open", f->path ? f->path : "");
	if (fsync(f->fd) != 0)
		return fail(f, err, "fsync of \"%s\" failed: %s", f->tmp_path, strerror(errno));
	int fd = f->fd;
	f->fd = -1;
	if (close(fd) != 0)
		return fail(f, err, "failed to close \"%s\": %s", f->tmp_path, strerror(errno));
	if (rename(f->tmp_path, f->path) != 0)
		return fail(f, err, "failed to rename \"%s\" to \"%s\": %s", f->tmp_path, f->path, strerror(errno));
	free(f->tmp_path);
	f->tmp_path = NULL;
	f->done = true;
	char *dir = dir_of(f->path);
	xbuf e;
	xbuf_init(&e, NULL);
	bool ok = dir && durable_sync_dir(dir, &e);
	if (!ok)
		fail(f, err, "%s", dir ? xbuf_cstr(&e) : "out of memory");
	xbuf_free(&e);
	free(dir);
	free(f->path);
	f->path = NULL;
	return ok;
}

void durable_abort(durable_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp_path)
		unlink(f->tmp_path);
	free(f->tmp_path);
	free(f->path);
	free(f->error);
	f->tmp_path = f->path = f->error = NULL;
	f->done = true;
}

bool durable_write_file(const char *path, const void *p, size_t n, mode_t mode, xbuf *err)
{
	durable_file f;
	bool ok = durable_open(&f, path, mode, err) && durable_write(&f, p, n, err) && durable_commit(&f, err);
	durable_abort(&f); /* frees; removes the temporary file if anything failed */
	return ok;
}

bool durable_write_out(int fd)
{
	return sync_file_range(fd, 0, 0,
		SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0;
}

bool durable_sync(durable_file *f, xbuf *err)
{
	if (f->error || f->done || f->fd < 0 || !f->tmp_path)
		return fail(f, err, "cannot commit \"%s\": file is not open", f->path ? f->path : "");
	/* Content and size durable before the name appears: without a journal ordering metadata,
	 * only this keeps a crash from exposing a short file under the final name. */
	if (fdatasync(f->fd) != 0)
		return fail(f, err, "failed to write \"%s\": %s", f->tmp_path, strerror(errno));
	f->synced = true;
	return true;
}

/* The rename itself; need_sync: only after a successful durable_sync. */
static bool rename_into_place(durable_file *f, bool need_sync, xbuf *err)
{
	if (f->error || f->done || f->fd < 0 || !f->tmp_path || (need_sync && !f->synced))
		return fail(f, err, "cannot rename \"%s\": %s", f->path ? f->path : "",
			need_sync && !f->synced ? "content not synced" : "file is not open");
	if (rename(f->tmp_path, f->path) != 0)
		return fail(f, err, "failed to rename \"%s\" to \"%s\": %s", f->tmp_path, f->path, strerror(errno));
	free(f->tmp_path);
	f->tmp_path = NULL;
	return true;
}

bool durable_rename(durable_file *f, xbuf *err)
{
	return rename_into_place(f, true, err);
}

bool durable_rename_early(durable_file *f, xbuf *err)
{
	return rename_into_place(f, false, err);
}

bool durable_publish(durable_file *f, xbuf *err)
{
	return durable_sync(f, err) && durable_rename(f, err);
}

bool durable_finish(durable_file *f, xbuf *err)
{
	if (f->error || f->done || f->fd < 0 || f->tmp_path)
		return fail(f, err, "cannot finish \"%s\": file is not published", f->path ? f->path : "");
	/* The content is clean after the sync: this waits for nothing and reports errors. */
	bool ok = durable_write_out(f->fd);
	int e = errno;
	int fd = f->fd;
	f->fd = -1;
	if (close(fd) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (!ok)
		return fail(f, err, "write-back of \"%s\" failed: %s", f->path, strerror(e));
	f->done = true;
	free(f->path);
	f->path = NULL;
	return true;
}
