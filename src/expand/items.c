/* Item dispatch and the items that transform strings: if, env, extract, listextract, listquote,
 * lookup, hash/nhash/length/substr, hmac, sg, tr, imapfolder, and the hooked/unsupported ones.
 * List items are in items_list.c, file/socket/process items in items_io.c, prvs in items_prvs.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf/conf.h"
#include "expand/cert.h"
#include "expand/ops/ops.h"
#include "expand/xp_internal.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "search/search.h"

/* {yes}{no} handling shared by items. set_value: $value becomes `value` while the branches
 * expand (lookup, extract...); otherwise it is left alone (if) and the default "yes" is "true". */
static int yesno(const xp_node *n, xp_env *env, bool skip, bool chose_yes, bool set_value, sv value,
	xbuf *out, xbuf *err)
{
	if (n->yn_error) {
		/* Exim expanded the branch it chose (the other parse-only) before it found the
		 * error after them, so an error in that branch comes first. When skipping, the
		 * error node that ends the program reports it (with any context an outer item
		 * adds). */
		xbuf junk;
		xbuf_init(&junk, env->a);
		int brc = XP_OK;
		if (n->yn.yes)
			brc = xp_eval_seq(n->yn.yes, env, skip || !chose_yes, &junk, err);
		if (brc == XP_OK && n->yn.no)
			brc = xp_eval_seq(n->yn.no, env, skip || chose_yes, &junk, err);
		if (brc == XP_ERROR || skip)
			return brc;
		xp_err(err, "%s", n->yn_error);
		return XP_ERROR;
	}
	xp_saved saved;
	xp_save(env, &saved);
	/* A failed lookup/extract leaves the outer $value in place; ${run} always sets it. */
	if (set_value && (chose_yes || n->id == I_RUN))
		env->value = value;
	int rc = XP_OK;
	if (skip) {
		rc = xp_eval_seq(n->yn.yes, env, true, out, err);
		if (rc == XP_OK)
			rc = xp_eval_seq(n->yn.no, env, true, out, err);
	} else if (chose_yes) {
		if (n->yn.yes)
			rc = xp_eval_seq(n->yn.yes, env, false, out, err);
		else if (set_value)
			xbuf_putsv(out, value);
		else
			xbuf_puts(out, "true");
		if (rc == XP_OK && (n->yn.no || n->yn.no_fail)) {
			xbuf junk;
			xbuf_init(&junk, env->a);
			rc = xp_eval_seq(n->yn.no, env, true, &junk, err);
		}
	} else {
		if (n->yn.yes) {
			xbuf junk;
			xbuf_init(&junk, env->a);
			rc = xp_eval_seq(n->yn.yes, env, true, &junk, err);
		}
		if (rc == XP_OK) {
			if (n->yn.no)
				rc = xp_eval_seq(n->yn.no, env, false, out, err);
			else if (n->yn.no_fail) {
				xp_err(err, "\"%s\" failed and \"fail\" requested", xp_item_name(n->id));
				rc = XP_FORCEFAIL;
			}
		}
	}
	xp_restore(env, &saved);
	return rc;
}

int xp_yesno(const xp_node *n, xp_env *env, bool skip, bool chose_yes, sv value, xbuf *out, xbuf *err)
{
	return yesno(n, env, skip, chose_yes, true, value, out, err);
}

/* Evaluate all args into vals[]; stops at the first error. */
static int eval_args(const xp_node *n, xp_env *env, bool skip, sv *vals, xbuf *err)
{
	for (int i = 0; i < n->nargs; i++) {
		int rc = xp_eval_arg(n->args[i], env, skip, &vals[i], err);
		if (rc != XP_OK)
			return rc;
	}
	return XP_OK;
}

/* A numeric item argument ("x" is not a number (in "substr" expansion)). Exim reads it with
 * strtol (leading white space allowed, nothing after the digits; an empty string is 0) and keeps
 * it in an int, so out-of-range values wrap the way they do there. */
static bool item_number(sv v, const char *item, bool positive, long long *out, xbuf *err)
{
	char buf[64];
	size_t n = v.len < sizeof buf - 1 ? v.len : sizeof buf - 1;
	memcpy(buf, v.p ? v.p : "", n);
	buf[n] = 0;
	char *end;
	long long x = strtoll(buf, &end, 10);
	int as_int = (int)(unsigned)(unsigned long long)x;
	if (*end || n != v.len || (positive && as_int < 0)) {
		xp_err(err, "\"" SV_FMT "\" is not a %snumber (in \"%s\" expansion)", SV_ARG(v),
			positive ? "positive " : "", item);
		return false;
	}
	*out = as_int;
	return true;
}

static int item_if(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	bool result = false;
	xp_saved saved;
	xp_save(env, &saved);
	int rc = xp_eval_cond(n->cond, env, skip, &result, err);
	if (rc == XP_OK) {
		DEBUG(D_EXPAND) if (!skip) xp_trace(env, "condition %s => %s", n->cond->name.p ?
			arena_strndup(env->a, n->cond->name.p, n->cond->name.len) : "?", result ? "true" : "false");
		rc = yesno(n, env, skip, result, false, SV_NULL, out, err);
	}
	/* $0..$9 set by a match condition are visible only in the branches. */
	xp_restore(env, &saved);
	return rc;
}

static int item_env(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv name;
	int rc = xp_eval_arg(n->args[0], env, skip, &name, err);
	if (rc != XP_OK)
		return rc;
	const char *v = skip ? NULL : getenv(sv_dup(env->a, name));
	sv val = v ? sv_tainted(sv_cstr(v)) : SV_NULL;
	return yesno(n, env, skip, v != NULL, true, val, out, err);
}

static int item_lookup(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	const search_spec spec = *(const search_spec *)n->spec;
	bool query = (spec.li->type & LOOKUP_QUERYSTYLE) != 0;
	if (query && n->args[0]) {
		xp_err(err, "a single key was given for lookup type \"%s\", which is not a single-key lookup type",
			spec.li->name);
		return XP_ERROR;
	}
	if (!query && !n->args[0]) {
		xp_err(err, "missing {key} for single-key \"%s\" lookup", spec.li->name);
		return XP_ERROR;
	}
	if (!skip && (env->forbid & RDO_LOOKUP)) {
		xp_err(err, "lookup expansions are not permitted");
		return XP_ERROR;
	}
	sv key = SV_NULL, file;
	int rc;
	if (n->args[0] && (rc = xp_eval_arg(n->args[0], env, skip, &key, err)) != XP_OK)
		return rc;
	if ((rc = xp_eval_arg(n->args[1], env, skip, &file, err)) != XP_OK)
		return rc;
	if (skip)
		return yesno(n, env, true, false, true, SV_NULL, out, err);
	if (query) {
		key = file;
		file = SV_NULL;
	}
	xbuf result, serr;
	xbuf_init(&result, env->a);
	xbuf_init(&serr, env->a);
	int src = search_find(&spec, file, key, &result, &serr);
	DEBUG(D_EXPAND) xp_trace(env, "lookup %s key=\"" SV_FMT "\" file=\"" SV_FMT "\" => %s \"%s\"",
		spec.li->name, SV_ARG(key), SV_ARG(file), src == SEARCH_OK ? "found" : src == SEARCH_FAIL ? "not found" : "deferred",
		src == SEARCH_DEFER ? xbuf_cstr(&serr) : xbuf_cstr(&result));
	if (src == SEARCH_DEFER) {
		xp_err(err, "%s", xbuf_cstr(&serr));
		env->lookup_deferred = true;
		return XP_ERROR;
	}
	/* Exim 4.96 treats lookup results as untainted (the search layer decides), so a lookup's
	 * result may name the file of a further lookup. */
	sv val = xbuf_sv(&result);
	return yesno(n, env, false, src == SEARCH_OK, true, val, out, err);
}

/* ---- extract ---- */

/* Named field: key=value pairs separated by white space; values may be "quoted". */
static bool extract_named(sv key, sv s, xbuf *val)
{
	size_t i = 0;
	while (i < s.len) {
		while (i < s.len && isspace((unsigned char)s.p[i]))
			i++;
		size_t ks = i;
		while (i < s.len && s.p[i] != '=' && !isspace((unsigned char)s.p[i]))
			i++;
		sv k = sv_sub(s, ks, i - ks);
		while (i < s.len && isspace((unsigned char)s.p[i]))
			i++;
		if (i < s.len && s.p[i] == '=') {
			i++;
			while (i < s.len && isspace((unsigned char)s.p[i]))
				i++;
		}
		xbuf_reset(val);
		if (i < s.len && s.p[i] == '"') {
			i++;
			while (i < s.len && s.p[i] != '"') {
				if (s.p[i] == '\\' && i + 1 < s.len)
					i++;
				xbuf_putc(val, s.p[i++]);
			}
			if (i < s.len)
				i++;
		} else {
			while (i < s.len && !isspace((unsigned char)s.p[i]))
				xbuf_putc(val, s.p[i++]);
		}
		if (k.len && sv_eqi(k, key))
			return true;
		if (i == ks)
			i++;
	}
	return false;
}

/* Numbered field: fields separated by any of the separator characters; 0 = whole string,
 * negative counts from the end. */
static bool extract_numbered(long long field, sv seps, sv s, xbuf *val)
{
	xbuf_reset(val);
	if (field == 0) {
		xbuf_putsv(val, s);
		return true;
	}
	size_t nf = 1;
	for (size_t i = 0; i < s.len; i++)
		if (memchr(seps.p, s.p[i], seps.len))
			nf++;
	if (seps.len == 0)
		nf = 1;
	long long want = field > 0 ? field : (long long)nf + field + 1;
	if (want < 1 || want > (long long)nf)
		return false;
	size_t f = 1, st = 0;
	for (size_t i = 0; i <= s.len; i++) {
		if (i == s.len || (seps.len && memchr(seps.p, s.p[i], seps.len))) {
			if ((long long)f == want) {
				xbuf_put(val, s.p + st, i - st);
				return true;
			}
			f++;
			st = i + 1;
		}
	}
	return false;
}

bool xp_is_extract_number(sv v);
bool xp_json_extract(sv key, bool numeric, long long idx, sv json, bool strip, xbuf *val, xbuf *err);

/* The strict reading of ${extract} (see parse_extract): Exim's checks in its order. */
static int item_extract(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv vals[5] = { SV_NULL, SV_NULL, SV_NULL, SV_NULL, SV_NULL };
	int rc;
	if (skip) {
		/* A skipped ${extract} is only read: its groups expand parse-only. (If even the loose
		 * reading failed, the error node ending the program says "missing '}' closing
		 * extract", as Exim does when skipping.) */
		xbuf junk;
		xbuf_init(&junk, env->a);
		for (int i = 0; i < n->nargs; i++)
			if ((rc = xp_eval_seq(n->args[i], env, true, &junk, err)) != XP_OK)
				return rc;
		return XP_OK;
	}
	if (n->nargs < 1) {
		xp_err(err, "missing '{' for arg 1 of extract");
		return XP_ERROR;
	}
	if ((rc = xp_eval_arg(n->args[0], env, false, &vals[0], err)) != XP_OK)
		return rc;
	sv a0 = vals[0], t = sv_trim(a0);
	if (!t.len) { /* Exim trims the key first: " " is empty too */
		xp_err(err, "first argument of \"extract\" must not be empty");
		return XP_ERROR;
	}
	bool json = n->opt.len > 0;
	bool numeric = xp_is_extract_number(a0);
	int npos = numeric && !json ? 3 : 2;
	for (int i = 1; i < npos; i++) {
		if (i >= n->nargs) {
			xp_err(err, "missing '{' for arg %d of extract", i + 1);
			return XP_ERROR;
		}
		if ((rc = xp_eval_arg(n->args[i], env, false, &vals[i], err)) != XP_OK)
			return rc;
	}
	int nyn = n->nargs - npos;
	if (nyn == 0 && n->yn.no_fail) {
		xp_err(err, "curly-bracket problem in conditional yes/no parsing: 'yes' part did not start with '{'\n"
			" remaining string is '%s'", n->src + n->rest_after[npos]);
		return XP_ERROR;
	}
	if (nyn > 2 || (nyn == 2 && n->yn.no_fail)) {
		xp_err(err, "curly-bracket problem in conditional yes/no parsing: did not close with '}'\n"
			" remaining string is '%s'", n->src + n->rest_after[npos + 2]);
		return XP_ERROR;
	}
	xp_node tmp = *n;
	tmp.yn.yes = nyn >= 1 ? n->args[npos] : NULL;
	tmp.yn.no = nyn >= 2 ? n->args[npos + 1] : NULL;
	xbuf val;
	xbuf_init(&val, env->a);
	bool found;
	if (json) {
		long long idx = 0;
		if (numeric)
			sv_to_long(t, &idx);
		if (numeric && idx <= 0) {
			xp_err(err, "first argument of \"extract\" must be greater than zero");
			return XP_ERROR;
		}
		xbuf jerr;
		xbuf_init(&jerr, env->a);
		found = xp_json_extract(a0, numeric, idx, vals[1], sv_eq_cstr(n->opt, "jsons"), &val, &jerr);
		if (!found && jerr.len) {
			xp_err(err, "%s", xbuf_cstr(&jerr));
			return XP_ERROR;
		}
	} else if (npos == 3) {
		long long field = 0;
		sv_to_long(t, &field);
		found = extract_numbered(field, vals[1], vals[2], &val);
	} else {
		found = extract_named(t, vals[1], &val);
	}
	sv v = xbuf_sv(&val);
	v.taint = vals[npos - 1].taint;
	return yesno(&tmp, env, false, found, true, v, out, err);
}

static int item_listextract(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[2];
	int rc = eval_args(n, env, skip, a, err);
	if (rc != XP_OK)
		return rc;
	long long field = 0;
	if (!skip && !sv_trim(a[0]).len) { /* white space only counts as empty, as in Exim */
		xp_err(err, "first argument of \"listextract\" must not be empty");
		return XP_ERROR;
	}
	if (!xp_is_extract_number(a[0])) {
		if (!(skip && !sv_trim(a[0]).len)) {
			xp_err(err, "first argument of \"listextract\" must be numeric");
			return XP_ERROR;
		}
	} else {
		field = (int)(unsigned)(unsigned long long)strtoll(sv_dup(env->a, sv_trim(a[0])), NULL, 10);
	}
	if (skip)
		return yesno(n, env, true, false, true, SV_NULL, out, err);
	int count = list_count(a[1], 0);
	long long want = field > 0 ? field : count + field + 1;
	/* Exim's arithmetic: a negative index reaching past the start gives the first item, one
	 * landing exactly before it gives nothing. */
	if (field < 0 && want < 0)
		want = 1;
	xbuf item;
	xbuf_init(&item, env->a);
	bool found = false;
	if (field != 0 && want >= 1 && want <= count) {
		list_iter it;
		list_iter_init(&it, a[1], 0);
		for (long long i = 1; list_next(&it, &item); i++)
			if (i == want) {
				found = true;
				break;
			}
	}
	sv v = xbuf_sv(&item);
	v.taint = a[1].taint;
	return yesno(n, env, false, found, true, v, out, err);
}

static int item_listquote(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[2];
	int rc = eval_args(n, env, skip, a, err);
	if (rc != XP_OK || skip)
		return rc;
	char sep = a[0].len ? a[0].p[0] : ':';
	if (!a[1].len)
		xbuf_putc(out, ' '); /* an empty list item is written as a space, as Exim does */
	for (size_t i = 0; i < a[1].len; i++) {
		xbuf_putc(out, a[1].p[i]);
		if (a[1].p[i] == sep)
			xbuf_putc(out, sep);
	}
	out->taint |= a[1].taint;
	return XP_OK;
}

/* hash, nhash, length, substr: numeric leading arguments then the subject. */
static int item_numeric(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[3];
	int rc = eval_args(n, env, skip, a, err);
	if (rc != XP_OK)
		return rc;
	const char *name = xp_item_name(n->id);
	long long x = 0, y = 0;
	/* The first number may be negative except for length; a second one (a length or modulus)
	 * must be positive — Exim's rules and wording. */
	bool positive = n->id == I_LENGTH;
	if (!item_number(a[0], name, positive, &x, err))
		return XP_ERROR;
	bool two = n->nargs == 3;
	/* substr's start may be negative; its length, like every other count, may not. */
	if (two && !item_number(a[1], name, true, &y, err))
		return XP_ERROR;
	if (skip)
		return XP_OK;
	sv subj = a[n->nargs - 1];
	xbuf tmp;
	xbuf_init(&tmp, env->a);
	xbuf_reset(err);
	bool ok = true;
	switch (n->id) {
	case I_LENGTH: xp_length(subj, x, &tmp); break;
	case I_SUBSTR: ok = xp_substr(subj, x, y, two, &tmp, err); break;
	case I_HASH: ok = xp_hash(subj, x, y, two, &tmp, err); break;
	default: ok = xp_nhash(subj, x, y, two, &tmp, err); break;
	}
	if (!ok)
		return XP_ERROR;
	tmp.taint |= subj.taint;
	xbuf_putsv(out, xbuf_sv(&tmp));
	return XP_OK;
}

static int item_hmac(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[3];
	int rc = eval_args(n, env, skip, a, err);
	if (rc != XP_OK || skip)
		return rc;
	if (!sv_eq_cstr(a[0], "md5") && !sv_eq_cstr(a[0], "sha1")) {
		xp_err(err, "hmac algorithm \"" SV_FMT "\" is not recognised", SV_ARG(a[0]));
		return XP_ERROR;
	}
	xbuf_reset(err);
	return xp_hmac(a[0], a[1], a[2], out, err) ? XP_OK : XP_ERROR;
}

static int item_sg(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[3];
	int rc = eval_args(n, env, skip, a, err);
	if (rc != XP_OK)
		return rc;
	/* The regex is compiled even in a branch not taken, as Exim does. */
	xp_regex *re = xp_regex_compile(env, a[1], false, err);
	if (!re)
		return XP_ERROR;
	if (skip)
		return XP_OK;
	xp_saved saved;
	xp_save(env, &saved);
	/* Global substitution as Perl and Exim do it: after an empty match, first try for a
	 * non-empty match anchored at the same place, and only then step over one character. */
	size_t pos = 0;
	bool after_empty = false;
	while (pos <= a[0].len) {
		size_t m0, m1;
		int m;
		if (after_empty) {
			m = xp_regex_match_nonempty_at(env, re, a[0], pos, &m0, &m1);
			after_empty = false;
			if (m <= 0) {
				if (pos < a[0].len)
					xbuf_putc(out, a[0].p[pos]);
				pos++;
				continue;
			}
		} else {
			m = xp_regex_match(env, re, a[0], true, pos, &m0, &m1);
			if (m <= 0)
				break;
		}
		xbuf_put(out, a[0].p + pos, m0 - pos);
		rc = xp_expand(env, a[2], out, err);
		if (rc != XP_OK)
			break;
		pos = m1;
		after_empty = m0 == m1;
	}
	xp_restore(env, &saved);
	if (rc != XP_OK)
		return rc;
	if (pos < a[0].len)
		xbuf_put(out, a[0].p + pos, a[0].len - pos);
	out->taint |= a[0].taint | a[2].taint;
	return XP_OK;
}

static int item_tr(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[3];
	int rc = eval_args(n, env, skip, a, err);
	if (rc != XP_OK || skip)
		return rc;
	for (size_t i = 0; i < a[0].len; i++) {
		char c = a[0].p[i];
		/* The last occurrence of a character in the "from" list decides its replacement. */
		const char *f = NULL;
		for (size_t j = a[1].len; j-- > 0;)
			if (a[1].p[j] == c) {
				f = a[1].p + j;
				break;
			}
		if (f && a[2].len) {
			size_t k = (size_t)(f - a[1].p);
			c = a[2].p[k < a[2].len ? k : a[2].len - 1];
		}
		xbuf_putc(out, c);
	}
	out->taint |= a[0].taint;
	return XP_OK;
}

int xp_item_imapfolder(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);
int xp_item_prvs(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);
int xp_item_prvscheck(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);

/* Items whose machinery belongs to later layers: call the hook if one is installed. */
static int item_hooked(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv a[12];
	int rc = eval_args(n, env, skip, a, err);
	if (rc != XP_OK || skip)
		return rc;
	const xp_hooks *h = env->hooks;
	switch (n->id) {
	case I_ACL:
		if (!a[0].len)
			return XP_OK; /* no ACL named: nothing to run, an empty result */
		if (h && h->acl)
			return h->acl(h->ctx, a[0], a + 1, n->nargs - 1, out, err);
		xp_err(err, "ERROR from acl \"" SV_FMT "\"", SV_ARG(a[0]));
		return XP_ERROR;
	case I_AUTHRESULTS:
		if (h && h->authresults)
			return h->authresults(h->ctx, a[0], out, err);
		xbuf_printf(out, "Authentication-Results: " SV_FMT, SV_ARG(a[0]));
		return XP_OK;
	case I_SRS_ENCODE:
		if (h && h->srs_encode)
			return h->srs_encode(h->ctx, a[0], a[1], a[2], out, err);
		xp_err(err, "SRS encoding is not available in this context");
		return XP_ERROR;
	case I_DLFUNC:
		if (env->forbid & RDO_DLFUNC)
			xp_err(err, "dynamically-loaded functions are not permitted");
		else
			xp_err(err, "\"${dlfunc\" encountered, but this facility is not included in this binary");
		return XP_ERROR;
	case I_PERL:
		if (env->forbid & RDO_PERL) {
			xp_err(err, "Perl calls are not permitted");
			return XP_ERROR;
		}
		/* Exim's answer when perl_startup is unset; with it set there is still no Perl here. */
		if (!conf_main_string("perl_startup"))
			xp_err(err, "A setting of perl_startup is needed when using the Perl interpreter");
		else
			xp_err(err, "\"${perl\" encountered, but this facility is not included in this binary");
		return XP_ERROR;
	default:
		break;
	}
	return XP_ERROR;
}

static int item_certextract(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv field;
	int rc = xp_eval_arg(n->args[0], env, skip, &field, err);
	if (rc != XP_OK)
		return rc;
	if (skip)
		return yesno(n, env, true, false, true, SV_NULL, out, err);
	sv var = n->raw;
	xbuf cert;
	xbuf_init(&cert, env->a);
	if (xp_var_get(env, var, &cert, err) <= 0) {
		xp_err(err, "no variable named \"" SV_FMT "\"", SV_ARG(var));
		return XP_ERROR;
	}
	if (!xp_cert_var(var)) {
		xp_err(err, "\"" SV_FMT "\" is not a certificate", SV_ARG(var));
		return XP_ERROR;
	}
	/* No certificate (as always without a TLS session): the "no" branch. */
	if (!cert.len)
		return yesno(n, env, false, false, true, SV_NULL, out, err);
	xbuf val;
	xbuf_init(&val, env->a);
	const xp_hooks *h = env->hooks;
	if (h && h->certextract)
		rc = h->certextract(h->ctx, field, xbuf_sv(&cert), &val, err);
	else
		rc = xp_cert_extract(field, xbuf_sv(&cert), &val, err);
	if (rc == XP_ERROR)
		return rc;
	return yesno(n, env, false, rc == XP_OK, true, xbuf_sv(&val), out, err);
}

static int dispatch_item(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);

int xp_eval_item(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	DEBUG(D_EXPAND) xp_trace(env, "item ${%s}%s", xp_item_name(n->id), skip ? " (skipping)" : "");
	int rc = dispatch_item(n, env, skip, out, err);
	DEBUG(D_EXPAND) if (rc != XP_OK) xp_trace(env, "item ${%s} %s: %s", xp_item_name(n->id),
		rc == XP_FORCEFAIL ? "forced failure" : "failed", xbuf_cstr(err));
	return rc;
}

static int dispatch_item(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	switch (n->id) {
	case I_IF: return item_if(n, env, skip, out, err);
	case I_ENV: return item_env(n, env, skip, out, err);
	case I_LOOKUP: return item_lookup(n, env, skip, out, err);
	case I_EXTRACT: return item_extract(n, env, skip, out, err);
	case I_LISTEXTRACT: return item_listextract(n, env, skip, out, err);
	case I_LISTQUOTE: return item_listquote(n, env, skip, out, err);
	case I_HASH: case I_NHASH: case I_LENGTH: case I_SUBSTR: return item_numeric(n, env, skip, out, err);
	case I_HMAC: return item_hmac(n, env, skip, out, err);
	case I_SG: return item_sg(n, env, skip, out, err);
	case I_TR: return item_tr(n, env, skip, out, err);
	case I_IMAPFOLDER: return xp_item_imapfolder(n, env, skip, out, err);
	case I_PRVS: return xp_item_prvs(n, env, skip, out, err);
	case I_PRVSCHECK: return xp_item_prvscheck(n, env, skip, out, err);
	case I_MAP: case I_FILTER: case I_REDUCE: case I_SORT: return xp_item_list(n, env, skip, out, err);
	case I_READFILE: case I_READSOCKET: case I_RUN: return xp_item_io(n, env, skip, out, err);
	case I_CERTEXTRACT: return item_certextract(n, env, skip, out, err);
	default: return item_hooked(n, env, skip, out, err);
	}
}
