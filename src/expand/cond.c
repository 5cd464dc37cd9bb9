/* Evaluating conditions (see cond_parse.c for their syntax). In skip mode arguments are still
 * expanded (parse-only) so unknown variables are reported, but nothing is tested. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "expand/ops/ops.h"
#include "expand/xp_internal.h"
#include "lib/list.h"

bool xp_number(sv text, long long *out, const char *what, xbuf *err)
{
	sv t = sv_trim(text);
	if (!t.len) {
		*out = 0;
		return true;
	}
	/* Exim's messages quote the text from its first non-blank to the very end. */
	sv shown = sv_make(t.p, (size_t)(text.p + text.len - t.p));
	size_t i = 0;
	bool neg = false;
	if (t.p[0] == '-' || t.p[0] == '+') {
		neg = t.p[0] == '-';
		i++;
	}
	if (i >= t.len || !isdigit((unsigned char)t.p[i])) {
		xp_err(err, "integer expected but \"" SV_FMT "\" found", SV_ARG(shown));
		return false;
	}
	unsigned long long v = 0, limit = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	bool overflow = false;
	for (; i < t.len && isdigit((unsigned char)t.p[i]); i++) {
		unsigned d = (unsigned)(t.p[i] - '0');
		if (v > (limit - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (i < t.len) {
		int m = tolower((unsigned char)t.p[i]);
		unsigned long long mult = m == 'k' ? 1024ULL : m == 'm' ? 1024ULL * 1024 : m == 'g' ? 1024ULL * 1024 * 1024 : 0;
		if (!mult || i + 1 != t.len) {
			xp_err(err, "invalid integer \"" SV_FMT "\"", SV_ARG(shown));
			return false;
		}
		if (v > limit / mult)
			overflow = true;
		else
			v *= mult;
	}
	if (overflow) {
		xp_err(err, "absolute value of integer \"" SV_FMT "\" is too large (overflow)", SV_ARG(shown));
		return false;
	}
	(void)what;
	*out = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

static int str_compare(sv name, sv a, sv b)
{
	bool caseless = name.len == 3 && name.p[2] == 'i';
	int c;
	if (caseless) {
		size_t n = a.len < b.len ? a.len : b.len;
		c = n ? strncasecmp(a.p, b.p, n) : 0;
		if (!c)
			c = a.len < b.len ? -1 : a.len > b.len;
	} else {
		c = sv_cmp(a, b);
	}
	if (sv_starts(name, "eq"))
		return c == 0;
	if (sv_starts(name, "lt"))
		return c < 0;
	if (sv_starts(name, "le"))
		return c <= 0;
	if (sv_starts(name, "gt"))
		return c > 0;
	return c >= 0; /* ge */
}

static bool is_ip(sv s, int family)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	if (s.len == 0 || s.len >= sizeof buf)
		return false;
	memcpy(buf, s.p, s.len);
	buf[s.len] = 0;
	char *zone = strchr(buf, '%'); /* an IPv6 scope (fe80::1%eth0) */
	if (zone && strchr(buf, ':'))
		*zone = 0;
	if ((family == 0 || family == 4) && inet_pton(AF_INET, buf, addr) == 1)
		return true;
	return (family == 0 || family == 6) && inet_pton(AF_INET6, buf, addr) == 1;
}

/* bool{}: Exim's strict boolean; bool_lax{}: like a router condition. */
static int eval_bool(sv name, sv v, bool *res, xbuf *err)
{
	sv t = sv_trim(v);
	if (sv_eq_cstr(name, "bool_lax")) {
		*res = !(t.len == 0 || sv_eq_cstr(t, "0") || sv_eqi(t, SV_LIT("no")) || sv_eqi(t, SV_LIT("false")));
		return XP_OK;
	}
	if (!t.len) {
		*res = false;
		return XP_OK;
	}
	long long n;
	if (sv_to_long(t, &n)) {
		*res = n != 0;
		return XP_OK;
	}
	if (sv_eqi(t, SV_LIT("true")) || sv_eqi(t, SV_LIT("yes"))) {
		*res = true;
		return XP_OK;
	}
	if (sv_eqi(t, SV_LIT("false")) || sv_eqi(t, SV_LIT("no"))) {
		*res = false;
		return XP_OK;
	}
	xp_err(err, "unrecognised boolean value \"" SV_FMT "\"", SV_ARG(t));
	return XP_ERROR;
}

bool xp_json_array_items(arena *a, sv json, sv **items, size_t *n, bool strip, xbuf *err);

static int eval_loop(const xp_cond *c, xp_env *env, bool skip, bool *result, xbuf *err)
{
	sv list;
	int rc = xp_eval_arg(c->args[0], env, skip, &list, err);
	if (rc != XP_OK)
		return rc;
	bool any = c->kind == C_FORANY;
	sv saved_item = env->item;
	char outer[48];
	snprintf(outer, sizeof outer, " inside \"" SV_FMT "\" condition", SV_ARG(c->name));
	*result = !any;
	if (skip) {
		bool r;
		rc = xp_eval_cond(c->subs[0], env, true, &r, err);
		if (rc != XP_OK)
			xbuf_puts(err, outer);
		return rc;
	}
	/* The condition is read once (parse-only) before it is tested, as Exim does. */
	bool dummy;
	rc = xp_eval_cond(c->subs[0], env, true, &dummy, err);
	if (rc != XP_OK) {
		xbuf_puts(err, outer);
		return rc;
	}
	sv *items = NULL;
	size_t n = 0;
	if (sv_starts(c->name, "forall_json") || sv_starts(c->name, "forany_json")) {
		if (!xp_json_array_items(env->a, list, &items, &n, sv_starts(sv_sub(c->name, 6, c->name.len), "_jsons"), err))
			return XP_ERROR;
	} else {
		list_iter it;
		xbuf item;
		xbuf_init(&item, env->a);
		list_iter_init(&it, list, 0);
		size_t cap = 0;
		while (list_next(&it, &item)) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				items = arena_realloc(env->a, items, cap * sizeof *items, ncap * sizeof *items);
				cap = ncap;
			}
			items[n++] = sv_copy(env->a, xbuf_sv(&item));
		}
	}
	if (n == 0)
		*result = false; /* forall over an empty list is false too */
	for (size_t i = 0; i < n; i++) {
		if (!items[i].p) {
			xp_err(err, "missing '\"' wrapping string result for extract jsons");
			rc = XP_ERROR;
			break;
		}
		env->item = items[i];
		bool r = false;
		rc = xp_eval_cond(c->subs[0], env, false, &r, err);
		if (rc != XP_OK) {
			xbuf_puts(err, outer);
			break;
		}
		if (r == any) {
			*result = any;
			break;
		}
	}
	env->item = saved_item;
	return rc;
}

static int eval_andor(const xp_cond *c, xp_env *env, bool skip, bool *result, xbuf *err)
{
	bool is_and = c->kind == C_AND;
	*result = is_and;
	bool decided = false;
	for (int i = 0; i < c->nsubs; i++) {
		bool r = false;
		int rc = xp_eval_cond(c->subs[i], env, skip || decided, &r, err);
		if (rc != XP_OK) {
			xbuf_printf(err, " inside \"" SV_FMT "{...}\" condition", SV_ARG(c->name));
			return rc;
		}
		if (!skip && !decided && r != is_and) {
			*result = !is_and;
			decided = true;
		}
	}
	return XP_OK;
}

int xp_eval_cond(const xp_cond *c, xp_env *env, bool skip, bool *result, xbuf *err)
{
	sv a[10];
	int rc = XP_OK;
	*result = false;
	if (c->kind == C_ERROR) {
		xp_err(err, SV_FMT, SV_ARG(c->text));
		return XP_ERROR;
	}
	if (c->kind == C_AND || c->kind == C_OR)
		rc = eval_andor(c, env, skip, result, err);
	else if (c->kind == C_FORALL || c->kind == C_FORANY)
		rc = eval_loop(c, env, skip, result, err);
	else {
		for (int i = 0; i < c->nargs && i < 10; i++) {
			if ((rc = xp_eval_arg(c->args[i], env, skip, &a[i], err)) != XP_OK)
				return rc;
			/* Exim checks each number as soon as it has read it. */
			long long num;
			if (c->kind == C_NUM && !skip && !xp_number(a[i], &num, "", err))
				return XP_ERROR;
		}
		if (c->kind == C_DEF) {
			xbuf tmp;
			xbuf_init(&tmp, env->a);
			if (c->hkind >= 0) {
				bool exists = false;
				xp_header_get(env, c->hkind, c->text, &tmp, &exists);
				*result = exists;
			} else {
				int f = xp_var_get(env, c->text, &tmp, err);
				if (f <= 0) {
					if (f == 0) {
						/* Exim's wording, with the hint for ACL-variable-like names */
						xbuf hint;
						xbuf_init(&hint, env->a);
						xp_unknown_var_message(c->text, &hint);
						const char *paren = strstr(xbuf_cstr(&hint), " (");
						xp_err(err, "unknown variable \"" SV_FMT "\" after \"def:\"%s", SV_ARG(c->text),
							paren ? paren : "");
					}
					return XP_ERROR;
				}
				*result = tmp.len > 0;
			}
		} else if (skip) {
			*result = false;
			/* Exim checks bool's value even in a branch it skips (its literal text is kept). */
			if (c->kind == C_BOOL && (rc = eval_bool(c->name, a[0], result, err)) != XP_OK)
				return rc;
			*result = false;
		} else {
			switch (c->kind) {
			case C_NUM: {
				long long x, y;
				if (!xp_number(a[0], &x, "", err) || !xp_number(a[1], &y, "", err))
					return XP_ERROR;
				sv op = c->name;
				if (sv_eq_cstr(op, "=") || sv_eq_cstr(op, "=="))
					*result = x == y;
				else if (sv_eq_cstr(op, "<"))
					*result = x < y;
				else if (sv_eq_cstr(op, "<="))
					*result = x <= y;
				else if (sv_eq_cstr(op, ">"))
					*result = x > y;
				else
					*result = x >= y;
				break;
			}
			case C_STR2:
				*result = str_compare(c->name, a[0], a[1]);
				break;
			case C_MATCH: {
				xp_regex *re = xp_regex_compile(env, a[1], false, err);
				if (!re)
					return XP_ERROR;
				int m = xp_regex_match(env, re, a[0], true, 0, NULL, NULL);
				if (m < 0) {
					xp_err(err, "regular expression match failed");
					return XP_ERROR;
				}
				*result = m > 0;
				break;
			}
			case C_MATCH_LIST:
			case C_INLIST: {
				enum xp_list_kind k = XL_STRING;
				if (sv_eq_cstr(c->name, "match_address"))
					k = XL_ADDRESS;
				else if (sv_eq_cstr(c->name, "match_domain"))
					k = XL_DOMAIN;
				else if (sv_eq_cstr(c->name, "match_ip"))
					k = XL_HOST;
				else if (sv_eq_cstr(c->name, "match_local_part"))
					k = XL_LOCALPART;
				/* Exim compares domains, local parts and addresses in these conditions caselessly;
				 * plain string lists only with inlisti. */
				bool caseless = sv_eq_cstr(c->name, "inlisti") || k == XL_DOMAIN ||
					k == XL_LOCALPART || k == XL_ADDRESS;
				if (k == XL_HOST) {
					/* A host list is expanded by the matching as a whole. */
					xbuf exp, eerr;
					xbuf_init(&exp, env->a);
					xbuf_init(&eerr, env->a);
					if (xp_expand(env, a[1], &exp, &eerr) != XP_OK) {
						xp_err(err, "unable to complete match against \"" SV_FMT "\": NULL", SV_ARG(a[1]));
						return XP_ERROR;
					}
					a[1] = xbuf_sv(&exp);
				}
				sv value = SV_NULL;
				int m = xp_match_list(env, a[0], a[1], k, caseless, &value, err);
				if (m < 0)
					return XP_ERROR;
				*result = m > 0;
				if (m > 0 && value.p)
					env->value = value; /* seen by the branches of the ${if} */
				break;
			}
			case C_CRYPTEQ: {
				bool match = false;
				xbuf_reset(err);
				if (!xp_crypteq(a[0], a[1], &match, err))
					return XP_ERROR;
				*result = match;
				break;
			}
			case C_EXISTS: {
				if (env->forbid & RDO_EXISTS) {
					xp_err(err, "File existence tests are not permitted");
					return XP_ERROR;
				}
				struct stat st;
				*result = stat(sv_dup(env->a, a[0]), &st) == 0;
				break;
			}
			case C_ISIP:
				*result = is_ip(a[0], sv_eq_cstr(c->name, "isip4") ? 4 : sv_eq_cstr(c->name, "isip6") ? 6 : 0);
				break;
			case C_BOOL:
				if ((rc = eval_bool(c->name, a[0], result, err)) != XP_OK)
					return rc;
				break;
			case C_ACL: {
				const xp_hooks *h = env->hooks;
				if (h && h->acl_cond) {
					/* Exim: accept is true, deny false, the message is $value in both. */
					xbuf o;
					xbuf_init(&o, env->a);
					bool accepted = false;
					rc = h->acl_cond(h->ctx, a[0], a + 1, c->nargs - 1, &accepted, &o, err);
					if (rc != XP_OK)
						return XP_ERROR;
					*result = accepted;
					env->value = xbuf_sv(&o);
				} else if (h && h->acl) {
					xbuf o;
					xbuf_init(&o, env->a);
					rc = h->acl(h->ctx, a[0], a + 1, c->nargs - 1, &o, err);
					if (rc == XP_ERROR)
						return rc;
					*result = rc == XP_OK;
					if (rc == XP_OK)
						env->value = xbuf_sv(&o);
					rc = XP_OK;
				} else {
					xp_err(err, "ERROR from acl \"" SV_FMT "\"", SV_ARG(a[0]));
					return XP_ERROR;
				}
				break;
			}
			case C_INBOUND_SRS: {
				const xp_hooks *h = env->hooks;
				if (h && h->inbound_srs) {
					if ((rc = h->inbound_srs(h->ctx, a[0], a[1], result, err)) != XP_OK)
						return rc;
				} else {
					*result = false;
				}
				break;
			}
			case C_FIRST_DELIVERY:
			case C_QUEUE_RUNNING:
				*result = false;
				break;
			case C_UNSUPPORTED:
				xp_err(err, "support for \"" SV_FMT "\" not compiled", SV_ARG(c->name));
				return XP_ERROR;
			default:
				break;
			}
		}
	}
	if (rc == XP_OK && c->negate && !skip)
		*result = !*result;
	return rc;
}
