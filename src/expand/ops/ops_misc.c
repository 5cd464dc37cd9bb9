/* Operators that reach outside the string: stat, listnamed (configuration), quote_<lookup>
 * (lookup drivers). */
#include "expand/ops/ops_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "lib/list.h"
#include "search/search.h"

int op_stat(op_ctx *c)
{
	struct stat st;
	char *path = malloc(c->in.len + 1);
	if (!path)
		abort();
	memcpy(path, c->in.p ? c->in.p : "", c->in.len);
	path[c->in.len] = 0;
	int rc = stat(path, &st);
	int e = errno;
	free(path);
	if (rc < 0)
		return op_fail(c, "stat(" SV_FMT ") failed: %s", SV_ARG(c->in), strerror(e));
	char smode[11];
	mode_t m = st.st_mode;
	smode[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : S_ISFIFO(m) ? 'p'
		: S_ISSOCK(m) ? 's' : '-';
	static const char rwx[] = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		smode[1 + i] = (m & (0400u >> i)) ? rwx[i] : '-';
	if (m & S_ISUID) smode[3] = (m & S_IXUSR) ? 's' : 'S';
	if (m & S_ISGID) smode[6] = (m & S_IXGRP) ? 's' : 'S';
	if (m & S_ISVTX) smode[9] = (m & S_IXOTH) ? 't' : 'T';
	smode[10] = 0;
	/* Exim prints the mode with the regular-file type bit (and only that) dropped. */
	xbuf_printf(c->out,
		"mode=%04o smode=%s inode=%llu device=%llu links=%llu uid=%llu gid=%llu size=%lld atime=%lld mtime=%lld ctime=%lld",
		(unsigned)(m & 077777), smode, (unsigned long long)st.st_ino, (unsigned long long)st.st_dev,
		(unsigned long long)st.st_nlink, (unsigned long long)st.st_uid, (unsigned long long)st.st_gid,
		(long long)st.st_size, (long long)st.st_atime, (long long)st.st_mtime, (long long)st.st_ctime);
	return XP_OP_OK;
}

enum { LISTNAMED_MAX_DEPTH = 20 };

/* Append the items of a named list, expanding "+name" references to lists of the same kind.
 * A reference to a list that does not exist is an error (*missing names it); references
 * deeper than LISTNAMED_MAX_DEPTH are left as they are (Exim recurses until it crashes). */
static bool append_named(const char *kind, const char *value, int depth, xbuf *out, xbuf *missing)
{
	list_iter it;
	xbuf item;
	bool ok = true;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(value), 0);
	bool colon_list = list_separator(sv_cstr(value), 0) == ':';
	while (ok && list_next(&it, &item)) {
		if (item.len > 1 && item.p[0] == '+' && depth < LISTNAMED_MAX_DEPTH) {
			const char *sub = conf_named_list(kind, item.p + 1);
			if (!sub) {
				xbuf_putsv(missing, sv_sub(xbuf_sv(&item), 1, item.len));
				ok = false;
			} else
				ok = append_named(kind, sub, depth + 1, out, missing);
			continue;
		}
		if (out->len)
			xbuf_puts(out, " : ");
		/* The result is a colon list: the items of a list with another separator get their
		 * colons doubled ("<; 2001:db8::1" gives "2001::db8::::1"); a colon list's items are
		 * written as they are (so "::1" comes out as ":1"), both as Exim 4.96 does. */
		for (size_t k = 0; k < item.len; k++) {
			if (item.p[k] == ':' && !colon_list)
				xbuf_putc(out, ':');
			xbuf_putc(out, item.p[k]);
		}
	}
	xbuf_free(&item);
	return ok;
}

static int not_a_named_list(op_ctx *c, sv name, const char *kind)
{
	if (c->has_arg)
		return op_fail(c, "\"" SV_FMT "\" is not a %s named list", SV_ARG(name), kind);
	return op_fail(c, "\"" SV_FMT "\" is not a named list", SV_ARG(name));
}

int op_listnamed(op_ctx *c)
{
	static const char *const kinds[] = { "domain", "host", "address", "localpart" };
	const char *kind = NULL;
	if (c->has_arg) {
		switch (c->arg.len ? c->arg.p[0] : 0) {
		case 'd': kind = "domain"; break;
		case 'h': kind = "host"; break;
		case 'a': kind = "address"; break;
		case 'l': kind = "localpart"; break;
		default: return op_fail(c, "bad suffix on \"list\" operator");
		}
	}
	sv name = c->in;
	if (name.len && name.p[0] == '+')
		name = sv_sub(name, 1, name.len);
	char *cname = malloc(name.len + 1);
	if (!cname)
		abort();
	memcpy(cname, name.p ? name.p : "", name.len);
	cname[name.len] = 0;
	const char *value = NULL;
	const char *asked = kind;
	for (size_t i = 0; i < 4 && !value; i++)
		if (!asked || asked == kinds[i]) {
			value = conf_named_list(kinds[i], cname);
			if (value)
				kind = kinds[i];
		}
	free(cname);
	if (!value)
		return not_a_named_list(c, name, kind);
	xbuf tmp, missing;
	xbuf_init(&tmp, NULL);
	xbuf_init(&missing, NULL);
	int rc = XP_OP_OK;
	if (append_named(kind, value, 0, &tmp, &missing))
		xbuf_putsv(c->out, xbuf_sv(&tmp));
	else
		rc = not_a_named_list(c, xbuf_sv(&missing), kind);
	xbuf_free(&tmp);
	xbuf_free(&missing);
	return rc;
}

/* ${quote_<lookup>[_<opt>]:}: the lookup's own quoting; single-key lookups have none and return
 * the subject unchanged (and refuse an option). The result carries the lookup's quoter id. */
int op_quote_lookup(op_ctx *c)
{
	sv type = c->arg, opt = SV_NULL;
	const char *us = type.len ? memchr(type.p, '_', type.len) : NULL;
	if (us) {
		opt = sv_make(us + 1, type.len - (size_t)(us - type.p) - 1);
		type.len = (size_t)(us - type.p);
	}
	const lookup_info *li = search_driver(type);
	if (!li) {
		const lookup_quote_only *qo = search_quote_only(type);
		if (!qo)
			return op_fail(c, "unknown lookup type \"" SV_FMT "\"", SV_ARG(type));
		xbuf msg;
		xbuf_init(&msg, NULL);
		bool ok = qo->quote(c->in, opt, c->out, &msg);
		if (!ok)
			op_fail(c, "%s", xbuf_cstr(&msg));
		xbuf_free(&msg);
		return ok ? XP_OP_OK : XP_OP_ERROR;
	}
	if (!li->quote) {
		if (us)
			return op_fail(c, "\"" SV_FMT "\" unrecognized after \"${quote_" SV_FMT "\"", SV_ARG(opt), SV_ARG(type));
		xbuf_putsv(c->out, c->in);
		return XP_OP_OK;
	}
	xbuf res, msg;
	xbuf_init(&res, NULL);
	xbuf_init(&msg, NULL);
	bool ok = li->quote(c->in, opt, &res, &msg);
	if (ok) {
		xbuf_putsv(c->out, xbuf_sv(&res));
		c->out->quoter = (uint8_t)search_quoter_id(li);
	} else if (msg.len)
		op_fail(c, "%s", xbuf_cstr(&msg));
	else
		op_fail(c, "\"" SV_FMT "\" unrecognized after \"${quote_" SV_FMT "\"", SV_ARG(opt), SV_ARG(type));
	xbuf_free(&res);
	xbuf_free(&msg);
	return ok ? XP_OP_OK : XP_OP_ERROR;
}
