/* The environment Exim runs with: the caller's environment filtered by keep_environment, plus
 * add_environment (what "-bP environment" shows, and what later layers install at startup).
 *
 * Observed in Exim 4.96: with keep_environment unset nothing is kept; an item of keep_environment
 * starting with '^' is a regular expression matched against the variable's name, any other item
 * is an exact name; add_environment items are NAME=value (items without '=' are ignored); the
 * result is listed sorted by name. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

#include "conf/conf_internal.h"
#include "conf/main_options.h"

static bool name_kept(sv name, const char *keep)
{
	if (!keep)
		return false;
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(keep), 0);
	bool kept = false;
	while (!kept && list_next(&it, &item)) {
		if (item.len && item.p[0] == '^') {
			int errcode;
			PCRE2_SIZE erroff;
			pcre2_code *re = pcre2_compile((PCRE2_SPTR)item.p, item.len, 0, &errcode, &erroff, NULL);
			if (!re)
				continue;
			pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
			kept = pcre2_match(re, (PCRE2_SPTR)name.p, name.len, 0, 0, md, NULL) >= 0;
			pcre2_match_data_free(md);
			pcre2_code_free(re);
		} else {
			kept = sv_eq(xbuf_sv(&item), name);
		}
	}
	xbuf_free(&item);
	return kept;
}

static int by_name(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int c = strncmp(x, y, nx < ny ? nx : ny);
	return c ? c : (nx > ny) - (nx < ny);
}

/* A growable array of "NAME=value" strings (borrowed: they outlive the list). */
typedef struct env_list {
	const char **vars;
	size_t n, cap;
} env_list;

static void env_add(env_list *l, const char *var)
{
	/* a later variable of the same name replaces an earlier one */
	for (size_t i = 0; i < l->n; i++)
		if (by_name(&l->vars[i], &var) == 0) {
			l->vars[i] = var;
			return;
		}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->vars = realloc(l->vars, l->cap * sizeof *l->vars);
		if (!l->vars)
			abort();
	}
	l->vars[l->n++] = var;
}

/* The kept variables of env and the added ones, sorted by name, into l; added holds the text of
 * the added ones (l points into it). */
static void build(char *const *env, env_list *l, xbuf *added)
{
	for (char *const *e = env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (eq && name_kept(sv_make(*e, (size_t)(eq - *e)), conf_main.keep_environment))
			env_add(l, *e);
	}
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter it;
	list_iter_init(&it, sv_cstr(conf_main.add_environment), 0);
	/* added items are kept NUL-separated in one buffer, so the pointers are taken afterwards */
	while (conf_main.add_environment && list_next(&it, &item))
		if (strchr(xbuf_cstr(&item), '=')) {
			xbuf_putsv(added, xbuf_sv(&item));
			xbuf_putc(added, 0);
		}
	for (size_t off = 0; off < added->len; off += strlen(added->p + off) + 1)
		env_add(l, added->p + off);
	if (l->n)
		qsort(l->vars, l->n, sizeof *l->vars, by_name);
	xbuf_free(&item);
}

void conf_format_environment(char *const *env, xbuf *out)
{
	env_list l = { 0 };
	xbuf added;
	xbuf_init(&added, NULL);
	build(env, &l, &added);
	for (size_t i = 0; i < l.n; i++)
		xbuf_printf(out, "%s\n", l.vars[i]);
	xbuf_free(&added);
	free(l.vars);
}

char **conf_exim_environ(char *const *env)
{
	env_list l = { 0 };
	xbuf added;
	xbuf_init(&added, NULL);
	build(env, &l, &added);
	char **out = calloc(l.n + 1, sizeof *out);
	if (!out)
		abort();
	for (size_t i = 0; i < l.n; i++)
		if (!(out[i] = strdup(l.vars[i])))
			abort();
	xbuf_free(&added);
	free(l.vars);
	return out;
}
