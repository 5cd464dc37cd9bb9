/* The appendfile transport's delivery (Exim 4.96 "The appendfile transport"): works out where
 * the message goes (file, directory, or the path a redirection produced), how it is written
 * (prefix, suffix, check/escape strings, CRLF, BSMTP envelope), then hands over to the mbox
 * (appendfile_mbox.c) or new-file (appendfile_maildir.c) code and copies the outcome onto every
 * address of the batch. Nothing here reports success before the data is fsync'd: the two
 * delivery paths only set ADDR_OK after that.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "drivers/transports/appendfile_internal.h"
#include "drivers/transports/transport.h"

void af_fail(af_ctx *x, addr_result r, int basic_errno, const char *fmt, ...)
{
	x->result = r;
	x->basic_errno = basic_errno;
	xbuf b;
	xbuf_init(&b, x->a);
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	x->message = xbuf_cstr(&b);
}

/* $address_file, $inode, $message_size (after writing), $return_path. */
static bool af_var(void *ctx, sv name, xbuf *out)
{
	af_ctx *x = ctx;
	if (sv_eq_cstr(name, "address_file")) {
		if (x->address_file)
			xbuf_puts(out, x->address_file);
		return true;
	}
	if (sv_eq_cstr(name, "inode")) {
		if (x->inode < 0)
			return false;
		xbuf_printf(out, "%lld", x->inode);
		return true;
	}
	if (sv_eq_cstr(name, "message_size") && x->size_written >= 0) {
		xbuf_printf(out, "%lld", x->size_written);
		return true;
	}
	if (sv_eq_cstr(name, "mailstore_basename")) {
		if (x->mailstore_basename)
			xbuf_puts(out, x->mailstore_basename);
		return true;
	}
	if (sv_eq_cstr(name, "return_path")) {
		xbuf_putsv(out, x->return_path);
		return true;
	}
	return false;
}

int af_expand(af_ctx *x, const char *src, sv *out, xbuf *err)
{
	xbuf b;
	xbuf_init(&b, x->a);
	xbuf_reset(err);
	int rc = xp_expand(x->env, sv_cstr(src), &b, err);
	if (rc == XP_OK)
		*out = xbuf_sv(&b);
	return rc;
}

/* Expand one of the text options that may be unset (NULL: *out stays empty). false: deferred
 * with Exim's wording. */
static bool expand_text(af_ctx *x, const char *opt, const char *src, sv *out)
{
	*out = SV_NULL;
	if (src == NULL)
		return true;
	xbuf err;
	xbuf_init(&err, x->a);
	int rc = af_expand(x, src, out, &err);
	if (rc == XP_OK)
		return true;
	if (rc == XP_FORCEFAIL) {
		*out = SV_NULL;
		return true;
	}
	af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Expansion of \"%s\" (%s for %s transport) failed: %s",
		src, opt, x->t->name, xbuf_cstr(&err));
	return false;
}

bool af_make_dirs(af_ctx *x, const char *path, bool whole)
{
	size_t len = strlen(path);
	char *p = arena_alloc(x->a, len + 1);
	memcpy(p, path, len + 1);
	if (!whole) {
		char *slash = strrchr(p, '/');
		if (slash == NULL || slash == p)
			return true;
		*slash = '\0';
	}
	struct stat st;
	if (stat(p, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return true;
		af_fail(x, ADDR_DEFER, AF_ERRNO_NOTDIRECTORY, "%s is not a directory", p);
		return false;
	}
	/* Not allowed to create: what needs the directory fails later with Exim's text for it. */
	if (!x->o->create_directory || !af_create_allowed(x, p, false))
		return true;
	/* Create each missing component from the top; another delivery may create the same ones. */
	for (char *q = p + 1;; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char saved = *q;
		*q = '\0';
		if (mkdir(p, (mode_t)x->o->directory_mode) == 0) {
			/* mkdir's mode is reduced by the umask; directory_mode is what Exim gives it. */
			(void)chmod(p, (mode_t)x->o->directory_mode);
		} else if (errno != EEXIST) {
			int e = errno;
			af_fail(x, ADDR_DEFER, e, "failed to create directories for %s: %s", path, strerror(e));
			return false;
		}
		*q = saved;
		if (saved == '\0')
			break;
	}
	return true;
}

/* Is path at or below dir (after removing "." and ".." components lexically)? */
static bool path_below(arena *a, const char *path, const char *dir)
{
	size_t n = strlen(path);
	char *norm = arena_alloc(a, n + 2);
	size_t len = 0;
	const char *s = path;
	while (*s) {
		while (*s == '/')
			s++;
		const char *e = strchr(s, '/');
		size_t cl = e ? (size_t)(e - s) : strlen(s);
		if (cl == 0)
			break;
		if (cl == 1 && s[0] == '.') {
			/* nothing */
		} else if (cl == 2 && s[0] == '.' && s[1] == '.') {
			while (len > 0 && norm[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
		} else {
			norm[len++] = '/';
			memcpy(norm + len, s, cl);
			len += cl;
		}
		s += cl;
	}
	norm[len] = '\0';
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	return strncmp(norm, dir, dl) == 0 && (norm[dl] == '/' || norm[dl] == '\0');
}

bool af_create_allowed(af_ctx *x, const char *path, bool record)
{
	const char *cf = x->o->create_file;
	if (cf == NULL || strcmp(cf, "anywhere") == 0)
		return true;
	const char *base = NULL;
	bool dotdot_check = true;
	if (cf[0] == '/') {
		base = cf;
	} else if (x->addrs->home.len > 0) {
		base = sv_dup(x->a, x->addrs->home);
		dotdot_check = strcmp(cf, "belowhome") == 0;
	}
	bool ok = false;
	if (base != NULL && dotdot_check) {
		ok = path_below(x->a, path, base);
	} else if (base != NULL) {
		size_t bl = strlen(base);
		ok = strncmp(path, base, bl) == 0 && (path[bl] == '/' || base[bl - 1] == '/');
	}
	if (!ok && record)
		af_fail(x, ADDR_DEFER, AF_ERRNO_BADCREATE,
			"mailbox %s does not exist, but creation outside the home directory is not permitted", path);
	return ok;
}

bool af_write_message(af_ctx *x, int fd, xbuf *err, int *errnum)
{
	/* Files take what they are given: no per-write timeout (a transport_filter has its own). */
	return tp_write_fd(&x->w, fd, 0, err, errnum);
}

void af_write_failed(af_ctx *x, int errnum, const xbuf *err, const char *dataname)
{
	const char *text = xbuf_cstr(err);
	if (errnum == EFBIG && strncmp(text, "message is too big", 18) == 0)
		af_fail(x, ADDR_FAIL, 0, "%s", text);  /* message_size_limit: permanent, as Exim */
	else if (errnum == EFBIG && x->w.size_limit > 0)
		af_quota_exceeded(x, false, dataname);
	else if (errnum == EDQUOT)
		af_fail(x, ADDR_DEFER, errnum, "mailbox is full (quota exceeded while writing to file %s)", dataname);
	else if (errnum > 0)
		af_fail(x, ADDR_DEFER, errnum, "error while writing to %s", dataname);
	else
		af_fail(x, ADDR_DEFER, errnum, "%s", *text ? text : "error while writing the message");
}

/* The BSMTP envelope goes in front of the message, the terminating dot after it. */
static void bsmtp_envelope(af_ctx *x, sv prefix, sv suffix)
{
	const char *eol = x->o->use_crlf ? "\r\n" : "\n";
	xbuf b;
	xbuf_init(&b, x->a);
	xbuf_putsv(&b, prefix);
	xbuf_printf(&b, "MAIL FROM:<%.*s>%s", (int)x->return_path.len, x->return_path.p, eol);
	for (const address_item *a = x->addrs; a; a = a->next)
		xbuf_printf(&b, "RCPT TO:<%.*s>%s", (int)a->address.len, a->address.p, eol);
	xbuf_printf(&b, "DATA%s", eol);
	x->w.prefix = xbuf_sv(&b);
	xbuf e;
	xbuf_init(&e, x->a);
	xbuf_printf(&e, ".%s", eol);
	xbuf_putsv(&e, suffix);
	x->w.suffix = xbuf_sv(&e);
}

/* The defaults Postern's option reader fills in for mbox files; Exim leaves them unset when
 * "directory" is configured, so they do not apply to such a transport. */
static bool is_mbox_default(const char *v, const char *dflt)
{
	return v != NULL && strcmp(v, dflt) == 0;
}

/* Where the message goes. false: outcome recorded. */
static bool resolve_path(af_ctx *x)
{
	const struct appendfile_transport_options *o = x->o;
	address_item *first = x->addrs;
	bool pfr = first->kind == ADDR_FILE || first->kind == ADDR_DIRECTORY;
	if (pfr)
		x->address_file = sv_dup(x->a, first->address);
	const char *src = o->file ? o->file : o->directory;
	sv path;
	if (src != NULL) {
		xbuf err;
		xbuf_init(&err, x->a);
		int rc = af_expand(x, src, &path, &err);
		if (rc != XP_OK) {
			af_fail(x, ADDR_PANIC, AF_ERRNO_EXPANDFAIL,
				"Expansion of \"%s\" (file or directory name for %s transport) failed: %s", src,
				x->t->name, rc == XP_FORCEFAIL ? "forced failure" : xbuf_cstr(&err));
			return false;
		}
		x->is_directory = o->directory != NULL;
		/* Tainted names are refused unless create_file names a directory to check against. */
		if (path.taint && !(o->create_file && o->create_file[0] == '/')) {
			af_fail(x, ADDR_PANIC, ADDR_ERRNO_UNKNOWN, "Tainted '%.*s' (file or directory name for %s transport) not permitted",
				(int)path.len, path.p, x->t->name);
			return false;
		}
	} else if (pfr) {
		path = first->address;
		x->is_directory = first->kind == ADDR_DIRECTORY || (path.len > 0 && path.p[path.len - 1] == '/') ||
			o->maildir_format || o->mailstore_format;
	} else {
		af_fail(x, ADDR_PANIC, 0, "Mandatory file or directory option missing from %s transport", x->t->name);
		return false;
	}
	char *p = sv_dup(x->a, path);
	/* Trailing slashes name the directory itself. */
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if (p[0] != '/') {
		/* Observed from Exim 4.96 (a filter's "save box5", a Sieve "fileinto \"box5\""): a
		 * deferral, nothing in the panic log, and its "==" line names the item
		 * "save box5" (the "**" line of a retry timeout names it "box5"). */
		af_fail(x, ADDR_DEFER, AF_ERRNO_NOTABSOLUTE, "appendfile: file or directory name \"%s\" is not absolute", p);
		for (address_item *a = x->addrs; a; a = a->next)
			if (a->kind == ADDR_FILE || a->kind == ADDR_DIRECTORY)
				a->delivered_path = sv_cstr(arena_printf(x->a, "save " SV_FMT, SV_ARG(a->address)));
		return false;
	}
	if (strlen(p) > 4000) {
		af_fail(x, ADDR_DEFER, ENAMETOOLONG, "file or directory name too long");
		return false;
	}
	x->path = p;
	return true;
}

/* Set up the writer options: prefix, suffix, escapes, line ends, generic options. */
static bool writer_setup(af_ctx *x)
{
	const struct appendfile_transport_options *o = x->o;
	const char *prefix = o->message_prefix, *suffix = o->message_suffix;
	const char *check = o->check_string, *escape = o->escape_string;
	if (!o->use_bsmtp && (o->directory != NULL || (x->is_directory && (o->maildir_format || o->mailstore_format)))) {
		if (is_mbox_default(prefix, TRANSPORT_MBOX_MESSAGE_PREFIX))
			prefix = NULL;
		if (is_mbox_default(suffix, TRANSPORT_MBOX_MESSAGE_SUFFIX))
			suffix = NULL;
		if (is_mbox_default(check, "From ") && is_mbox_default(escape, ">From "))
			check = escape = NULL;
	}
	memset(&x->w, 0, sizeof x->w);
	x->w.m = x->c->m;
	x->w.data_fd = x->c->data_fd;
	x->w.t = x->t;
	x->w.addrs = x->addrs;
	x->w.env = x->env;
	x->w.flags = o->use_crlf || o->mbx_format ? TPW_CRLF : 0; /* MBX has CRLF line ends */
	x->w.return_path = x->return_path;
	x->w.dest_name = x->path;
	sv p, s;
	if (!expand_text(x, "message_prefix", prefix, &p) || !expand_text(x, "message_suffix", suffix, &s))
		return false;
	if (check != NULL && escape != NULL && check[0] != '\0') {
		x->w.check_string = sv_cstr(check);
		x->w.escape_string = sv_cstr(escape);
	}
	if (o->use_bsmtp) {
		bsmtp_envelope(x, p.p ? p : sv_cstr(""), s.p ? s : sv_cstr(""));
	} else {
		x->w.prefix = p.p ? p : sv_cstr("");
		x->w.suffix = s.p ? s : sv_cstr("");
	}
	return true;
}

/* The transport's return_path option, else the sender: $return_path and Return-path:. */
static bool return_path_setup(af_ctx *x)
{
	x->return_path = x->c->m->sender;
	const char *rp = tp_opt_str(x->t, "return_path");
	if (rp == NULL)
		return true;
	sv v;
	xbuf err;
	xbuf_init(&err, x->a);
	int rc = af_expand(x, rp, &v, &err);
	if (rc == XP_OK) {
		x->return_path = v;
		return true;
	}
	if (rc == XP_FORCEFAIL)
		return true;
	af_fail(x, ADDR_DEFER, AF_ERRNO_EXPANDFAIL, "Failed to expand return path \"%s\" in %s transport: %s", rp,
		x->t->name, xbuf_cstr(&err));
	return false;
}

static void appendfile_deliver(const driver_instance *t, tp_ctx *c, address_item *addrs)
{
	af_ctx x;
	memset(&x, 0, sizeof x);
	x.mbx_lockfd = -1;
	x.t = t;
	x.o = t->priv;
	x.c = c;
	x.addrs = addrs;
	x.a = c->a;
	x.env = c->env;
	x.inode = -1;
	x.size_written = -1;
	x.mailbox_size = x.mailbox_filecount = -1;
	x.result = ADDR_PENDING;

	xp_provider *saved = x.env->providers;
	x.vars.get = af_var;
	x.vars.ctx = &x;
	xp_env_push_provider(x.env, &x.vars);

	if (!return_path_setup(&x) || !resolve_path(&x))
		goto done;
	if (c->dont_deliver) {
		/* -N: nothing is written, the address counts as delivered. */
		x.result = ADDR_OK;
		goto done;
	}
	if (!writer_setup(&x) || !af_quota_setup(&x))
		goto done;
	if (x.is_directory)
		af_deliver_directory(&x);
	else
		af_deliver_file(&x);

done:
	x.env->providers = saved;
	if (x.result == ADDR_PENDING)
		af_fail(&x, ADDR_DEFER, 0, "appendfile delivery ended without a result");
	for (address_item *a = addrs; a; a = a->next) {
		tp_set_result(c->a, a, x.result, x.basic_errno, x.more_errno, x.message ? "%s" : NULL, x.message);
		a->freeze = x.freeze;
		if (a->kind == ADDR_FILE || a->kind == ADDR_DIRECTORY) {
			a->delivered_to_file = true;
			/* Exim 4.96 logs the file a "file" option named, and the directory a
			 * "directory" option named (both observed: a Sieve keep through "directory =
			 * .../Maildir" logs "=> .../Maildir <user@domain>"). */
			if (x.result == ADDR_OK && x.path && (x.o->file || x.o->directory))
				a->delivered_path = sv_cstr(arena_strdup(c->a, x.path));
		}
	}
}

static int appendfile_batch_max(const driver_instance *t, xp_env *env)
{
	(void)env;
	const struct appendfile_transport_options *o = t->priv;
	return o->batch_max > 0 ? o->batch_max : 1;
}

static const char *appendfile_batch_id(const driver_instance *t, xp_env *env)
{
	return tp_expand_batch_id(env, ((const struct appendfile_transport_options *)t->priv)->batch_id);
}

const transport_ops appendfile_transport_ops = {
	.remote = false,
	.deliver = appendfile_deliver,
	.batch_max = appendfile_batch_max,
	.batch_id = appendfile_batch_id,
};
