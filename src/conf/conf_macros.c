/* Configuration macros: definition, -D overrides, builtins and substitution.
 *
 * Substitution follows what Exim 4.96 does (checked live):
 *  - a macro name is replaced wherever it occurs as a substring, with no word boundaries
 *    ("AB" turns "xABy" into "x<value>y");
 *  - macros are tried in definition order; each replaces all its occurrences left to right and
 *    its replacement text is not rescanned for itself, but later-defined macros see it;
 *  - the first-token quirk: the line is scanned for its first character that can start a macro
 *    (an upper-case letter, or '_' followed by an upper-case letter). If there is none, nothing
 *    is substituted; if it is '_', all macros are tried; otherwise the builtin macros (all of
 *    which start with '_') are skipped. So "A _HAVE_X" keeps _HAVE_X while "a _HAVE_X" replaces
 *    it. We keep this behaviour deliberately: configurations written for Exim depend on what
 *    Exim actually does, and the rule is cheap (see exim-feature-facts.md §11).
 */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <string.h>

static conf_macro *find(const char *name, size_t len)
{
	for (conf_macro *m = conf_st.macros; m; m = m->next)
		if (m->namelen == len && memcmp(m->name, name, len) == 0)
			return m;
	return NULL;
}

const conf_macro *conf_macros(void) { return conf_st.macros; }

const conf_macro *conf_macro_find(const char *name) { return find(name, strlen(name)); }

bool conf_macro_is_defined(const char *name) { return find(name, strlen(name)) != NULL; }

static void append(const char *name, size_t len, const char *value, bool builtin, bool cmdline)
{
	conf_macro *m = arena_calloc(pool_config, 1, sizeof *m);
	m->name = arena_strndup(pool_config, name, len);
	m->namelen = len;
	m->value = value;
	m->builtin = builtin;
	m->from_cmdline = cmdline;
	*conf_st.macros_tail = m;
	conf_st.macros_tail = &m->next;
	if (!builtin && !conf_st.user_macros)
		conf_st.user_macros = m;
}

void conf_macros_reset(void)
{
	conf_st.macros = NULL;
	conf_st.macros_tail = &conf_st.macros;
	conf_st.user_macros = NULL;
}

void conf_builtin_macro(const char *name, const char *value)
{
	append(name, strlen(name), value ? value : "y", true, false);
}

bool conf_macro_define(conf_reader *r, sv name, sv value, bool redefine, bool from_cmdline)
{
	conf_macro *m = find(name.p, name.len);
	if (m && m->from_cmdline && !from_cmdline)
		return true;  /* -D wins over every definition in the file */
	if (redefine) {
		if (!m) {
			r->err_not_die = true;
			conf_fail_noline(r, "can't redefine an undefined macro \"" SV_FMT "\"", SV_ARG(name));
			return false;
		}
		m->value = sv_dup(pool_config, value);
		return true;
	}
	if (m) {
		if (from_cmdline) {  /* a repeated -D: the last one counts */
			m->value = sv_dup(pool_config, value);
			return true;
		}
		r->err_not_die = true;
		conf_fail_noline(r, "macro \"" SV_FMT "\" is already defined (use \"==\" if you want to redefine it)",
			SV_ARG(name));
		return false;
	}
	/* A new name may not contain an earlier one: the earlier would be substituted inside it. */
	for (conf_macro *o = conf_st.macros; o; o = o->next) {
		if (o->namelen <= name.len && memmem(name.p, name.len, o->name, o->namelen)) {
			r->err_not_die = true;
			conf_fail_noline(r, "\"" SV_FMT "\" cannot be defined as a macro because previously defined macro \"%s\" is a substring",
				SV_ARG(name), o->name);
			return false;
		}
	}
	append(name.p, name.len, sv_dup(pool_config, value), false, from_cmdline);
	return true;
}

/* Replace every occurrence of m in cur (into tmp, then swapped). */
static bool replace_all(const conf_macro *m, xbuf *cur, xbuf *tmp)
{
	const char *hit = memmem(cur->p, cur->len, m->name, m->namelen);
	if (!hit)
		return false;
	xbuf_reset(tmp);
	size_t pos = 0;
	while (hit) {
		size_t at = (size_t)(hit - cur->p);
		xbuf_put(tmp, cur->p + pos, at - pos);
		xbuf_puts(tmp, m->value);
		pos = at + m->namelen;
		if (tmp->len > CONF_MAX_MACRO_GROWTH)
			break;  /* the reader reports the overlong line */
		hit = memmem(cur->p + pos, cur->len - pos, m->name, m->namelen);
	}
	xbuf_put(tmp, cur->p + pos, cur->len - pos);
	xbuf t = *cur;
	*cur = *tmp;
	*tmp = t;
	return true;
}

bool conf_macros_apply(sv line, xbuf *out)
{
	xbuf_reset(out);
	size_t i = 0;
	while (i < line.len && !isupper((unsigned char)line.p[i]) &&
		!(line.p[i] == '_' && i + 1 < line.len && isupper((unsigned char)line.p[i + 1])))
		i++;
	if (i == line.len) {
		xbuf_putsv(out, line);
		return false;
	}
	const conf_macro *start = line.p[i] == '_' ? conf_st.macros : conf_st.user_macros;
	xbuf_putsv(out, line);
	xbuf tmp;
	xbuf_init(&tmp, NULL);
	bool changed = false;
	for (const conf_macro *m = start; m; m = m->next) {
		if (m->namelen > out->len)
			continue;
		if (replace_all(m, out, &tmp))
			changed = true;
		if (out->len > CONF_MAX_MACRO_GROWTH)
			break;
	}
	xbuf_free(&tmp);
	return changed;
}

void conf_macro_substitute(sv line, xbuf *out)
{
	xbuf tmp;
	xbuf_init(&tmp, NULL);
	conf_macros_apply(line, &tmp);
	xbuf_putsv(out, xbuf_sv(&tmp));
	xbuf_free(&tmp);
}

/* The configuration arena is read-only after loading; this module owns it, so a late definition
 * lifts the protection only for the few writes it makes. */
bool conf_define_macro_late(sv name, sv value, bool redefine, const char **reported, xbuf *err)
{
	xbuf subst;
	xbuf_init(&subst, NULL);
	conf_macro_substitute(value, &subst);
	arena_unprotect(pool_config);
	conf_reader r;
	conf_reader_init(&r, NULL, "-be");
	bool ok = conf_macro_define(&r, name, xbuf_sv(&subst), redefine, false);
	arena_protect(pool_config);
	if (ok) {
		const conf_macro *last = conf_st.macros;
		while (last && last->next)
			last = last->next;
		*reported = last ? last->name : "";
	} else {
		xbuf_printf(err, "Exim configuration error:\n  %s", xbuf_cstr(&r.err));
	}
	conf_reader_close(&r);
	xbuf_free(&subst);
	return ok;
}

void conf_late_error(const char *problem, xbuf *err)
{
	xbuf_printf(err, "Exim configuration error in line %d of %s:\n  %s", conf_st.last_line,
		conf_file_name(), problem);
}

void conf_macros_forget(void)
{
	conf_macros_reset(); /* the list heads live outside the read-only configuration arena */
}
