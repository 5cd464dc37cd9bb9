/* appendfile quotas (Exim 4.96: quota, quota_filecount, quota_is_inclusive, quota_directory,
 * quota_size_regex, mailbox_size, mailbox_filecount, quota_warn_threshold/_message, and the
 * maildir++ maildirsize file with maildir_quota_directory_regex). Sizes are what the files hold
 * (st_size), as Exim counts them, not the blocks they occupy.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/submit.h"
#include "drivers/transports/appendfile_internal.h"
#include "lib/log.h"

/* Bounds on a quota scan: a mailbox tree deeper or larger than this is not a mailbox. */
#define AF_SCAN_MAX_DEPTH 16
#define AF_SCAN_MAX_ENTRIES 10000000L
/* maildir++: a maildirsize file larger than this is recalculated. */
#define AF_MAILDIRSIZE_MAX 5120

bool af_parse_size(sv s, bool allow_percent, long long of_quota, long long *out, bool *no_check)
{
	s = sv_trim(s);
	if (no_check)
		*no_check = false;
	const char *p = s.p, *e = s.p + s.len;
	if (p == e) {
		*out = 0;
		return true;
	}
	long double v = 0;
	bool digits = false;
	while (p < e && *p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		digits = true;
	}
	if (p < e && *p == '.') {
		long double scale = 0.1L;
		for (p++; p < e && *p >= '0' && *p <= '9'; p++, scale /= 10) {
			v += (*p - '0') * scale;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (p < e && allow_percent && *p == '%') {
		p++;
		v = of_quota > 0 ? v * of_quota / 100 : 0;
	} else if (p < e && (*p == 'K' || *p == 'k')) {
		v *= 1024.0L, p++;
	} else if (p < e && (*p == 'M' || *p == 'm')) {
		v *= 1024.0L * 1024, p++;
	} else if (p < e && (*p == 'G' || *p == 'g')) {
		v *= 1024.0L * 1024 * 1024, p++;
	}
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p < e && *p == '/') {
		sv mod = sv_trim(sv_make(p + 1, (size_t)(e - p - 1)));
		if (!sv_eq_cstr(mod, "no_check") || no_check == NULL)
			return false;
		*no_check = true;
		p = e;
	}
	if (p != e || v > 9.0e18L)
		return false;
	*out = (long long)v;
	return true;
}

/* Expand and parse one size option. false: outcome recorded. */
static bool size_option(af_ctx *x, const char *name, const char *src, bool allow_percent, long long *out,
	bool *no_check)
{
	if (src == NULL)
		return true;
	sv v;
	xbuf err;
	xbuf_init(&err, x->a);
	int rc = af_expand(x, src, &v, &err);
	if (rc != XP_OK) {
		af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Expansion of \"%s\" (%s setting for %s transport) failed: %s",
			src, name, x->t->name, rc == XP_FORCEFAIL ? "forced failure" : xbuf_cstr(&err));
		return false;
	}
	if (!af_parse_size(v, allow_percent, x->quota, out, no_check)) {
		af_fail(x, ADDR_DEFER, 0, "Invalid %s value \"%.*s\" for %s transport", name, (int)v.len, v.p, x->t->name);
		return false;
	}
	return true;
}

bool af_quota_setup(af_ctx *x)
{
	const struct appendfile_transport_options *o = x->o;
	if (!size_option(x, "quota", o->quota, false, &x->quota, &x->quota_no_check) ||
		!size_option(x, "quota_filecount", o->quota_filecount, false, &x->quota_filecount, &x->filecount_no_check) ||
		!size_option(x, "quota_warn_threshold", o->quota_warn_threshold, true, &x->quota_warn_threshold, NULL))
		return false;
	if (o->mailbox_size && !size_option(x, "mailbox_size", o->mailbox_size, false, &x->mailbox_size, NULL))
		return false;
	if (o->mailbox_filecount &&
		!size_option(x, "mailbox_filecount", o->mailbox_filecount, false, &x->mailbox_filecount, NULL))
		return false;
	if (o->quota_directory) {
		sv v;
		xbuf err;
		xbuf_init(&err, x->a);
		int rc = af_expand(x, o->quota_directory, &v, &err);
		if (rc == XP_ERROR) {
			af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Expansion of \"%s\" (quota_directory setting for %s transport) failed: %s",
				o->quota_directory, x->t->name, xbuf_cstr(&err));
			return false;
		}
		if (rc == XP_OK && v.len > 0)
			x->quota_directory = sv_dup(x->a, v);
	}
	if (o->maildir_format && o->maildir_use_size_file) {
		xbuf err;
		xbuf_init(&err, x->a);
		bool on = false;
		if (xp_expand_bool(x->env, sv_cstr(o->maildir_use_size_file), &on, &err) == XP_ERROR) {
			af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Expansion of \"%s\" (maildir_use_size_file for %s transport) failed: %s",
				o->maildir_use_size_file, x->t->name, xbuf_cstr(&err));
			return false;
		}
		x->use_size_file = on;
	}
	return true;
}

typedef struct scan {
	pcre2_code *size_re;
	pcre2_match_data *md;
	long entries;
} scan;

/* The size quota_size_regex finds in a file name (its first capture); -1: none. */
static long long size_from_name(scan *s, const char *name)
{
	if (!s->size_re)
		return -1;
	int rc = pcre2_match(s->size_re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, s->md, NULL);
	if (rc < 2)
		return -1;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
	long long v = 0;
	for (PCRE2_SIZE i = ov[2]; i < ov[3]; i++) {
		if (name[i] < '0' || name[i] > '9' || v > 100000000000000LL)
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return v;
}

static bool walk(scan *s, const char *dir, int depth, pcre2_code *dir_re, pcre2_match_data *dmd,
	long long *size, long long *count)
{
	if (depth > AF_SCAN_MAX_DEPTH)
		return true;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT;
	struct dirent *de;
	size_t dl = strlen(dir);
	bool ok = true;
	while ((de = readdir(d)) != NULL) {
		if (++s->entries > AF_SCAN_MAX_ENTRIES)
			break;
		const char *n = de->d_name;
		if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
			continue;
		char *path = malloc(dl + strlen(n) + 2);
		if (!path) {
			ok = false;
			break;
		}
		sprintf(path, "%s/%s", dir, n);
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				bool take = dir_re == NULL ||
					pcre2_match(dir_re, (PCRE2_SPTR)n, PCRE2_ZERO_TERMINATED, 0, 0, dmd, NULL) >= 0;
				if (take)
					ok = walk(s, path, depth + 1, NULL, NULL, size, count) && ok;
			} else if (S_ISREG(st.st_mode) && dir_re == NULL) {
				long long fs = size_from_name(s, n);
				if (fs < 0)
					/* Hard-linked copies share their space: count each name's share. */
					fs = st.st_nlink > 1 ? (long long)st.st_size / (long long)st.st_nlink : (long long)st.st_size;
				*size += fs;
				*count += 1;
			}
		}
		free(path);
	}
	closedir(d);
	return ok;
}

static pcre2_code *compile(const char *re)
{
	int ec;
	PCRE2_SIZE eo;
	return re ? pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL) : NULL;
}

bool af_dir_usage(af_ctx *x, const char *dir, const char *dir_regex, long long *size, long long *count)
{
	scan s = { 0 };
	*size = *count = 0;
	s.size_re = compile(x->o->quota_size_regex);
	s.md = s.size_re ? pcre2_match_data_create_from_pattern(s.size_re, NULL) : NULL;
	pcre2_code *dre = compile(dir_regex);
	pcre2_match_data *dmd = dre ? pcre2_match_data_create_from_pattern(dre, NULL) : NULL;
	bool ok = walk(&s, dir, 0, dre, dmd, size, count);
	pcre2_match_data_free(s.md);
	pcre2_code_free(s.size_re);
	pcre2_match_data_free(dmd);
	pcre2_code_free(dre);
	return ok;
}

/* One maildirsize number: an optional '-' (deletions count down) and at most 15 digits. */
static bool number(const char **pp, const char *end, long long *out)
{
	const char *p = *pp;
	bool neg = p < end && *p == '-';
	if (neg)
		p++;
	long long v = 0;
	int digits = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (++digits > 15)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (digits == 0)
		return false;
	*out = neg ? -v : v;
	*pp = p;
	return true;
}

bool af_maildirsize_parse(const char *text, size_t n, const char *quota_line, long long *size, long long *count)
{
	const char *nl = memchr(text, '\n', n);
	if (!nl || (size_t)(nl - text) != strlen(quota_line) || memcmp(text, quota_line, strlen(quota_line)) != 0)
		return false;
	*size = *count = 0;
	const char *p = nl + 1, *e = text + n;
	while (p < e) {
		const char *le = memchr(p, '\n', (size_t)(e - p));
		if (!le)
			return false;  /* a line being written by someone else: recalculate */
		long long sz, ct;
		const char *q = p;
		if (!number(&q, le, &sz) || q == le || *q != ' ')
			return false;
		while (q < le && *q == ' ')
			q++;
		if (!number(&q, le, &ct) || q != le)
			return false;
		*size += sz;
		*count += ct;
		/* Addends are below 10^15: a sum cannot overflow before this stops it. */
		if (*size > 1000000000000000000LL || *size < -1000000000000000000LL ||
			*count > 1000000000000000000LL || *count < -1000000000000000000LL)
			return false;
		p = le + 1;
	}
	return true;
}

bool af_maildirsize_read(af_ctx *x, const char *dir, long long *size, long long *count, int *fd_out)
{
	*fd_out = -1;
	char *path = arena_printf(x->a, "%s/maildirsize", dir);
	char *quota_line = arena_printf(x->a, "%lldS,%lldC", x->quota, x->quota_filecount);
	int fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		char buf[AF_MAILDIRSIZE_MAX + 1];
		ssize_t n = pread(fd, buf, sizeof buf, 0);
		if (n > 0 && n <= AF_MAILDIRSIZE_MAX && af_maildirsize_parse(buf, (size_t)n, quota_line, size, count)) {
			*fd_out = fd;
			return true;
		}
		close(fd);
	}
	/* Missing, stale quota, too long or damaged: count again and replace it whole. */
	if (!af_dir_usage(x, dir, x->o->maildir_quota_directory_regex, size, count)) {
		af_fail(x, ADDR_DEFER, errno, "failed to compute the size of maildir %s", dir);
		return false;
	}
	char *tmp = arena_printf(x->a, "%s/tmp/%ld.%d_maildirsize", dir, (long)time(NULL), (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)x->o->mode);
	if (fd < 0) {
		af_fail(x, ADDR_DEFER, errno, "failed to create %s", tmp);
		return false;
	}
	char *body = arena_printf(x->a, "%s\n%lld %lld\n", quota_line, *size, *count);
	size_t bl = strlen(body);
	if (write(fd, body, bl) != (ssize_t)bl || fsync(fd) != 0 || rename(tmp, path) != 0) {
		af_fail(x, ADDR_DEFER, errno, "failed to write %s", path);
		close(fd);
		(void)unlink(tmp);
		return false;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_APPEND);
	*fd_out = fd;
	return true;
}

void af_maildirsize_add(int fd, long long size, long long count)
{
	char line[64];
	int n = snprintf(line, sizeof line, "%lld %lld\n", size, count);
	/* One write with O_APPEND: concurrent deliveries' lines do not interleave. */
	if (write(fd, line, (size_t)n) == n)
		(void)fsync(fd);
}

void af_quota_exceeded(af_ctx *x, bool filecount, const char *dataname)
{
	af_fail(x, ADDR_DEFER, AF_ERRNO_EXIMQUOTA, "mailbox is full (MTA-imposed%s quota exceeded while writing to %s)",
		filecount ? " filecount" : "", dataname);
	if (x->last_read > 0 && time(NULL) >= x->last_read)
		x->more_errno = (int)(time(NULL) - x->last_read);
}

bool af_quota_check(af_ctx *x, long long size, long long count, const char *dataname)
{
	long long msg = x->c->m->size;
	bool incl = x->o->quota_is_inclusive;
	if (x->quota > 0 && !x->quota_no_check && (incl ? size + msg > x->quota : size > x->quota)) {
		af_quota_exceeded(x, false, dataname);
		return false;
	}
	if (x->quota_filecount > 0 && !x->filecount_no_check &&
		(incl ? count + 1 > x->quota_filecount : count > x->quota_filecount)) {
		af_quota_exceeded(x, true, dataname);
		return false;
	}
	return true;
}

void af_quota_warn(af_ctx *x, long long before, long long after)
{
	long long thr = x->quota_warn_threshold;
	if (thr <= 0 || before >= thr || after < thr || x->o->quota_warn_message == NULL)
		return;
	sv text;
	xbuf err;
	xbuf_init(&err, x->a);
	if (af_expand(x, x->o->quota_warn_message, &text, &err) != XP_OK) {
		log_write(LOG_MAIN | LOG_PANIC, "%s: failed to expand quota_warn_message for %s transport: %s",
			x->c->m->id, x->t->name, xbuf_cstr(&err));
		return;
	}
	xbuf msg;
	xbuf_init(&msg, x->a);
	/* The warning names its recipients in its own To: line; it needs a From: as well. */
	bool has_from = false;
	for (const char *p = text.p, *e = text.p + text.len; p < e;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(e - p);
		if (ll == 0)
			break;
		if (ll >= 5 && strncasecmp(p, "from:", 5) == 0)
			has_from = true;
		p += ll + (nl != NULL);
	}
	/* As Exim: marked as automatic, so nobody replies to it. */
	xbuf_puts(&msg, "Auto-Submitted: auto-replied\n");
	if (!has_from) {
		const char *qd = conf_main_string("qualify_domain");
		if (!qd)
			qd = conf_main_string("primary_hostname");
		xbuf_printf(&msg, "From: Mail Delivery System <Mailer-Daemon@%s>\n", qd ? qd : "localhost");
	}
	xbuf_putsv(&msg, text);
	submit_request r = {
		.sender = sv_cstr(""),
		.text = xbuf_sv(&msg),
		.reference_id = sv_cstr(x->c->m->id),
		.extract_recipients = true,
	};
	char id[MSG_ID_LEN + 1];
	xbuf_reset(&err);
	if (!submit_message(x->c->sc, &r, id, &err))
		log_write(LOG_MAIN, "%s: failed to send quota warning message: %s", x->c->m->id, xbuf_cstr(&err));
}
