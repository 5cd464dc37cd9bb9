/* redirect router behaviour (Exim 4.96 "The redirect router"): data or file, the special items
 * :fail: :defer: :blackhole: :unknown: :include:, pipe/file/directory items, the allow_* and
 * forbid_* options, check_ancestor, qualify_preserve_domain, skip_syntax_errors.
 * With allow_filter, Exim and Sieve filter files go to redirect_filter.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "conf/main_options.h"
#include "core/addr.h"
#include "drivers/routers/redirect.h"
#include "drivers/routers/redirect_filter.h"
#include "drivers/routers/redirect_open.h"
#include "drivers/routers/redirect_parse.h"
#include "drivers/routers/route_ops.h"
#include "lib/list.h"
#include "lib/log.h"
#include "mail/address.h"
#include "mail/smtp_cmd.h"

#define REDIRECT_MAX_FILE (16u << 20)  /* a .forward or alias file larger than this is refused */
#define REDIRECT_MAX_INCLUDE 10        /* :include: nesting */

/* Exim's errno for an error in a redirection list ("defer (-17): error in redirect file: ..."). */
enum { ERRNO_BADREDIRECT = -17 };

static bool redirect_repeat_use(const driver_instance *r)
{
	const struct redirect_router_options *o = r->priv;
	return o ? o->repeat_use : true;
}

/* Read an open regular file whole, bounded. 0 ok, else errno. Closes fd. */
static int read_open_file(arena *a, int fd, sv *out)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)REDIRECT_MAX_FILE) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		close(fd);
		return e;
	}
	char *buf = arena_alloc(a, (size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	buf[got] = 0;
	*out = sv_tainted(sv_make(buf, got));
	return 0;
}

/* An :include:d file, opened as the address's user like the file it was named in. */
static int read_file(arena *a, const redirect_opener *op, const char *path, sv *out)
{
	int e;
	int fd = redirect_open(op, path, &e);
	return fd < 0 ? e : read_open_file(a, fd, out);
}

static bool name_in_id_list(const char *list, bool group, unsigned id)
{
	if (!list)
		return false;
	list_iter it;
	list_iter_init(&it, sv_cstr(list), 0);
	char buf[256];
	xbuf item;
	xbuf_init(&item, pool_scratch);
	arena_mark m = arena_getmark(pool_scratch);
	bool found = false;
	while (!found && list_next(&it, &item)) {
		long long n;
		if (sv_to_long(xbuf_sv(&item), &n)) {
			found = (unsigned)n == id;
			continue;
		}
		snprintf(buf, sizeof buf, "%s", xbuf_cstr(&item));
		if (group) {
			struct group *g = getgrnam(buf);
			found = g && g->gr_gid == id;
		} else {
			struct passwd *pw = getpwnam(buf);
			found = pw && pw->pw_uid == id;
		}
	}
	arena_reset(pool_scratch, m);
	return found;
}

/* The file option as Exim 4.96 handles it (observed): whether the file exists is found out as
 * root (a missing file declines, even in a directory the user cannot search); then it is opened
 * as the router's user (redirect_open.h), and only then are its type, mode, owner and group
 * checked, in that order, on what was opened (a file only root can read is "Permission
 * denied" even when its mode is also wrong). */
static route_rc read_forward_file(const driver_instance *r, address_item *a, route_ctx *c, const char *path, sv *text)
{
	const struct redirect_router_options *o = r->priv;
	struct stat st;
	if (stat(path, &st) != 0) {
		int e = errno;
		if (e == ENOENT) {
			/* A missing file declines, but only when its directory is there (a missing home
			 * directory may be an unmounted file system: Exim defers). */
			const char *slash = strrchr(path, '/');
			char *dir = arena_printf(c->a, "%.*s/.", slash ? (int)(slash - path) : 0, path);
			struct stat dst;
			if (stat(dir, &dst) != 0) {
				a->message = sv_cstr(arena_printf(c->a, "failed to stat %s (%s)", dir, strerror(errno)));
				return ROUTE_DEFER;
			}
			return ROUTE_DECLINE;
		}
		if ((e == ENOTDIR && o->ignore_enotdir) || (e == EACCES && o->ignore_eacces))
			return ROUTE_DECLINE;
		a->message = sv_cstr(arena_printf(c->a, "failed to stat %s (%s router): %s", path, r->name, strerror(e)));
		return ROUTE_DEFER;
	}
	redirect_opener op = redirect_opener_for(a);
	int e;
	int fd = redirect_open(&op, path, &e);
	if (fd < 0) {
		if (e == ENOENT || (e == ENOTDIR && o->ignore_enotdir) || (e == EACCES && o->ignore_eacces))
			return ROUTE_DECLINE;
		a->message = sv_cstr(arena_printf(c->a, "failed to open %s: %s (euid=%u egid=%u)", path, strerror(e),
			(unsigned)(op.as_user ? op.uid : geteuid()), (unsigned)(op.as_user ? op.gid : getegid())));
		return ROUTE_DEFER;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		a->message = sv_cstr(arena_printf(c->a, "%s is not a regular file", path));
		return ROUTE_DEFER;
	}
	const char *bad = NULL;
	if ((st.st_mode & (unsigned)o->modemask) != 0) {
		bad = arena_printf(c->a, "bad mode (0%o) for %s: 0%o bit(s) unexpected",
			(unsigned)st.st_mode, path, (unsigned)(st.st_mode & (unsigned)o->modemask));
	}
	bool local_user = route_opt_bool(r, "check_local_user");
	/* check_owner defaults to on when the router checks for a local user. */
	bool check_owner = conf_was_set(r, "check_owner", NULL) ? o->check_owner : local_user;
	if (!bad && check_owner) {
		bool ok = (local_user && a->uid_set && st.st_uid == a->uid) || name_in_id_list(o->owners, false, st.st_uid);
		if (!ok)
			bad = arena_printf(c->a, "bad owner for %s", path);
	}
	bool check_group = conf_was_set(r, "check_group", NULL) ? o->check_group : o->owngroups != NULL;
	if (!bad && check_group) {
		bool ok = (local_user && a->gid_set && st.st_gid == a->gid) || name_in_id_list(o->owngroups, true, st.st_gid);
		if (!ok)
			bad = arena_printf(c->a, "bad group for %s", path);
	}
	if (bad) {
		close(fd);
		a->message = sv_cstr(bad);
		return ROUTE_DEFER;
	}
	e = read_open_file(c->a, fd, text);
	if (e) {
		a->message = sv_cstr(arena_printf(c->a, "failed to read %s (%s router): %s", path, r->name, strerror(e)));
		return ROUTE_DEFER;
	}
	return ROUTE_OK;
}

static void add_item(redirect_list *s, addr_kind kind, sv text)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 8;
		s->items = arena_realloc(s->c->a, s->items, s->cap * sizeof *s->items, ncap * sizeof *s->items);
		s->cap = ncap;
	}
	s->items[s->n++] = (redirect_item){ kind, text };
}

static bool not_permitted(redirect_list *s, sv item)
{
	xbuf_reset(&s->err);
	xbuf_printf(&s->err, "\"" SV_FMT "\" is not permitted", SV_ARG(item));
	return false;
}

/* Exim's reason for an item that is not an address (its parser's texts, which the SMTP
 * address parser reproduces). */
static const char *syntax_error_text(arena *a, sv item)
{
	xbuf out, why;
	xbuf_init(&out, a);
	xbuf_init(&why, a);
	bool is_null = false, has_domain = false;
	if (!smtp_parse_address(item, false, true, &out, &is_null, &has_domain, &why) && why.len)
		return xbuf_cstr(&why);
	return "malformed address";
}

/* A source route in front of an address ("@a,@b:user@c") is accepted and ignored, as Exim does.
 * Returns the item without it; *why is set when the route list is broken (a comma not followed
 * by another @domain), and the item is returned unchanged when it is no route at all. */
static sv strip_source_route(sv item, const char **why)
{
	size_t i = 0;
	while (i < item.len && item.p[i] == '@') {
		i++;
		while (i < item.len && (isalnum((unsigned char)item.p[i]) || strchr(".-_[]", item.p[i])))
			i++;
		while (i < item.len && isspace((unsigned char)item.p[i]))
			i++;
		if (i < item.len && item.p[i] == ':')
			return sv_trim(sv_sub(item, i + 1, item.len - i - 1));
		if (i >= item.len || item.p[i] != ',')
			return item; /* not a route list: the address parser says what is wrong */
		i++;
		while (i < item.len && isspace((unsigned char)item.p[i]))
			i++;
		if (i >= item.len || item.p[i] != '@') {
			*why = "colon expected after route list";
			return item;
		}
	}
	return item;
}

/* One list (data, file or an :include:d file); false with s->err set on a hard error. */
static bool parse_list(redirect_list *s, sv text, int depth)
{
	size_t pos = 0;
	while (pos < text.len) {
		/* Skip separators, white space and comment lines. */
		char ch = text.p[pos];
		if (ch == ',' || isspace((unsigned char)ch)) {
			pos++;
			continue;
		}
		if (ch == '#') {
			while (pos < text.len && text.p[pos] != '\n')
				pos++;
			continue;
		}
		if (s->n >= REDIRECT_MAX_ITEMS) {
			xbuf_puts(&s->err, "too many items in redirection list");
			return false;
		}
		sv rest = sv_sub(text, pos, text.len);
		/* A special item in double quotes is still special (observed: '":blackhole:"' discards,
		 * '":fail: why"' fails with 'why"', '":include:/f"' reads /f). */
		bool quoted_special = rest.len > 1 && rest.p[0] == '"' && rest.p[1] == ':';
		if (quoted_special) {
			pos++;
			rest = sv_sub(text, pos, text.len);
		}
		if (rest.p[0] == ':') {
			/* :fail: / :defer: take the rest of the text as their message. */
			bool fail = sv_starts(rest, ":fail:"), defer = sv_starts(rest, ":defer:");
			if (fail || defer) {
				if ((fail && !s->o->allow_fail) || (defer && !s->o->allow_defer)) {
					sv whole = sv_trim(text);
					/* Exim quotes the whole redirection text in the complaint. */
					return not_permitted(s, whole);
				}
				s->special = fail ? ROUTE_FAIL : ROUTE_DEFER;
				s->special_text = sv_trim(sv_sub(rest, fail ? 6 : 7, rest.len));
				return true;
			}
			if (sv_starts(rest, ":blackhole:")) {
				if (s->o->forbid_blackhole)
					return not_permitted(s, SV_LIT(":blackhole:"));
				s->discard = true;
				pos += 11;
				if (quoted_special && pos < text.len && text.p[pos] == '"')
					pos++;
				continue;
			}
			if (sv_starts(rest, ":unknown:")) {
				s->unknown = true;
				pos += 9;
				if (quoted_special && pos < text.len && text.p[pos] == '"')
					pos++;
				continue;
			}
			if (sv_starts(rest, ":include:")) {
				size_t end = pos + 9;
				while (end < text.len && text.p[end] != ',' && text.p[end] != '\n')
					end++;
				sv path = sv_trim(sv_sub(text, pos + 9, end - pos - 9));
				if (quoted_special && path.len && path.p[path.len - 1] == '"')
					path.len--;
				pos = end;
				if (s->o->forbid_include) {
					xbuf_puts(&s->err, "included files not permitted");
					return false;
				}
				if (depth >= REDIRECT_MAX_INCLUDE) {
					xbuf_printf(&s->err, ":include: nested too deeply");
					return false;
				}
				if (!path.len || path.p[0] != '/') {
					xbuf_printf(&s->err, "included file \"" SV_FMT "\" is not an absolute path", SV_ARG(path));
					return false;
				}
				sv inc;
				redirect_opener op = redirect_opener_for(s->a);
				int e = read_file(s->c->a, &op, sv_dup(s->c->a, path), &inc);
				if (e) {
					/* The ids are told for a refusal only (observed: a missing file has none). */
					xbuf_printf(&s->err, "failed to open included file " SV_FMT ": %s", SV_ARG(path), strerror(e));
					if (e == EACCES)
						xbuf_printf(&s->err, " (euid=%u egid=%u)", (unsigned)(op.as_user ? op.uid : geteuid()),
							(unsigned)(op.as_user ? op.gid : getegid()));
					return false;
				}
				if (!parse_list(s, inc, depth + 1))
					return false;
				continue;
			}
		}
		/* An ordinary item runs to the next comma or newline outside quotes and <...>. One that
		 * starts with '@' is a source route ("@a,@b:user@c"): its commas do not end it before
		 * the colon, as in Exim (so a broken route swallows the rest of the list). */
		size_t end = pos;
		bool quoted = false;
		bool route = text.p[pos] == '@';
		int angle = 0;
		while (end < text.len) {
			char e = text.p[end];
			if (e == '\\' && quoted && end + 1 < text.len) {
				end += 2;
				continue;
			}
			if (e == '"')
				quoted = !quoted;
			else if (!quoted && e == '<')
				angle++;
			else if (!quoted && e == '>' && angle)
				angle--;
			else if (!quoted && route && e == ':')
				route = false;
			else if (!quoted && !angle && !route && (e == ',' || e == '\n'))
				break;
			end++;
		}
		sv item = sv_trim(sv_sub(text, pos, end - pos));
		pos = end;
		sv inner = item;
		if (inner.len >= 2 && inner.p[0] == '"' && inner.p[inner.len - 1] == '"')
			inner = sv_sub(inner, 1, inner.len - 2);
		/* forbid_pipe / forbid_file do not stop parsing: the item is kept and marked. */
		if (inner.len && inner.p[0] == '|') {
			add_item(s, ADDR_PIPE, inner);
			continue;
		}
		if (inner.len && inner.p[0] == '/') {
			add_item(s, inner.p[inner.len - 1] == '/' ? ADDR_DIRECTORY : ADDR_FILE, inner); /* "/" too */
			continue;
		}
		/* A leading backslash (as other MTAs allow) is dropped; an unqualified address after it
		 * takes the incoming address's domain. Loops are prevented by the ancestor rule. */
		if (inner.len != item.len)
			item = inner; /* an item wholly in double quotes loses them, as Exim documents */
		bool backslash = item.len > 1 && item.p[0] == '\\';
		if (backslash)
			item = sv_sub(item, 1, item.len - 1);
		xbuf parsed;
		xbuf_init(&parsed, s->c->a);
		addr_parsed info;
		const char *why = NULL, *route_error = NULL;
		sv bare = item.len && item.p[0] == '@' ? strip_source_route(item, &route_error) : item;
		/* Exim holds literals in a route or in <...> to allow_domain_literals and to an IP
		 * address's characters. */
		const char *lit_error = smtp_address_literal_error(item, conf_main.allow_domain_literals);
		if (lit_error || route_error || !addr_extract(bare, NULL, &parsed, &info, &why) || info.empty
			|| info.local_len == 0) {
			const char *reason = lit_error ? lit_error : route_error ? route_error : syntax_error_text(s->c->a, bare);
			if (s->o->skip_syntax_errors) {
				route_log(s->c, LOG_MAIN, "%s router: skipped error: %s in \"" SV_FMT "\"", s->r->name, reason, SV_ARG(item));
				if (s->skipped)
					xbuf_printf(s->skipped, "  %s in the address\n  \"" SV_FMT "\"\n\n", reason, SV_ARG(item));
				continue;
			}
			xbuf_printf(&s->err, "%s in \"" SV_FMT "\"", reason, SV_ARG(item));
			return false;
		}
		sv addr = xbuf_sv(&parsed);
		if (!info.has_domain) {
			/* Unqualified: the parent's domain (qualify_preserve_domain) or qualify_recipient. */
			sv dom;
			if (s->o->qualify_preserve_domain || backslash)
				dom = s->a->domain;
			else {
				const char *q = conf_main_string("qualify_recipient");
				if (!q || !*q)
					q = conf_main_string("qualify_domain");
				if (!q || !*q)
					q = conf_main_string("primary_hostname");
				dom = sv_cstr(q ? q : "");
			}
			xbuf_putc(&parsed, '@');
			xbuf_putsv(&parsed, dom);
			addr = xbuf_sv(&parsed);
		}
		add_item(s, ADDR_MAIL, addr);
	}
	return true;
}

bool redirect_parse(redirect_list *s, sv text)
{
	return parse_list(s, text, 0);
}

static bool is_filter(sv text)
{
	size_t i = 0;
	while (i < text.len && isspace((unsigned char)text.p[i]))
		i++;
	sv t = sv_sub(text, i, text.len);
	return t.len >= 14 && (strncasecmp(t.p, "# exim filter", 13) == 0 || strncasecmp(t.p, "# sieve filter", 14) == 0);
}

static bool ancestor_has(const address_item *a, sv address)
{
	for (const address_item *p = a; p; p = p->parent)
		if (sv_eqi(p->address, address))
			return true;
	return false;
}

/* syntax_errors_to: the delivery process sends Exim's report of the skipped errors there, headed
 * by syntax_errors_text (verification and address tests send nothing: no callback). An option
 * that does not expand is logged and nothing is sent. */
static void report_syntax_errors(const driver_instance *r, route_ctx *c, xp_env *env, sv errors)
{
	const struct redirect_router_options *o = r->priv;
	sv to, intro = SV_NULL;
	xbuf err;
	xbuf_init(&err, c->a);
	if (route_expand(env, o->syntax_errors_to, &to, &err) != XP_OK || !sv_trim(to).len) {
		route_log(c, LOG_MAIN, "%s router: failed to expand syntax_errors_to \"%s\": %s", r->name,
			o->syntax_errors_to, xbuf_cstr(&err));
		return;
	}
	if (o->syntax_errors_text && route_expand(env, o->syntax_errors_text, &intro, &err) != XP_OK) {
		route_log(c, LOG_MAIN, "%s router: failed to expand syntax_errors_text \"%s\": %s", r->name,
			o->syntax_errors_text, xbuf_cstr(&err));
		intro = SV_NULL;
	}
	c->syntax_errors(c->syntax_errors_ctx, r->name, sv_trim(to), intro, errors);
}

static route_rc redirect_route(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env)
{
	const struct redirect_router_options *o = r->priv;
	redirect_list s = { .c = c, .r = r, .o = o, .a = a, .special = ROUTE_OK };
	xbuf_init(&s.err, c->a);
	xbuf skipped;
	xbuf_init(&skipped, c->a);
	if (o->syntax_errors_to && c->syntax_errors)
		s.skipped = &skipped;
	xbuf err;
	xbuf_init(&err, c->a);
	sv text;
	const char *src = o->data ? o->data : o->file;
	if (!src) {
		a->message = sv_cstr(arena_printf(c->a, "%s router: neither data nor file is set", r->name));
		return ROUTE_DEFER;
	}
	int xr = route_expand(env, src, &text, &err);
	if (xr == XP_FORCEFAIL)
		return ROUTE_DECLINE;
	if (xr != XP_OK) {
		a->message = sv_cstr(arena_printf(c->a, "failed to expand \"%s\": %s", src, xbuf_cstr(&err)));
		return ROUTE_DEFER;
	}
	if (!o->data) {
		/* The file is opened as the router's user: user/group are resolved first, as Exim
		 * does before it reads the file. */
		route_rc ur = route_user_group(c, r, a, env);
		if (ur != ROUTE_OK)
			return ur;
		/* A file named from tainted data is not read (observed from Exim 4.96, whose text ends
		 * in a newline: file = /x/$local_part). */
		if (text.taint) {
			a->message = sv_cstr(arena_printf(c->a, "Tainted name '" SV_FMT "' for file read not permitted\n",
				SV_ARG(text)));
			return ROUTE_DEFER;
		}
		route_rc fr = read_forward_file(r, a, c, sv_dup(c->a, text), &text);
		if (fr != ROUTE_OK)
			return fr;
	}
	if (!sv_trim(text).len)
		return ROUTE_DECLINE;
	if (is_filter(text)) {
		if (o->allow_filter)
			return redirect_filter(r, a, c, env, text);
		/* Exim does not read a filter as a list when filtering is off. */
		a->message = sv_cstr(arena_printf(c->a, "error in filter %s: filtering not enabled", o->data ? "data" : "file"));
		return ROUTE_DEFER;
	}
	if (!redirect_parse(&s, text)) {
		a->message = sv_cstr(arena_printf(c->a, "error in redirect %s: %s", o->data ? "data" : "file", xbuf_cstr(&s.err)));
		a->basic_errno = ERRNO_BADREDIRECT;
		return ROUTE_DEFER;
	}
	if (skipped.len)
		report_syntax_errors(r, c, env, xbuf_sv(&skipped));
	if (s.special == ROUTE_FAIL || s.special == ROUTE_DEFER) {
		/* Without text the message is empty (Exim: "** a@b R=r: ", "550 ", -bt "undeliverable: "). */
		a->message = s.special_text.len ? sv_copy(c->a, s.special_text) : SV_LIT("");
		a->user_message = a->message;
		/* Observed: the addresses before a :fail: are still generated and routed while the
		 * address itself fails ("u1, :fail: x" prints the failure, then u1); a :defer: drops them. */
		if (s.special == ROUTE_DEFER || s.n == 0 || s.discard)
			return s.special;
	}
	bool failing = s.special == ROUTE_FAIL;
	if (s.n == 0 && !s.discard)
		return ROUTE_DECLINE;
	route_rc rc = route_generic_props(c, r, a, env);
	if (rc != ROUTE_OK)
		return rc;
	/* :blackhole: anywhere discards the whole list (observed: "u1, :blackhole:" routes no u1). */
	if (s.n == 0 || s.discard)
		return ROUTE_DISCARD;
	/* Children go on the queue so that they are routed in the order they were written. */
	address_item **kids = arena_calloc(c->a, s.n, sizeof *kids);
	for (size_t i = 0; i < s.n; i++) {
		sv text_i = s.items[i].text;
		if (s.items[i].kind == ADDR_MAIL && o->check_ancestor && ancestor_has(a, text_i))
			text_i = a->address; /* replaced by a copy of the current address */
		address_item *k = route_child_address(c, a, text_i, s.items[i].kind);
		k->router = NULL;
		k->hide_child = o->hide_child_in_errmsg;
		if (k->kind != ADDR_MAIL) {
			const char *tname = k->kind == ADDR_PIPE ? o->pipe_transport
				: k->kind == ADDR_DIRECTORY ? o->directory_transport : o->file_transport; /* no fallback (observed) */
			const char *oname = k->kind == ADDR_PIPE ? "pipe_transport"
				: k->kind == ADDR_DIRECTORY ? "directory_transport" : "file_transport";
			k->router = r;
			k->home = a->home;
			k->pfr_forbidden = k->kind == ADDR_PIPE ? o->forbid_pipe : o->forbid_file;
			if (k->pfr_forbidden)
				k->pfr_error_text = k->kind == ADDR_PIPE ? SV_LIT("delivery to pipe forbidden")
					: SV_LIT("delivery to file forbidden");
			if (!tname) {
				k->pfr_error = true;
				k->pfr_error_text = sv_cstr(arena_printf(c->a, "%s unset in %s router", oname, r->name));
			} else {
				sv tv;
				if (route_expand(env, tname, &tv, &err) == XP_OK)
					k->transport = sv_dup(c->a, tv);
				else {
					k->pfr_error = true;
					k->pfr_error_text = sv_cstr(arena_printf(c->a, "failed to expand \"%s\" in %s router: %s",
						tname, r->name, xbuf_cstr(&err)));
				}
			}
		}
		kids[i] = k;
	}
	/* redirect_router: where the generated addresses start routing (default: the first). */
	const char *rr = route_opt_str(r, "redirect_router");
	if (rr) {
		const driver_instance *start = conf_driver_instances("routers");
		while (start && strcmp(start->name, rr) != 0)
			start = start->next;
		for (size_t i = 0; i < s.n; i++)
			kids[i]->start_router = start;
	}
	for (size_t i = s.n; i > 0; i--)
		route_queue(c, kids[i - 1]);
	return failing ? ROUTE_FAIL : ROUTE_REROUTED;
}

const router_ops redirect_route_ops = { .route = redirect_route, .repeat_use = redirect_repeat_use };
