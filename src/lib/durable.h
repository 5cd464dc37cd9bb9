/* Durable file replacement: the new content is written to a temporary file in the same
 * directory, flushed (fsync), renamed over the final name, and the directory is flushed, so after
 * a crash the name holds either the old or the complete new content, never a mixture.
 *
 *   durable_file f;
 *   if (!durable_open(&f, path, 0640, &err)) ...;
 *   durable_write(&f, p, n, &err) ... ;        (any number of times)
 *   durable_commit(&f, &err) or durable_abort(&f);
 *
 * Every failure returns false with a message naming the operation, the file and the errno text,
 * e.g.  failed to write "/spool/.x.tmp.123.1": No space left on device
 * and removes the temporary file at once; later calls on the same handle fail with the same
 * message, and durable_abort is always safe (also after commit). The temporary name is
 * "<dir>/.<name>.tmp.<pid>.<n>", created O_EXCL|O_NOFOLLOW, then given exactly `mode`.
 */
#ifndef POSTERN_LIB_DURABLE_H
#define POSTERN_LIB_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/str.h"

typedef struct durable_file {
	int fd;           /* -1 when not open */
	char *path;       /* final name (malloc) */
	char *tmp_path;   /* temporary name (malloc); NULL once renamed or removed */
	char *error;      /* first failure's message (malloc), NULL while all is well */
	bool done;        /* committed or aborted */
	bool synced;      /* durable_sync succeeded: the content is on stable storage */
} durable_file;

bool durable_open(durable_file *f, const char *path, mode_t mode, xbuf *err);
bool durable_write(durable_file *f, const void *p, size_t n, xbuf *err);
/* durable_open for a temporary file the caller made already (empty, in path's directory, with
 * its final mode): fd and tmp_path become the handle's, as if durable_open had made them. */
bool durable_adopt(durable_file *f, const char *path, int fd, const char *tmp_path, xbuf *err);
bool durable_commit(durable_file *f, xbuf *err);
void durable_abort(durable_file *f);

/* Group-commit form of durable_commit, for callers that make the file system durable in one
 * sync for many files (core/spool_commit.h):
 *   durable_publish  makes the content durable (fdatasync: data and size), then renames the
 *                    temporary file into place; the descriptor stays open;
 *   (the caller makes the new name durable: a directory fsync, shared by many callers)
 *   durable_finish   reports any write-back error the kernel recorded for the file since it was
 *                    opened, closes it. A failed publish removes the temporary file; after a
 *                    failed finish the final name exists and it is the caller's to remove.
 * Content durable before the rename: a crash can expose the new name only with complete content,
 * journal or not (docs/spool.md, durability). */
bool durable_publish(durable_file *f, xbuf *err);
/* durable_publish in two steps, for callers that make other files durable in between (the
 * spool syncs -D in parallel and must see it done before -H gets its name):
 *   durable_sync    fdatasync of the temporary file (content and size on stable storage);
 *   durable_rename  the rename into place; only after a successful durable_sync. */
bool durable_sync(durable_file *f, xbuf *err);
bool durable_rename(durable_file *f, xbuf *err);
/* The rename before the content is durable, for a caller that can tell incomplete content
 * after a crash by itself (the spool's integrity line, core/spool_integrity.h) and syncs the
 * descriptor (fdatasync of f->fd) before it relies on the file; then durable_finish. */
bool durable_rename_early(durable_file *f, xbuf *err);
bool durable_finish(durable_file *f, xbuf *err);
/* Write out a range of fd and wait for it (sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER);
 * false with errno on an I/O error recorded for the file since fd was opened. */
bool durable_write_out(int fd);

/* The whole sequence for content already in memory. */
bool durable_write_file(const char *path, const void *p, size_t n, mode_t mode, xbuf *err);

/* fsync a directory (after creating, renaming or unlinking entries in it). */
bool durable_sync_dir(const char *dir, xbuf *err);

#endif
