/* Parsing the items ${name{arg}...} — argument counts, option words and {yes}{no} parts, with
 * Exim's wording for each kind of syntax error. */
#include <ctype.h>
#include <stdio.h>

#include "expand/xp_parse.h"
#include "search/search.h"

xp_seq *xp_parse_braced(xp_parser *p, int depth)
{
	p->pos++; /* '{' */
	xp_seq *s = xp_parse_seq_p(p, true, depth + 1);
	if (p->failed)
		return NULL;
	p->pos++; /* '}' (xp_parse_seq_p stops only there when ket_ends) */
	xp_p_pending(p, s);
	return s;
}

/* The text of an argument made only of literal text (NULL otherwise). Exim expands some
 * arguments while parsing; for literal ones we can check them at the same point. */
static bool literal_text(const xp_seq *s, sv *out)
{
	*out = SV_LIT("");
	if (!s || !s->first)
		return true;
	if (s->first->kind != N_LIT || s->first->next)
		return false;
	*out = s->first->text;
	return true;
}

bool xp_is_extract_number(sv v)
{
	sv t = sv_trim(v);
	if (!t.len)
		return false;
	for (size_t i = 0; i < t.len; i++)
		if (!(isdigit((unsigned char)t.p[i]) || (i == 0 && t.p[i] == '-' && t.len > 1)))
			return false;
	return true;
}

bool xp_is_sort_comparator(sv v)
{
	static const char *const names[] = { "<", "<=", ">", ">=", "lt", "lti", "le", "lei", "gt", "gti",
		"ge", "gei", NULL };
	v = sv_trim(v);
	for (int i = 0; names[i]; i++)
		if (sv_eq_cstr(v, names[i]))
			return true;
	return false;
}

static void add_arg(xp_parser *p, xp_node *n, xp_seq *s)
{
	n->args = arena_realloc(p->a, n->args, (size_t)n->nargs * sizeof *n->args,
		(size_t)(n->nargs + 1) * sizeof *n->args);
	n->args[n->nargs++] = s;
}

/* Exim's read_subs: between min and max {args}, then (check_end) the closing brace. */
static bool read_subs(xp_parser *p, xp_node *n, int min, int max, bool check_end, sv name, int depth)
{
	for (int i = 0; i < max; i++) {
		xp_p_skipws(p);
		if (xp_p_peek(p) != '{') {
			if (i < min) {
				xp_p_fail(p, "Not enough arguments for '" SV_FMT "' (min is %d)", SV_ARG(name), min);
				return false;
			}
			break;
		}
		xp_seq *s = xp_parse_braced(p, depth);
		if (!s)
			return false;
		add_arg(p, n, s);
	}
	if (check_end) {
		xp_p_skipws(p);
		if (xp_p_peek(p) == '{') {
			xp_p_fail(p, "Too many arguments for '" SV_FMT "' (max is %d)", SV_ARG(name), max);
			return false;
		}
		if (xp_p_peek(p) != '}') {
			xp_p_fail(p, "missing '}' after '" SV_FMT "'", SV_ARG(name));
			return false;
		}
		p->pos++;
	}
	return true;
}

/* One required {arg} with an item-specific message when the brace is missing. */
static bool need_arg(xp_parser *p, xp_node *n, const char *what, int depth)
{
	xp_p_skipws(p);
	if (xp_p_peek(p) != '{') {
		xp_p_fail(p, "%s", what);
		return false;
	}
	xp_seq *s = xp_parse_braced(p, depth);
	if (!s)
		return false;
	add_arg(p, n, s);
	return true;
}

static const char *rest(const xp_parser *p)
{
	return arena_strndup(p->a, p->src.p + p->pos, p->src.len - p->pos);
}

/* {yes}{no} / {yes}fail / nothing, then the closing brace. */
static bool parse_yesno(xp_parser *p, xp_node *n, sv name, int depth)
{
	xp_p_skipws(p);
	int c = xp_p_peek(p);
	if (c == '}') {
		p->pos++;
		return true;
	}
	if (c != '{') {
		xp_p_fail(p, "curly-bracket problem in conditional yes/no parsing: 'yes' part did not start with '{'\n"
			" remaining string is '%s'", rest(p));
		return false;
	}
	n->yn.present = true;
	p->cond_depth++;
	n->yn.yes = xp_parse_braced(p, depth);
	p->cond_depth--;
	if (!n->yn.yes)
		return false;
	xp_p_skipws(p);
	c = xp_p_peek(p);
	if (c == '{') {
		p->cond_depth++;
		n->yn.no = xp_parse_braced(p, depth);
		p->cond_depth--;
		if (!n->yn.no)
			return false;
	} else if (c != '}') {
		size_t st = p->pos;
		while (isalpha(xp_p_peek(p)))
			p->pos++;
		if (!sv_eq_cstr(sv_sub(p->src, st, p->pos - st), "fail")) {
			xp_p_fail(p, "syntax error in \"" SV_FMT "\" item - \"fail\" expected", SV_ARG(name));
			return false;
		}
		n->yn.no_fail = true;
	}
	xp_p_skipws(p);
	if (xp_p_peek(p) != '}') {
		xp_p_fail(p, "curly-bracket problem in conditional yes/no parsing: did not close with '}'%s\n"
			" remaining string is '%s'", n->yn.no_fail ? " after forcedfail" : "", rest(p));
		return false;
	}
	p->pos++;
	return true;
}

/* A word after the item name ("json", a lookup type, run options): up to white space or '{'. */
static sv read_word(xp_parser *p)
{
	size_t st = p->pos;
	while (p->pos < p->src.len && p->src.p[p->pos] != '{' && !isspace((unsigned char)p->src.p[p->pos]))
		p->pos++;
	return sv_sub(p->src, st, p->pos - st);
}

static bool yesno_or_defer(xp_parser *p, xp_node *n, sv name, int depth);

/* ${run,preexpand{cmd}...}: options follow commas directly after the name. */
static bool parse_run_options(xp_parser *p, xp_node *n)
{
	while (xp_p_peek(p) == ',') {
		p->pos++;
		size_t st = p->pos;
		while (p->pos < p->src.len && (isalnum((unsigned char)p->src.p[p->pos]) || p->src.p[p->pos] == '_'))
			p->pos++;
		if (p->pos == st && p->pos < p->src.len)
			p->pos++; /* Exim names the one character it could not take */
		sv o = sv_sub(p->src, st, p->pos - st);
		if (!sv_eq_cstr(o, "preexpand")) {
			xp_p_fail(p, "bad option '" SV_FMT "' for run", SV_ARG(o));
			return false;
		}
		n->opt = o;
	}
	return true;
}

static bool parse_lookup(xp_parser *p, xp_node *n, sv name, int depth)
{
	xp_p_skipws(p);
	if (xp_p_peek(p) == '{') {
		xp_seq *key = xp_parse_braced(p, depth);
		if (!key)
			return false;
		add_arg(p, n, key);
		xp_p_skipws(p);
	} else {
		add_arg(p, n, NULL); /* query-style: no key */
	}
	if (!isalpha(xp_p_peek(p))) {
		xp_p_fail(p, "missing lookup type");
		return false;
	}
	n->opt = read_word(p);
	search_spec *spec = arena_calloc(p->a, 1, sizeof *spec);
	xbuf err;
	xbuf_init(&err, p->a);
	if (!search_spec_parse(n->opt, spec, &err)) {
		xp_p_fail(p, "%s", xbuf_cstr(&err));
		return false;
	}
	n->spec = spec;
	xp_p_skipws(p);
	if (xp_p_peek(p) != '{') {
		xp_p_fail(p, "missing '{' for lookup file-or-query arg");
		return false;
	}
	xp_seq *q = xp_parse_braced(p, depth);
	if (!q)
		return false;
	add_arg(p, n, q);
	return yesno_or_defer(p, n, name, depth);
}

/* Exim's wording for an ${extract} that does not parse, given what was read: nargs brace groups
 * (numeric: whether the first is a number) and then the text at `rest`. */
/* Set when parse_extract_loose failed on the shape of the item, not inside an argument. */
static _Thread_local bool extract_shape_error;

static void extract_syntax_error(xp_parser *p, int nargs, bool numeric, bool after_fail,
	const size_t *rest_after)
{
	extract_shape_error = true;
	int npos = numeric ? 3 : 2;
	const char *r = rest(p);
	if (nargs > npos + 2) /* the strict reading stopped after the {no} part */
		r = arena_strndup(p->a, p->src.p + rest_after[npos + 2], p->src.len - rest_after[npos + 2]);
	if (nargs < npos)
		xp_p_fail(p, "missing '{' for arg %d of extract", nargs + 1);
	else if (after_fail || nargs >= npos + 2)
		xp_p_fail(p, "curly-bracket problem in conditional yes/no parsing: did not close with '}'%s\n"
			" remaining string is '%s'", after_fail ? " after forcedfail" : "", r);
	else if (nargs == npos)
		xp_p_fail(p, "curly-bracket problem in conditional yes/no parsing: 'yes' part did not start with '{'\n"
			" remaining string is '%s'", r);
	else
		xp_p_fail(p, "syntax error in \"extract\" item - \"fail\" expected");
}

/* ${extract}: Exim reads it strictly when it evaluates it (the split between arguments and
 * {yes}{no} depends on whether the first argument is a number) but, in a branch it skips, only
 * as up to five brace groups, an optional "fail" and the closing brace. So the text is read in
 * that loose form here, and the strict rules are applied at evaluation (item_extract); where
 * even the loose form fails, the error is worded as the strict reading would word it. */
static bool parse_extract_loose(xp_parser *p, xp_node *n, sv name, int depth)
{
	(void)name;
	xp_p_skipws(p);
	if (isalpha(xp_p_peek(p))) {
		n->opt = read_word(p);
		if (!sv_eq_cstr(n->opt, "json") && !sv_eq_cstr(n->opt, "jsons")) {
			xp_p_fail(p, "missing '{' for arg 1 of extract");
			return false;
		}
	}
	/* Where the text after each argument starts, for the messages evaluation may give. */
	size_t *rest_after = arena_calloc(p->a, 6, sizeof *rest_after);
	xp_p_skipws(p);
	rest_after[0] = p->pos;
	for (int i = 0; i < 5; i++) {
		xp_p_skipws(p);
		if (xp_p_peek(p) != '{')
			break;
		p->cond_depth += i >= 2; /* may be a yes/no part */
		xp_seq *s = xp_parse_braced(p, depth);
		p->cond_depth -= i >= 2;
		if (!s)
			return false;
		if (i == 0)
			xp_p_pending_flag(p, PEND_EXTRACTKEY);
		add_arg(p, n, s);
		xp_p_skipws(p);
		rest_after[i + 1] = p->pos;
	}
	n->rest_after = rest_after;
	n->src = arena_strndup(p->a, p->src.p, p->src.len);
	sv first;
	bool numeric = n->nargs && !n->opt.len && literal_text(n->args[0], &first) && xp_is_extract_number(first);
	xp_p_skipws(p);
	int c = xp_p_peek(p);
	if (c >= 0 && isalpha(c)) {
		size_t st = p->pos;
		while (isalpha(xp_p_peek(p)))
			p->pos++;
		if (!sv_eq_cstr(sv_sub(p->src, st, p->pos - st), "fail")) {
			p->pos = st;
			extract_syntax_error(p, n->nargs, numeric, false, rest_after);
			return false;
		}
		n->yn.no_fail = true;
		xp_p_skipws(p);
		c = xp_p_peek(p);
		if (c != '}') {
			extract_syntax_error(p, n->nargs, numeric, true, rest_after);
			return false;
		}
	}
	if (c != '}') {
		extract_syntax_error(p, n->nargs, numeric, false, rest_after);
		return false;
	}
	p->pos++;
	return true;
}

/* When even the loose reading fails, Exim's message depends on whether it was skipping the
 * item: the node keeps the strict reading's message (item_extract reports it after expanding
 * the groups) and the parse error, reported only when the item was skipped, is Exim's skipping
 * one. Failures inside an argument keep their own message. */
static bool parse_extract(xp_parser *p, xp_node *n, sv name, int depth)
{
	extract_shape_error = false;
	if (parse_extract_loose(p, n, name, depth))
		return true;
	if (n->nargs && p->errmsg && extract_shape_error) {
		n->yn_error = p->errmsg;
		p->errmsg = arena_strdup(p->a, "missing '}' closing extract");
	}
	extract_shape_error = false;
	return false;
}

/* Exim reads sort's comparator as a condition name, unexpanded. */
static bool check_sort_comparator(xp_parser *p, sv raw)
{
	sv t = raw; /* not trimmed: " lt" is no condition name for Exim */
	size_t n = 0;
	if (t.len && (isalnum((unsigned char)t.p[0]) || t.p[0] == '_'))
		while (n < t.len && (isalnum((unsigned char)t.p[n]) || t.p[n] == '_'))
			n++;
	else
		while (n < t.len && strchr("<=>", t.p[n]))
			n++;
	if (n == 0) {
		xp_p_fail(p, "condition name expected, but found \"%.16s\"", sv_dup(p->a, t));
		return false;
	}
	sv name = sv_sub(t, 0, n);
	if (!xp_is_condition_name(name)) {
		xp_p_fail(p, "%s", ""); /* Exim's (empty) message for an unknown one */
		return false;
	}
	if (!xp_is_sort_comparator(name)) {
		xp_p_fail(p, "comparator not handled for sort");
		return false;
	}
	return true;
}

/* map/filter/reduce/sort: fixed arguments with positional wording. filter's second argument is
 * a condition. */
static bool parse_listitem(xp_parser *p, xp_node *n, int item, sv name, int depth)
{
	char msg[96];
	static const char *const map_w[] = { "first", "last" }, *const red_w[] = { "first", "second", "last" },
		*const sort_w[] = { "list", "comparator", "extractor" };
	const char *const *w = item == I_REDUCE ? red_w : item == I_SORT ? sort_w : map_w;
	int nw = item == I_REDUCE || item == I_SORT ? 3 : 2;
	for (int i = 0; i < nw; i++) {
		snprintf(msg, sizeof msg, "missing '{' for %s arg of " SV_FMT, w[i], SV_ARG(name));
		if (item == I_SORT && i == 1) {
			/* Exim reads the comparator raw, up to the first closing brace, as a
			 * condition name. */
			xp_p_skipws(p);
			if (xp_p_peek(p) != '{') {
				xp_p_fail(p, "%s", msg);
				return false;
			}
			p->pos++;
			size_t len;
			const char *text = xp_p_raw_arg(p, &len);
			if (!text || !check_sort_comparator(p, sv_make(text, len)))
				return false;
			xp_node *lit = arena_calloc(p->a, 1, sizeof *lit);
			lit->kind = N_LIT;
			lit->text = sv_make(text, len);
			xp_seq *s = arena_calloc(p->a, 1, sizeof *s);
			s->first = lit;
			add_arg(p, n, s);
			continue;
		}
		if (item == I_FILTER && i == 1) {
			xp_p_skipws(p);
			if (xp_p_peek(p) != '{') {
				xp_p_fail(p, "%s", msg);
				return false;
			}
			p->pos++;
			char outer[64];
			snprintf(outer, sizeof outer, "\"" SV_FMT "\" item", SV_ARG(name));
			p->cond_depth++; /* evaluated per list item */
			const char *saved = xp_p_enter(p, arena_printf(p->a, " inside %s", outer));
			n->cond = xp_parse_cond_p(p, depth + 1, arena_strdup(p->a, outer));
			xp_p_leave(p, saved);
			p->cond_depth--;
			if (p->failed)
				return false;
			xp_p_skipws(p);
			if (xp_p_peek(p) != '}') {
				xp_p_fail(p, "missing } at end of condition inside \"filter\" item");
				return false;
			}
			p->pos++;
			continue;
		}
		xp_p_skipws(p);
		size_t st = p->pos + 1;
		bool braced = xp_p_peek(p) == '{';
		/* The per-item expression is expanded only for items of the list. */
		bool per_item = i == nw - 1;
		p->cond_depth += per_item;
		const char *saved = p->ctx;
		if (per_item && (item == I_MAP || item == I_REDUCE))
			saved = xp_p_enter(p, arena_printf(p->a, " inside \"" SV_FMT "\" item", SV_ARG(name)));
		bool got = need_arg(p, n, msg, depth);
		xp_p_leave(p, saved);
		p->cond_depth -= per_item;
		if (!got) {
			/* An error inside the per-item expression names the item, as Exim does. */
			if (braced && i == nw - 1 && (item == I_MAP || item == I_REDUCE))
				p->errmsg = arena_printf(p->a, "%s inside \"" SV_FMT "\" item", p->errmsg, SV_ARG(name));
			return false;
		}
		if (item == I_SORT && i == 2)
			n->raw = sv_sub(p->src, st, p->pos - 1 - st);
	}
	xp_p_skipws(p);
	if (xp_p_peek(p) != '}') {
		xp_p_fail(p, "missing } at end of \"" SV_FMT "\"", SV_ARG(name));
		return false;
	}
	p->pos++;
	return true;
}

/* Exim does an item's work (the lookup, the condition...) before it reads the {yes}{no} part,
 * so a syntax error there is kept on the node and reported after that work. */
static bool yesno_or_defer(xp_parser *p, xp_node *n, sv name, int depth)
{
	if (parse_yesno(p, n, name, depth))
		return true;
	n->yn_error = p->errmsg;
	return false;
}

xp_node *xp_parse_item(xp_parser *p, int item, sv name, int depth)
{
	size_t mark = p->npending;
	xp_node *n = arena_calloc(p->a, 1, sizeof *n);
	n->kind = N_ITEM;
	n->id = (int16_t)item;
	n->text = name;
	bool ok = false;
	switch (item) {
	case I_ACL: ok = read_subs(p, n, 1, 10, true, name, depth); break;
	case I_AUTHRESULTS: ok = read_subs(p, n, 1, 1, true, name, depth); break;
	case I_DLFUNC: ok = read_subs(p, n, 2, 10, true, name, depth); break;
	case I_PERL: ok = read_subs(p, n, 1, 9, true, name, depth); break;
	case I_HASH: case I_NHASH: case I_SUBSTR: ok = read_subs(p, n, 2, 3, true, name, depth); break;
	case I_LENGTH: case I_LISTQUOTE: ok = read_subs(p, n, 2, 2, true, name, depth); break;
	case I_HMAC: case I_SG: case I_TR: case I_SRS_ENCODE:
		ok = read_subs(p, n, 3, 3, true, name, depth);
		break;
	case I_IMAPFOLDER: ok = read_subs(p, n, 1, 3, true, name, depth); break;
	case I_READFILE: ok = read_subs(p, n, 1, 2, true, name, depth); break;
	case I_PRVS: ok = read_subs(p, n, 2, 3, true, name, depth); break;
	case I_PRVSCHECK:
		/* address and secret are required one at a time, then an optional third. */
		ok = read_subs(p, n, 1, 1, false, name, depth) && read_subs(p, n, 1, 1, false, name, depth) &&
			read_subs(p, n, 0, 1, false, name, depth);
		if (ok) {
			xp_p_skipws(p);
			if (xp_p_peek(p) == '{') {
				xp_p_fail(p, "Too many arguments for 'prvscheck' (max is 2)");
				ok = false;
			} else if (xp_p_peek(p) != '}') {
				xp_p_fail(p, "missing '}' after 'prvscheck'");
				ok = false;
			} else {
				p->pos++;
			}
		}
		break;
	case I_READSOCKET:
		ok = read_subs(p, n, 2, 5, false, name, depth);
		if (ok) {
			xp_p_skipws(p);
			if (xp_p_peek(p) != '}') {
				xp_p_fail(p, "missing '}' closing readsocket");
				ok = false;
			} else {
				p->pos++;
			}
		}
		break;
	case I_ENV:
		xp_p_skipws(p);
		if (xp_p_peek(p) != '{') {
			xp_p_fail(p, "%s", "");
			break;
		}
		ok = need_arg(p, n, "", depth) && yesno_or_defer(p, n, name, depth);
		break;
	case I_CERTEXTRACT: {
		ok = need_arg(p, n, "missing '{' for field arg of certextract", depth);
		if (ok) {
			/* The second argument is "{$name}", read as it stands: not expanded. */
			xp_p_skipws(p);
			if (xp_p_peek(p) != '{') {
				xp_p_fail(p, "missing '{' for cert variable arg of certextract");
				ok = false;
			} else if (p->pos + 1 >= p->src.len || p->src.p[p->pos + 1] != '$') {
				xp_p_fail(p, "second argument of \"certextract\" must be a certificate variable");
				ok = false;
			} else {
				p->pos += 2;
				size_t len;
				const char *raw = xp_p_raw_arg(p, &len);
				if (!raw)
					ok = false;
				else
					n->raw = sv_make(raw, len);
			}
		}
		ok = ok && yesno_or_defer(p, n, name, depth);
		break;
	}
	case I_LISTEXTRACT: {
		sv first;
		ok = need_arg(p, n, "missing '{' for arg 1 of listextract", depth);
		if (ok)
			xp_p_pending_flag(p, PEND_LISTINDEX);
		/* An empty index is only an error when the item is evaluated (Exim skips it quietly in
		 * an untaken branch), so that check is left to item_listextract. */
		if (ok && literal_text(n->args[0], &first) && sv_trim(first).len && !xp_is_extract_number(first)) {
			xp_p_fail(p, "first argument of \"listextract\" must be numeric");
			ok = false;
		}
		ok = ok && need_arg(p, n, "missing '{' for arg 2 of listextract", depth) &&
			yesno_or_defer(p, n, name, depth);
		break;
	}
	case I_EXTRACT: ok = parse_extract(p, n, name, depth); break;
	case I_MAP: case I_FILTER: case I_REDUCE: case I_SORT:
		ok = parse_listitem(p, n, item, name, depth);
		break;
	case I_LOOKUP: ok = parse_lookup(p, n, name, depth); break;
	case I_RUN:
		if (!parse_run_options(p, n))
			break;
		xp_p_skipws(p);
		{
			size_t st = p->pos + 1;
			ok = need_arg(p, n, "missing '{' for command arg of run", depth);
			if (ok)
				n->raw = sv_sub(p->src, st, p->pos - 1 - st);
		}
		ok = ok && yesno_or_defer(p, n, name, depth);
		break;
	case I_IF:
		xp_p_skipws(p);
		n->cond = xp_parse_cond_p(p, depth + 1, NULL);
		ok = !p->failed && yesno_or_defer(p, n, name, depth);
		break;
	default:
		xp_p_fail(p, "internal error: item " SV_FMT " has no parser", SV_ARG(name));
		break;
	}
	if (!ok)
		return n->yn_error ? n : NULL; /* a node whose yes/no part is bad still does its work */
	p->npending = mark;
	return n;
}
