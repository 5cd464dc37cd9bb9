/* Parsing conditions (the part of ${if ...} before {yes}{no}, and the conditions inside and{},
 * or{}, forall/forany and ${filter}). Errors use Exim's wording; errors from inside and/or,
 * forall/forany and filter get the " inside ..." suffix Exim adds. */
#include <ctype.h>
#include <stdio.h>

#include "expand/xp_parse.h"

typedef struct cond_def {
	const char *name;
	uint8_t kind;
	uint8_t nargs; /* brace arguments (for and/or/forall/forany: handled specially) */
} cond_def;

static const cond_def conds[] = {
	{ "<", C_NUM, 2 }, { "<=", C_NUM, 2 }, { "=", C_NUM, 2 }, { "==", C_NUM, 2 }, { ">", C_NUM, 2 },
	{ ">=", C_NUM, 2 }, { "acl", C_ACL, 1 }, { "and", C_AND, 0 }, { "bool", C_BOOL, 1 },
	{ "bool_lax", C_BOOL, 1 }, { "crypteq", C_CRYPTEQ, 2 }, { "def", C_DEF, 0 }, { "eq", C_STR2, 2 },
	{ "eqi", C_STR2, 2 }, { "exists", C_EXISTS, 1 }, { "first_delivery", C_FIRST_DELIVERY, 0 },
	{ "forall", C_FORALL, 2 }, { "forall_json", C_FORALL, 2 }, { "forall_jsons", C_FORALL, 2 },
	{ "forany", C_FORANY, 2 }, { "forany_json", C_FORANY, 2 }, { "forany_jsons", C_FORANY, 2 },
	{ "ge", C_STR2, 2 }, { "gei", C_STR2, 2 }, { "gt", C_STR2, 2 }, { "gti", C_STR2, 2 },
	{ "inbound_srs", C_INBOUND_SRS, 2 }, { "inlist", C_INLIST, 2 }, { "inlisti", C_INLIST, 2 },
	{ "isip", C_ISIP, 1 }, { "isip4", C_ISIP, 1 }, { "isip6", C_ISIP, 1 },
	{ "ldapauth", C_UNSUPPORTED, 1 }, { "le", C_STR2, 2 }, { "lei", C_STR2, 2 }, { "lt", C_STR2, 2 },
	{ "lti", C_STR2, 2 }, { "match", C_MATCH, 2 }, { "match_address", C_MATCH_LIST, 2 },
	{ "match_domain", C_MATCH_LIST, 2 }, { "match_ip", C_MATCH_LIST, 2 },
	{ "match_local_part", C_MATCH_LIST, 2 }, { "or", C_OR, 0 }, { "pam", C_UNSUPPORTED, 1 },
	{ "pwcheck", C_UNSUPPORTED, 1 }, { "queue_running", C_QUEUE_RUNNING, 0 },
	{ "radius", C_UNSUPPORTED, 1 }, { "saslauthd", C_UNSUPPORTED, 1 },
};

static const cond_def *find_cond(sv name)
{
	for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++)
		if (sv_eq_cstr(name, conds[i].name))
			return &conds[i];
	return NULL;
}

bool xp_is_condition_name(sv name)
{
	return find_cond(name) != NULL;
}

static void add_arg(xp_parser *p, xp_cond *c, xp_seq *s)
{
	c->args = arena_realloc(p->a, c->args, (size_t)c->nargs * sizeof *c->args,
		(size_t)(c->nargs + 1) * sizeof *c->args);
	c->args[c->nargs++] = s;
}

static void add_sub(xp_parser *p, xp_cond *c, xp_cond *s)
{
	c->subs = arena_realloc(p->a, c->subs, (size_t)c->nsubs * sizeof *c->subs,
		(size_t)(c->nsubs + 1) * sizeof *c->subs);
	c->subs[c->nsubs++] = s;
}

/* Append Exim's " inside ..." context to an error raised within a nested condition. */
static void add_context(xp_parser *p, const char *outer)
{
	if (p->failed && outer)
		p->errmsg = arena_printf(p->a, "%s inside %s", p->errmsg, outer);
}

static xp_cond *parse_one(xp_parser *p, int depth);

xp_cond *xp_parse_cond_p(xp_parser *p, int depth, const char *outer)
{
	xp_cond *c = parse_one(p, depth);
	add_context(p, outer);
	return c;
}

static xp_cond *parse_one(xp_parser *p, int depth)
{
	xp_cond *c = arena_calloc(p->a, 1, sizeof *c);
	c->hkind = -1;
	if (depth > 1000) {
		xp_p_fail(p, "conditions are too deeply nested");
		return c;
	}
	xp_p_skipws(p);
	while (xp_p_peek(p) == '!') {
		c->negate = !c->negate;
		p->pos++;
		xp_p_skipws(p);
	}
	size_t st = p->pos;
	int ch = xp_p_peek(p);
	if (ch >= 0 && (isalnum(ch) || ch == '_')) {
		while (p->pos < p->src.len && (isalnum((unsigned char)p->src.p[p->pos]) || p->src.p[p->pos] == '_'))
			p->pos++;
	} else {
		while (p->pos < p->src.len && strchr("<=>", p->src.p[p->pos]))
			p->pos++;
	}
	c->name = sv_sub(p->src, st, p->pos - st);
	if (!c->name.len) {
		xp_p_fail(p, "condition name expected, but found \"%.16s\"",
			arena_strndup(p->a, p->src.p + p->pos, p->src.len - p->pos));
		return c;
	}
	const cond_def *d = find_cond(c->name);
	if (!d) {
		xp_p_fail(p, "unknown condition \"" SV_FMT "\"", SV_ARG(c->name));
		return c;
	}
	c->kind = d->kind;
	char outer[64];

	switch (d->kind) {
	case C_DEF: {
		if (xp_p_peek(p) != ':') {
			xp_p_fail(p, "\":\" expected after \"def\"");
			return c;
		}
		p->pos++;
		size_t ns = p->pos;
		while (p->pos < p->src.len && (isalnum((unsigned char)p->src.p[p->pos]) || p->src.p[p->pos] == '_'))
			p->pos++;
		sv name = sv_sub(p->src, ns, p->pos - ns);
		if (!name.len) {
			xp_p_fail(p, "variable name omitted after \"def:\"");
			return c;
		}
		size_t plen;
		int hk = xp_header_prefix(name, &plen);
		if (hk >= 0) {
			/* def:h_name: — the header name runs to the colon. */
			p->pos = ns + plen;
			size_t hs = p->pos;
			while (p->pos < p->src.len && p->src.p[p->pos] != ':' && (unsigned char)p->src.p[p->pos] > ' ')
				p->pos++;
			c->text = sv_sub(p->src, hs, p->pos - hs);
			if (xp_p_peek(p) == ':')
				p->pos++;
			else if (memchr(c->text.p, '}', c->text.len) || memchr(c->text.p, '{', c->text.len))
				xp_p_fail(p, "missing or misplaced { or } - could be header name not terminated by colon");
			c->hkind = (int8_t)hk;
		} else {
			c->text = name;
		}
		return c;
	}
	case C_FIRST_DELIVERY:
	case C_QUEUE_RUNNING:
		return c;
	case C_AND:
	case C_OR: {
		snprintf(outer, sizeof outer, "\"" SV_FMT "{...}\" condition", SV_ARG(c->name));
		xp_p_skipws(p);
		if (xp_p_peek(p) != '{') {
			xp_p_fail(p, "missing { after \"" SV_FMT "\"", SV_ARG(c->name));
			return c;
		}
		p->pos++;
		for (;;) {
			xp_p_skipws(p);
			if (xp_p_peek(p) == '}') {
				p->pos++;
				break;
			}
			if (xp_p_peek(p) != '{') {
				xp_p_fail(p, "each subcondition inside an \"" SV_FMT "{...}\" condition must be in its own {}",
					SV_ARG(c->name));
				return c;
			}
			p->pos++;
			const char *saved = xp_p_enter(p, arena_printf(p->a, " inside %s", outer));
			xp_cond *s = xp_parse_cond_p(p, depth + 1, arena_strdup(p->a, outer));
			xp_p_leave(p, saved);
			if (p->failed)
				return c;
			add_sub(p, c, s);
			xp_p_skipws(p);
			if (xp_p_peek(p) != '}') {
				xp_p_fail(p, "missing } at end of condition inside \"" SV_FMT "\" group",
					SV_ARG(c->name));
				return c;
			}
			p->pos++;
		}
		return c;
	}
	case C_FORALL:
	case C_FORANY: {
		snprintf(outer, sizeof outer, "\"" SV_FMT "\" condition", SV_ARG(c->name));
		xp_p_skipws(p);
		if (xp_p_peek(p) != '{') {
			xp_p_fail(p, "missing { after \"" SV_FMT "\"", SV_ARG(c->name));
			return c;
		}
		xp_seq *list = xp_parse_braced(p, depth);
		if (!list)
			return c;
		add_arg(p, c, list);
		xp_p_skipws(p);
		if (xp_p_peek(p) != '{') {
			xp_p_fail(p, "missing { after \"" SV_FMT "\"", SV_ARG(c->name));
			return c;
		}
		p->pos++;
		p->cond_depth++; /* evaluated per list item */
		const char *saved = xp_p_enter(p, arena_printf(p->a, " inside %s", outer));
		xp_cond *s = xp_parse_cond_p(p, depth + 1, arena_strdup(p->a, outer));
		xp_p_leave(p, saved);
		p->cond_depth--;
		if (p->failed)
			return c;
		add_sub(p, c, s);
		xp_p_skipws(p);
		if (xp_p_peek(p) != '}') {
			xp_p_fail(p, "missing } at end of condition inside \"" SV_FMT "\"", SV_ARG(c->name));
			return c;
		}
		p->pos++;
		return c;
	}
	case C_ACL:
	case C_UNSUPPORTED:
		if (sv_eq_cstr(c->name, "acl") || sv_eq_cstr(c->name, "saslauthd")) {
			/* acl{{name}{arg}...}, saslauthd{{user}{password}...}: a group of brace arguments. */
			bool acl = sv_eq_cstr(c->name, "acl");
			xp_p_skipws(p);
			if (xp_p_peek(p) != '{') {
				xp_p_fail(p, "missing { after \"" SV_FMT "\"", SV_ARG(c->name));
				return c;
			}
			p->pos++;
			int max = acl ? 10 : 4;
			for (int i = 0; i < max; i++) {
				xp_p_skipws(p);
				if (xp_p_peek(p) != '{')
					break;
				xp_seq *s = xp_parse_braced(p, depth);
				if (!s)
					return c;
				add_arg(p, c, s);
			}
			xp_p_skipws(p);
			if (xp_p_peek(p) == '{') {
				xp_p_fail(p, "Too many arguments for '' (max is %d)", max); /* sic: Exim names nothing */
				return c;
			}
			xp_p_skipws(p);
			/* acl needs its name, saslauthd a user and a password. */
			if (xp_p_peek(p) != '}' || c->nargs < (acl ? 1 : 2)) {
				xp_p_fail(p, "too few arguments or bracketing error for " SV_FMT, SV_ARG(c->name));
				return c;
			}
			p->pos++;
			return c;
		}
		break;
	default:
		break;
	}
	/* Plain conditions: nargs brace arguments. */
	for (int i = 0; i < d->nargs; i++) {
		xp_p_skipws(p);
		if (xp_p_peek(p) != '{') {
			if (i == 0)
				xp_p_fail(p, "missing { after \"" SV_FMT "\"", SV_ARG(c->name));
			else
				xp_p_fail(p, "missing 2nd string in {} after \"" SV_FMT "\"", SV_ARG(c->name));
			return c;
		}
		if (d->kind == C_MATCH_LIST && i == 1) {
			/* Exim 4.96 reads the list of match_domain and friends without expanding it
			 * (escapes and \N are processed, '$' is text); host lists are expanded later by
			 * the matching, the others never. */
			p->pos++;
			size_t len;
			const char *text = xp_p_raw_arg(p, &len);
			if (!text)
				return c;
			xp_node *lit = arena_calloc(p->a, 1, sizeof *lit);
			lit->kind = N_LIT;
			lit->text = sv_make(text, len);
			xp_seq *s = arena_calloc(p->a, 1, sizeof *s);
			s->first = lit;
			add_arg(p, c, s);
			continue;
		}
		xp_seq *s = xp_parse_braced(p, depth);
		if (!s)
			return c;
		if (d->kind == C_NUM)
			xp_p_pending_number(p);
		add_arg(p, c, s);
	}
	return c;
}

xp_cond *xp_parse_cond(arena *a, sv src, size_t *pos, int depth, const char *outer)
{
	xp_parser p = { .a = a, .src = src, .pos = *pos };
	xp_cond *c = xp_parse_cond_p(&p, depth, outer);
	*pos = p.pos;
	if (p.failed) {
		c->kind = C_ERROR;
		c->text = sv_cstr(p.errmsg);
	}
	return c;
}
