/* Parsing a lookup type specification: "partial2-lsearch*@,ret=key", "partial(.)cdb",
 * "redis,servers=...". Also the registry helpers (driver by name, quoter ids) and -bV's line. */
#include "search/search.h"

#include "conf/conf.h"

#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

const lookup_info *search_driver(sv name)
{
	for (size_t i = 0; lookup_drivers[i]; i++)
		if (sv_eq_cstr(name, lookup_drivers[i]->name))
			return lookup_drivers[i];
	return NULL;
}

void search_preload_named(const char *text)
{
	for (size_t i = 0; lookup_drivers[i]; i++)
		if (lookup_drivers[i]->preload && text && strstr(text, lookup_drivers[i]->name))
			lookup_drivers[i]->preload();
}

const lookup_quote_only *search_quote_only(sv name)
{
	if (search_driver(name))
		return NULL;
	for (size_t i = 0; lookup_quote_only_table[i].name; i++)
		if (sv_eq_cstr(name, lookup_quote_only_table[i].name))
			return &lookup_quote_only_table[i];
	return NULL;
}

static bool uid_listed(const uid_t *list, uid_t id)
{
	for (uid_t i = 1; i <= list[0]; i++)
		if (list[i] == id)
			return true;
	return false;
}

static bool gid_listed(const gid_t *list, gid_t id)
{
	for (gid_t i = 1; i <= list[0]; i++)
		if (list[i] == id)
			return true;
	return false;
}

bool search_check_file(int fd, const char *filename, unsigned s_type, int modemask, const uid_t *owners,
	const gid_t *owngroups, const char *type, xbuf *errmsg)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		xbuf_printf(errmsg, "%s: stat failed (%s lookup): %s", filename, type, strerror(errno));
		return false;
	}
	if ((st.st_mode & S_IFMT) != s_type) {
		xbuf_printf(errmsg, "%s is not a %s (%s lookup)", filename,
			s_type == S_IFDIR ? "directory" : "regular file", type);
		return false;
	}
	if ((int)st.st_mode & modemask) {
		xbuf_printf(errmsg, "%s (%s lookup): file mode %.4o should not contain %.4o", filename, type,
			(unsigned)st.st_mode & 07777, (unsigned)(st.st_mode & (unsigned)modemask));
		return false;
	}
	if (owners && !uid_listed(owners, st.st_uid)) {
		xbuf_printf(errmsg, "%s (%s lookup): file has wrong owner", filename, type);
		return false;
	}
	if (owngroups && !gid_listed(owngroups, st.st_gid)) {
		xbuf_printf(errmsg, "%s (%s lookup): file has wrong group", filename, type);
		return false;
	}
	return true;
}

unsigned search_quoter_id(const lookup_info *li)
{
	for (size_t i = 0; lookup_drivers[i]; i++)
		if (lookup_drivers[i] == li)
			return (unsigned)i + 1;
	return 0;
}

const lookup_info *search_quoter_driver(unsigned id)
{
	for (size_t i = 0; lookup_drivers[i]; i++)
		if (i + 1 == id)
			return lookup_drivers[i];
	return NULL;
}

/* Exim lists lookups in -bV in the order of its build table, not alphabetically. */
static const char *const bv_order[] = {
	"lsearch", "wildlsearch", "nwildlsearch", "iplsearch", "cdb", "dbm", "dbmjz", "dbmnz", "dnsdb",
	"dsearch", "json", "ldap", "ldapdn", "ldapm", "lmdb", "mysql", "nis", "nis0", "nisplus",
	"oracle", "passwd", "pgsql", "redis", "sqlite", "testdb", "whoson", NULL
};

void search_version_report(xbuf *out)
{
	xbuf_puts(out, "Lookups (built-in):");
	for (size_t i = 0; bv_order[i]; i++)
		if (search_driver(sv_cstr(bv_order[i])))
			xbuf_printf(out, " %s", bv_order[i]);
	/* Anything registered that the order table does not know still gets reported. */
	for (size_t i = 0; lookup_drivers[i]; i++) {
		bool known = false;
		for (size_t j = 0; bv_order[j] && !known; j++)
			known = strcmp(bv_order[j], lookup_drivers[i]->name) == 0;
		if (!known)
			xbuf_printf(out, " %s", lookup_drivers[i]->name);
	}
	xbuf_putc(out, '\n');
}

/* Parsed specs may be kept (the expansion engine parses once, runs many times), so the strings
 * they point to must outlive any scratch arena: they are interned for the process. A config has
 * few distinct option strings and affixes, so this stays small. */
typedef struct interned {
	struct interned *next;
	size_t len;
	char s[];
} interned;
static interned *interned_strings;

static const char *intern(const char *p, size_t len)
{
	for (interned *i = interned_strings; i; i = i->next)
		if (i->len == len && memcmp(i->s, p, len) == 0)
			return i->s;
	interned *n = malloc(sizeof *n + len + 1);
	if (!n)
		abort();
	n->len = len;
	memcpy(n->s, p, len);
	n->s[len] = 0;
	n->next = interned_strings;
	interned_strings = n;
	return n->s;
}

static bool format_error(sv spec, xbuf *err)
{
	xbuf_printf(err, "format error in lookup type \"" SV_FMT "\"", SV_ARG(spec));
	return false;
}

/* Split generic options (ret=key, cache=no_rd) out of the comma list; the rest goes to the driver. */
static void parse_options(sv opts, search_spec *out)
{
	xbuf rest;
	xbuf_init(&rest, NULL);
	size_t i = 0;
	while (i <= opts.len) {
		size_t j = i;
		while (j < opts.len && opts.p[j] != ',')
			j++;
		sv one = sv_trim(sv_sub(opts, i, j - i));
		if (sv_eq_cstr(one, "ret=key"))
			out->ret_key = true;
		else if (one.len) {
			if (rest.len)
				xbuf_putc(&rest, ',');
			xbuf_putsv(&rest, one);
		}
		i = j + 1;
	}
	out->opts = rest.len ? intern(rest.p, rest.len) : NULL;
	xbuf_free(&rest);
}

bool search_spec_parse(sv spec, search_spec *out, xbuf *err)
{
	memset(out, 0, sizeof *out);
	out->partial = -1;
	out->affix = "*.";
	sv s = sv_trim(spec);

	if (sv_starts(s, "partial")) {
		size_t i = 7;
		int n = -1;
		while (i < s.len && isdigit((unsigned char)s.p[i])) {
			if (n < 0)
				n = 0;
			if (n > 1000)
				return format_error(spec, err);
			n = n * 10 + (s.p[i] - '0');
			i++;
		}
		out->partial = n < 0 ? 2 : n;
		if (i < s.len && s.p[i] == '-') {
			i++;
		} else if (i < s.len && s.p[i] == '(') {
			size_t j = i + 1;
			while (j < s.len && s.p[j] != ')') {
				/* The affix is punctuation only, so it cannot swallow the lookup name. */
				if (!ispunct((unsigned char)s.p[j]))
					return format_error(spec, err);
				j++;
			}
			if (j >= s.len)
				return format_error(spec, err);
			out->affix = intern(s.p + i + 1, j - i - 1);
			i = j + 1;
		} else {
			return format_error(spec, err);
		}
		s = sv_sub(s, i, s.len);
	}

	/* As Exim 4.96 reads it: the first '*' ends the name and makes "*" (or "*@" when '@'
	 * follows it); the options start at the first comma after that star (or after the start,
	 * with no star), and such a comma also ends the name. So "lsearch*@x" is lsearch*@, and in
	 * "lsearch,ret=key*" the comma before the star is part of an unknown name. */
	size_t len = 0;
	while (len < s.len && s.p[len] != '*')
		len++;
	if (len < s.len) {
		if (len + 1 < s.len && s.p[len + 1] == '@')
			out->starat = true;
		else
			out->star = true;
	}
	size_t comma = len < s.len ? len : 0;
	while (comma < s.len && s.p[comma] != ',')
		comma++;
	if (comma < len)
		len = comma;
	sv name = sv_sub(s, 0, len);
	if (comma < s.len)
		parse_options(sv_sub(s, comma + 1, s.len), out);

	out->li = search_driver(name);
	if (!out->li) {
		xbuf_printf(err, "unknown lookup type \"" SV_FMT "\"", SV_ARG(name));
		return false;
	}
	if ((out->partial >= 0 || out->star || out->starat) && !(out->li->type & LOOKUP_SINGLEKEY)) {
		/* Query-style lookups have no key to modify; Exim rejects the decoration, naming the
		 * type as written (after any "partial" prefix, before the options). */
		sv written = sv_sub(s, 0, comma);
		if (out->partial >= 0)
			xbuf_printf(err, "\"partial\" is not permitted for lookup type \"" SV_FMT "\"",
				SV_ARG(written));
		else
			xbuf_printf(err, "defaults using \"*\" or \"*@\" are not permitted for lookup type \""
				SV_FMT "\"", SV_ARG(written));
		return false;
	}
	return true;
}

bool search_check_style(const search_spec *spec, bool have_key, bool have_file, xbuf *err)
{
	const lookup_info *li = spec->li;
	if (li->type & LOOKUP_SINGLEKEY) {
		if (!have_key) {
			xbuf_printf(err, "missing {key} for single-key \"%s\" lookup", li->name);
			return false;
		}
		return true;
	}
	if (have_key) {
		xbuf_printf(err, "a single key was given for lookup type \"%s\", which is not a single-key "
			"lookup type", li->name);
		return false;
	}
	(void)have_file;
	return true;
}

bool search_split_query_file(const search_spec *spec, sv query, sv *file, sv *rest, xbuf *err)
{
	*file = SV_NULL;
	*rest = query;
	if (!(spec->li->type & LOOKUP_ABSFILEQUERY))
		return true;
	sv q = sv_trim(query);
	/* ",file=/path" after the type name (4.96) names the file; the query is all SQL. */
	for (sv o = sv_cstr(spec->opts); o.len;) {
		size_t j = 0;
		while (j < o.len && o.p[j] != ',')
			j++;
		sv one = sv_trim(sv_sub(o, 0, j));
		if (sv_starts(one, "file=")) {
			*file = sv_sub(one, 5, one.len);
			*rest = q;
			if (file->len && file->p[0] == '/')
				return true;
			break;
		}
		o = sv_sub(o, j + 1, o.len);
	}
	if (q.len && q.p[0] == '/') {
		size_t i = 0;
		while (i < q.len && !isspace((unsigned char)q.p[i]))
			i++;
		*file = sv_sub(q, 0, i);
		*rest = sv_trim(sv_sub(q, i, q.len));
		return true;
	}
	if (spec->li->type & LOOKUP_ABSFILEQUERY) {
		const char *def = NULL;
		if (strcmp(spec->li->name, "sqlite") == 0)
			def = conf_main_string("sqlite_dbfile");
		if (def && *def) {
			*file = sv_cstr(def);
			return true;
		}
	}
	xbuf_printf(err, "absolute file name expected for \"%s\" lookup", spec->li->name);
	return false;
}
