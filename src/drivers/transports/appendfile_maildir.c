/* Delivery into a new file per message (Exim 4.96 "Operational details for delivery to a new
 * file", "Maildir delivery", "Non-special new file delivery"): the message is written under a
 * temporary name, fsync'd, then given its final name with link() (which never replaces an
 * existing file) and the directory is fsync'd, so a crash leaves either no file under the final
 * name or the complete message. Maildir names are Exim's "<sec>.M<usec>P<pid>.<host>", unique
 * because this process waits for the clock to move on before it can make another one.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/dirsync.h"
#include "core/spool.h"
#include "drivers/transports/appendfile_internal.h"

static const char *hostname(void)
{
	const char *h = conf_main_string("primary_hostname");
	return h ? h : "localhost";
}

static bool fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

static bool regex_matches(const char *re, const char *subject)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
	if (!c)
		return false;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
	bool m = pcre2_match(c, (PCRE2_SPTR)subject, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	pcre2_code_free(c);
	return m;
}

/* The directory's current usage for the quota checks; size_fd: an open maildirsize (-1: none). */
static bool usage(af_ctx *x, const char *qdir, long long *size, long long *count, int *size_fd)
{
	*size_fd = -1;
	*size = *count = 0;
	if (x->quota <= 0 && x->quota_filecount <= 0 && x->quota_warn_threshold <= 0 && !x->use_size_file)
		return true;
	if (x->use_size_file) {
		if (!af_maildirsize_read(x, qdir, size, count, size_fd))
			return false;
	} else if (!af_dir_usage(x, qdir, NULL, size, count)) {
		af_fail(x, ADDR_DEFER, errno, "failed to compute the size of %s", qdir);
		return false;
	}
	if (x->mailbox_size >= 0)
		*size = x->mailbox_size;
	if (x->mailbox_filecount >= 0)
		*count = x->mailbox_filecount;
	return true;
}

/* Write the message into fd (a new file named dataname in messages). On failure the outcome
 * is recorded; the caller removes the file. */
static bool write_new(af_ctx *x, int fd, long long size, const char *dataname)
{
	x->w.size_limit = x->quota > 0 && !x->quota_no_check && x->o->quota_is_inclusive ? x->quota - size : 0;
	if (x->w.size_limit < 0)
		x->w.size_limit = 1;
	xbuf err;
	xbuf_init(&err, x->a);
	int errnum = 0;
	bool ok = af_write_message(x, fd, &err, &errnum);
	if (ok && fsync(fd) != 0) {
		ok = false;
		errnum = errno;
	}
	struct stat st;
	if (ok && fstat(fd, &st) != 0) {
		ok = false;
		errnum = errno;
	}
	if (ok) {
		x->written = st.st_size;
		x->inode = (long long)st.st_ino;
		return true;
	}
	af_write_failed(x, errnum, &err, dataname);
	return false;
}

/* The expanded maildir_tag: printing characters only, a leading ':' before an alphanumeric.
 * false: outcome recorded. */
static bool maildir_tag(af_ctx *x, const char **tag)
{
	*tag = "";
	if (x->o->maildir_tag == NULL)
		return true;
	x->size_written = x->written;  /* $message_size is what was written */
	sv v;
	xbuf err;
	xbuf_init(&err, x->a);
	int rc = af_expand(x, x->o->maildir_tag, &v, &err);
	x->size_written = -1;
	if (rc == XP_FORCEFAIL)
		return true;
	if (rc == XP_ERROR) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Expansion of \"%s\" (maildir_tag for %s transport) failed: %s",
			x->o->maildir_tag, x->t->name, xbuf_cstr(&err));
		return false;
	}
	xbuf b;
	xbuf_init(&b, x->a);
	for (size_t i = 0; i < v.len; i++) {
		unsigned char ch = (unsigned char)v.p[i];
		if (ch == '/') {
			af_fail(x, ADDR_DEFER, 0, "Invalid character '/' in maildir_tag \"%.*s\" for %s transport", (int)v.len,
				v.p, x->t->name);
			return false;
		}
		if (isprint(ch)) {
			if (b.len == 0 && isalnum(ch))
				xbuf_putc(&b, ':');
			xbuf_putc(&b, (char)ch);
		}
	}
	*tag = xbuf_cstr(&b);
	return true;
}

static void deliver_maildir(af_ctx *x)
{
	const struct appendfile_transport_options *o = x->o;
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	for (int i = 0; i < 3; i++) {
		char *d = arena_printf(x->a, "%s/%s", x->path, subdirs[i]);
		if (mkdir(d, (mode_t)o->directory_mode) == 0)
			(void)chmod(d, (mode_t)o->directory_mode);
		else if (errno != EEXIST) {
			af_fail(x, ADDR_DEFER, errno, "failed to create directory %s (euid=%ld egid=%ld)", d, (long)geteuid(),
				(long)getegid());
			return;
		}
	}
	char *folderfile = arena_printf(x->a, "%s/maildirfolder", x->path);
	if (o->maildirfolder_create_regex && regex_matches(o->maildirfolder_create_regex, x->path)) {
		int fd = open(folderfile, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, (mode_t)o->mode);
		if (fd < 0) {
			af_fail(x, ADDR_DEFER, errno, "failed to create maildirfolder file in %s", x->path);
			return;
		}
		close(fd);
	}
	/* A maildir++ folder counts against its parent, the user's top-level maildir. */
	const char *qdir = x->quota_directory;
	if (qdir == NULL) {
		struct stat st;
		if (lstat(folderfile, &st) == 0) {
			char *parent = arena_printf(x->a, "%s", x->path);
			char *slash = strrchr(parent, '/');
			if (slash && slash != parent)
				*slash = '\0';
			qdir = parent;
		} else {
			qdir = x->path;
		}
	}
	/* With a maildirsize file, folders the quota regex excludes are not subject to the quota. */
	bool quota_applies = true;
	if (x->use_size_file && strcmp(qdir, x->path) != 0 && o->maildir_quota_directory_regex) {
		const char *base = strrchr(x->path, '/');
		quota_applies = regex_matches(o->maildir_quota_directory_regex, base ? base + 1 : x->path);
	}

	int retries = o->maildir_retries > 0 ? o->maildir_retries : 1;
	const char *host = hostname();
	char *base = NULL, *tmpname = NULL;
	struct timeval tv;
	int fd = -1;
	/* One process makes many deliveries (queue workers, deliver_inproc.c): the microseconds
	 * tell them apart; should the clock repeat one, link() below refuses to replace the older
	 * file and the address defers. */
	for (int i = 0; i < retries; i++) {
		if (i > 0)
			sleep(2);
		gettimeofday(&tv, NULL);
		base = arena_printf(x->a, "%ld.M%ldP%ld.%s", (long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), host);
		tmpname = arena_printf(x->a, "%s/tmp/%s", x->path, base);
		fd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)o->mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		af_fail(x, ADDR_DEFER, errno, "while creating file %s", tmpname);
		return;
	}
	(void)fchmod(fd, (mode_t)o->mode);
	const char *dataname = arena_printf(x->a, "tmp/%s", base);

	long long size = 0, count = 0;
	int size_fd = -1;
	if (quota_applies && !usage(x, qdir, &size, &count, &size_fd))
		goto fail;
	if (quota_applies && !af_quota_check(x, size, count, dataname))
		goto fail;
	if (!write_new(x, fd, quota_applies ? size : 0, dataname))
		goto fail;
	close(fd);
	fd = -1;
	const char *tag;
	if (!maildir_tag(x, &tag))
		goto fail;
	char *newname = arena_printf(x->a, "%s/new/%s%s", x->path, base, tag);
	int lr = link(tmpname, newname);
	if (lr != 0 && errno == ENAMETOOLONG && tag[0] != '\0') {
		/* The tag made the name too long: deliver without it. */
		newname = arena_printf(x->a, "%s/new/%s", x->path, base);
		lr = link(tmpname, newname);
	}
	if (lr != 0)
		goto link_failed;
	(void)unlink(tmpname);
	/* In a queue worker the runner syncs new/ once for several deliveries (core/dirsync.h). */
	const char *newdir = arena_printf(x->a, "%s/new", x->path);
	if (!dirsync_defer(newdir) && !fsync_dir(newdir)) {
		af_fail(x, ADDR_DEFER, errno, "failed to sync directory %s/new", x->path);
		(void)unlink(newname);
		goto fail;
	}
	if (size_fd >= 0) {
		af_maildirsize_add(size_fd, x->written, 1);
		close(size_fd);
		size_fd = -1;
	}
	/* Uniqueness of the next name this process makes: let the microsecond clock move on. */
	for (struct timeval now;; ) {
		gettimeofday(&now, NULL);
		if (now.tv_sec != tv.tv_sec || now.tv_usec != tv.tv_usec)
			break;
	}
	x->result = ADDR_OK;
	af_quota_warn(x, size, size + x->written);
	return;

link_failed:
	af_fail(x, ADDR_DEFER, errno, "while renaming %s as %s", tmpname, newname);
fail:
	if (fd >= 0)
		close(fd);
	if (size_fd >= 0)
		close(size_fd);
	(void)unlink(tmpname);
}

/* Neither maildir nor mailstore: a file named by directory_file (which may use $inode). */
static void deliver_plain(af_ctx *x)
{
	char *tmpname = arena_printf(x->a, "%s/temp.%ld.%s", x->path, (long)getpid(), hostname());
	int fd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)x->o->mode);
	if (fd < 0) {
		af_fail(x, ADDR_DEFER, errno, "while creating file %s", tmpname);
		return;
	}
	(void)fchmod(fd, (mode_t)x->o->mode);
	long long size = 0, count = 0;
	int size_fd = -1;
	const char *qdir = x->quota_directory ? x->quota_directory : x->path;
	char *final = NULL;
	if (!usage(x, qdir, &size, &count, &size_fd) || !af_quota_check(x, size, count, tmpname) ||
		!write_new(x, fd, size, tmpname))
		goto fail;
	close(fd);
	fd = -1;
	sv name;
	xbuf err;
	xbuf_init(&err, x->a);
	int rc = af_expand(x, x->o->directory_file, &name, &err);
	if (rc != XP_OK) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Expansion of \"%s\" (directory_file for %s transport) failed: %s",
			x->o->directory_file, x->t->name, rc == XP_FORCEFAIL ? "forced failure" : xbuf_cstr(&err));
		goto fail;
	}
	final = arena_printf(x->a, "%s/%.*s", x->path, (int)name.len, name.p);
	if (name.len == 0 || memchr(name.p, '/', name.len) != NULL || link(tmpname, final) != 0) {
		af_fail(x, ADDR_DEFER, name.len && !memchr(name.p, '/', name.len) ? errno : 0,
			"while renaming %s as %s", tmpname, final);
		goto fail;
	}
	(void)unlink(tmpname);
	if (!fsync_dir(x->path)) {
		af_fail(x, ADDR_DEFER, errno, "failed to sync directory %s", x->path);
		(void)unlink(final);
		return;
	}
	x->result = ADDR_OK;
	af_quota_warn(x, size, size + x->written);
	return;
fail:
	if (fd >= 0)
		close(fd);
	if (size_fd >= 0)
		close(size_fd);
	(void)unlink(tmpname);
}

/* A mailstore envelope line: the expansion of mailstore_prefix/suffix, ending in a newline.
 * false: outcome recorded. */
static bool mailstore_affix(af_ctx *x, const char *name, const char *src, xbuf *out)
{
	if (src == NULL)
		return true;
	sv v;
	xbuf err;
	xbuf_init(&err, x->a);
	int rc = af_expand(x, src, &v, &err);
	if (rc == XP_FORCEFAIL)
		return true;
	if (rc != XP_OK) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Expansion of \"%s\" (%s for %s transport) failed: %s", src,
			name, x->t->name, xbuf_cstr(&err));
		return false;
	}
	xbuf_putsv(out, v);
	if (v.len == 0 || v.p[v.len - 1] != '\n')
		xbuf_putc(out, '\n');
	return true;
}

static bool write_whole(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* mailstore: <base>.msg holds the message, <base>.env the envelope; the envelope is written as
 * <base>.tmp first and renamed last, so a reader that waits for .env sees both complete. The
 * base name is the message id and this process's id in base 62, as Exim names it. */
static void deliver_mailstore(af_ctx *x)
{
	char idbuf[MSG_ID_LEN + 1];
	spool_format_message_id(idbuf, 0, 0, (long)getpid(), -1);
	char *base = arena_printf(x->a, "%s/%s-%.6s", x->path, x->c->m->id, idbuf + 7);
	x->mailstore_basename = base;
	char *tmp = arena_printf(x->a, "%s.tmp", base), *env = arena_printf(x->a, "%s.env", base);
	char *msgname = arena_printf(x->a, "%s.msg", base);
	int efd = -1, mfd = -1, size_fd = -1;
	long long size = 0, count = 0;
	const char *qdir = x->quota_directory ? x->quota_directory : x->path;
	if (!usage(x, qdir, &size, &count, &size_fd) || !af_quota_check(x, size, count, msgname))
		goto fail;
	efd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)x->o->mode);
	if (efd < 0) {
		af_fail(x, ADDR_DEFER, errno, "while creating file %s", tmp);
		goto fail;
	}
	(void)fchmod(efd, (mode_t)x->o->mode);
	xbuf e;
	xbuf_init(&e, x->a);
	if (!mailstore_affix(x, "mailstore_prefix", x->o->mailstore_prefix, &e))
		goto fail;
	xbuf_putsv(&e, x->return_path);
	xbuf_putc(&e, '\n');
	for (const address_item *a = x->addrs; a; a = a->next) {
		xbuf_putsv(&e, a->address);
		xbuf_putc(&e, '\n');
	}
	if (!mailstore_affix(x, "mailstore_suffix", x->o->mailstore_suffix, &e))
		goto fail;
	if (!write_whole(efd, e.p, e.len) || fsync(efd) != 0) {
		af_fail(x, ADDR_DEFER, errno, "error while writing to %s", tmp);
		goto fail;
	}
	mfd = open(msgname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)x->o->mode);
	if (mfd < 0) {
		af_fail(x, ADDR_DEFER, errno, "while creating file %s", msgname);
		goto fail;
	}
	(void)fchmod(mfd, (mode_t)x->o->mode);
	if (!write_new(x, mfd, size, msgname)) {
		(void)unlink(msgname);
		goto fail;
	}
	if (rename(tmp, env) != 0 || !fsync_dir(x->path)) {
		af_fail(x, ADDR_DEFER, errno, "while renaming %s as %s", tmp, env);
		(void)unlink(msgname);
		goto fail;
	}
	close(efd);
	close(mfd);
	if (size_fd >= 0)
		close(size_fd);
	x->result = ADDR_OK;
	af_quota_warn(x, size, size + x->written);
	return;
fail:
	if (efd >= 0)
		close(efd);
	if (mfd >= 0)
		close(mfd);
	if (size_fd >= 0)
		close(size_fd);
	(void)unlink(tmp);
}

void af_deliver_directory(af_ctx *x)
{
	struct stat st;
	if (stat(x->path, &st) != 0) {
		if (!af_make_dirs(x, x->path, true))
			return;
		if (stat(x->path, &st) != 0) {
			int e = errno;
			af_fail(x, ADDR_DEFER, e, "stat() error for %s: %s", x->path, strerror(e));
			return;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_NOTDIRECTORY, "%s is not a directory", x->path);
		return;
	}
	if (x->o->maildir_format)
		deliver_maildir(x);
	else if (x->o->mailstore_format)
		deliver_mailstore(x);
	else
		deliver_plain(x);
}
