/* Where ACL text comes from: the "begin acl" blocks of the configuration (parsed once, on
 * first use or by the startup check), files named by an absolute path (read once per process,
 * bounded), and inline text (an acl_smtp_* value that names no ACL or has white space). Parsed
 * statements are cached until acl_cache_flush(). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf_dump.h"
#include "core/acl_internal.h"
#include "lib/arena.h"

#define ACL_MAX_FILE ((size_t)1 << 20)  /* an ACL file larger than this is refused */

typedef struct acl_cached {
	struct acl_cached *next;
	char kind;                 /* 'n' named, 'f' file, 'i' inline */
	sv key;
	acl_stmt *stmts;
} acl_cached;
static acl_cached *cache;
static arena *cache_arena;

void acl_cache_flush(void)
{
	cache = NULL;
	if (cache_arena)
		arena_clear(cache_arena);
}

void acl_cache_drop_files(void)
{
	/* A file may change between two connections; the configuration's own ACLs cannot. */
	for (acl_cached *a = cache; a; a = a->next)
		if (a->kind == 'f') {
			acl_cache_flush();
			return;
		}
}

static arena *cache_pool(void)
{
	if (!cache_arena)
		cache_arena = arena_new("acl");
	return cache_arena;
}

static acl_cached *cache_find(char kind, sv key)
{
	for (acl_cached *a = cache; a; a = a->next)
		if (a->kind == kind && sv_eq(a->key, key))
			return a;
	return NULL;
}

static acl_cached *cache_add(char kind, sv key, acl_stmt *stmts)
{
	acl_cached *a = arena_calloc(cache_pool(), 1, sizeof *a);
	a->kind = kind;
	a->key = sv_copy(cache_pool(), key);
	a->stmts = stmts;
	a->next = cache;
	cache = a;
	return a;
}

/* Parse a configured ACL block. err gets "error in ACL: ..." context from the caller. */
static bool parse_named(const conf_acl *ca, acl_stmt **out, xbuf *err, const char **efile, int *eline)
{
	acl_src_line *lines = arena_alloc(cache_pool(), (ca->nlines + 1) * sizeof *lines);
	for (size_t i = 0; i < ca->nlines; i++)
		lines[i] = (acl_src_line){ sv_cstr(ca->lines[i].text), ca->lines[i].file, ca->lines[i].line };
	size_t bad = 0;
	if (acl_parse(cache_pool(), lines, ca->nlines, out, err, &bad))
		return true;
	*efile = ca->nlines ? ca->lines[bad].file : ca->file;
	*eline = ca->nlines ? ca->lines[bad].line : ca->line;
	return false;
}

static bool read_file(const char *path, xbuf *out, int *errnum)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*errnum = errno;
		return false;
	}
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (out->len + (size_t)n > ACL_MAX_FILE) {
			close(fd);
			*errnum = EFBIG;
			return false;
		}
		xbuf_put(out, buf, (size_t)n);
	}
	*errnum = n < 0 ? errno : 0;
	close(fd);
	return n == 0;
}

/* The statements for a spec (name, "/file" or inline text); NULL with c->log_msg set on error. */
acl_stmt *acl_resolve(acl_ctx *c, sv spec, bool *ok)
{
	*ok = false;
	bool has_space = false;
	for (size_t i = 0; i < spec.len; i++)
		has_space |= isspace((unsigned char)spec.p[i]) != 0;
	xbuf err;
	xbuf_init(&err, c->user_msg.a);
	if (spec.p[0] == '/') {
		acl_cached *hit = cache_find('f', spec);
		if (hit) {
			*ok = true;
			return hit->stmts;
		}
		xbuf text;
		xbuf_init(&text, cache_pool());
		char *path = sv_dup(c->user_msg.a, spec);
		int errnum;
		if (!read_file(path, &text, &errnum)) {
			acl_error(c, "failed to open ACL file \"%s\": %s", path, strerror(errnum));
			return NULL;
		}
		acl_src_line *lines;
		size_t n = acl_split_text(cache_pool(), xbuf_sv(&text), arena_strdup(cache_pool(), path), &lines);
		acl_stmt *st;
		size_t bad;
		if (!acl_parse(cache_pool(), lines, n, &st, &err, &bad)) {
			acl_error(c, "%s", xbuf_cstr(&err));
			return NULL;
		}
		*ok = true;
		return cache_add('f', spec, st)->stmts;
	}
	if (!has_space) {
		/* Looked up before the name is copied: the copy would stay in the context's arena (a
		 * session's pool_conn) for every ACL run of a long connection. */
		acl_cached *hit = cache_find('n', spec);
		if (hit) {
			*ok = true;
			return hit->stmts;
		}
		char *name = sv_dup(c->user_msg.a, spec);
		const conf_acl *ca = conf_acl_find(name);
		if (ca) {
			acl_stmt *st;
			const char *efile;
			int eline;
			if (!parse_named(ca, &st, &err, &efile, &eline)) {
				acl_error(c, "%s", xbuf_cstr(&err));
				return NULL;
			}
			*ok = true;
			return cache_add('n', spec, st)->stmts;
		}
	}
	acl_cached *hit = cache_find('i', spec);
	if (hit) {
		*ok = true;
		return hit->stmts;
	}
	acl_src_line *lines;
	size_t n = acl_split_text(cache_pool(), sv_copy(cache_pool(), spec), "inline ACL", &lines);
	acl_stmt *st;
	size_t bad;
	if (!acl_parse(cache_pool(), lines, n, &st, &err, &bad)) {
		acl_error(c, "%s", xbuf_cstr(&err));
		return NULL;
	}
	*ok = true;
	return cache_add('i', spec, st)->stmts;
}

bool acl_check_config(xbuf *err)
{
	for (const conf_acl *ca = conf_acls(); ca; ca = ca->next) {
		if (cache_find('n', sv_cstr(ca->name)))
			continue;
		acl_stmt *st;
		xbuf why;
		xbuf_init(&why, cache_pool());
		const char *efile;
		int eline;
		if (!parse_named(ca, &st, &why, &efile, &eline)) {
			xbuf_printf(err, "Exim configuration error in line %d of %s:\n  error in ACL: %s", eline,
				efile ? efile : "?", xbuf_cstr(&why));
			return false;
		}
		cache_add('n', sv_cstr(ca->name), st);
	}
	return true;
}

