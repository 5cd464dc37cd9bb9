/* Compiling expansion source into a tree (see xp_internal.h).
 *
 * The parser follows the shape Exim's evaluator reads: literal text with backslash escapes and
 * \N...\N, $name, ${name}, ${op:arg}, ${item{arg}...}. Nesting is bounded by XP_PARSE_MAX_DEPTH
 * so hostile input cannot exhaust the stack. On a syntax error the parser stops; the sequence
 * parsed so far is kept and an N_ERROR node follows it, carrying (as args) the argument strings
 * of unfinished items, which evaluation expands first so an earlier error (an unknown variable)
 * wins as it does in Exim.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "expand/ops/ops.h"
#include "expand/xp_internal.h"
#include "expand/xp_parse.h"

#define XP_PARSE_MAX_DEPTH 1000

static const char *const item_names[I_COUNT] = {
	[I_ACL] = "acl", [I_AUTHRESULTS] = "authresults", [I_CERTEXTRACT] = "certextract",
	[I_DLFUNC] = "dlfunc", [I_ENV] = "env", [I_EXTRACT] = "extract", [I_FILTER] = "filter",
	[I_HASH] = "hash", [I_HMAC] = "hmac", [I_IF] = "if", [I_IMAPFOLDER] = "imapfolder",
	[I_LENGTH] = "length", [I_LISTEXTRACT] = "listextract", [I_LISTQUOTE] = "listquote",
	[I_LOOKUP] = "lookup", [I_MAP] = "map", [I_NHASH] = "nhash", [I_PERL] = "perl",
	[I_PRVS] = "prvs", [I_PRVSCHECK] = "prvscheck", [I_READFILE] = "readfile",
	[I_READSOCKET] = "readsocket", [I_REDUCE] = "reduce", [I_RUN] = "run", [I_SG] = "sg",
	[I_SORT] = "sort", [I_SRS_ENCODE] = "srs_encode", [I_SUBSTR] = "substr", [I_TR] = "tr",
};

const char *xp_item_name(int id)
{
	return id >= 0 && id < I_COUNT ? item_names[id] : "?";
}

static int item_lookup(sv name)
{
	for (int i = 0; i < I_COUNT; i++)
		if (sv_eq_cstr(name, item_names[i]))
			return i;
	return -1;
}

xp_node *xp_new_error(arena *a, const char *fmt, ...)
{
	xp_node *n = arena_calloc(a, 1, sizeof *n);
	n->kind = N_ERROR;
	va_list ap;
	va_start(ap, fmt);
	n->text = sv_cstr(arena_vprintf(a, fmt, ap));
	va_end(ap);
	return n;
}

/* ---- parser state ---- */

void xp_p_fail(xp_parser *p, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	va_list ap;
	va_start(ap, fmt);
	p->errmsg = arena_vprintf(p->a, fmt, ap);
	va_end(ap);
}

void xp_p_pending(xp_parser *p, xp_seq *s)
{
	if (!s)
		return;
	if (p->npending == p->cappending) {
		size_t ncap = p->cappending ? p->cappending * 2 : 16;
		p->pending = arena_realloc(p->a, p->pending, p->cappending * sizeof *p->pending,
			ncap * sizeof *p->pending);
		p->pendflags = arena_realloc(p->a, p->pendflags, p->cappending, ncap);
		p->pendctx = arena_realloc(p->a, p->pendctx, p->cappending * sizeof *p->pendctx,
			ncap * sizeof *p->pendctx);
		p->cappending = ncap;
	}
	p->pendflags[p->npending] = p->cond_depth > 0 ? PEND_CONDITIONAL : 0;
	p->pendctx[p->npending] = p->ctx;
	p->pending[p->npending++] = s;
}

/* Move the entry pushed last to index at: a sequence that failed holds only what came before
 * its unfinished item, so it must run before the arguments pushed while parsing that item
 * (Exim evaluates left to right: "$a${x{..." reports $a first). */
static void pending_move_last_to(xp_parser *p, size_t at)
{
	size_t last = p->npending - 1;
	if (at >= last)
		return;
	xp_seq *s = p->pending[last];
	uint8_t f = p->pendflags[last];
	const char *c = p->pendctx[last];
	memmove(p->pending + at + 1, p->pending + at, (last - at) * sizeof *p->pending);
	memmove(p->pendflags + at + 1, p->pendflags + at, last - at);
	memmove(p->pendctx + at + 1, p->pendctx + at, (last - at) * sizeof *p->pendctx);
	p->pending[at] = s;
	p->pendflags[at] = f;
	p->pendctx[at] = c;
}

const char *xp_p_enter(xp_parser *p, const char *suffix)
{
	const char *saved = p->ctx;
	p->ctx = saved ? arena_printf(p->a, "%s%s", suffix, saved) : suffix;
	return saved;
}

void xp_p_leave(xp_parser *p, const char *saved)
{
	p->ctx = saved;
}

void xp_p_pending_number(xp_parser *p)
{
	xp_p_pending_flag(p, PEND_NUMBER);
}

void xp_p_pending_flag(xp_parser *p, uint8_t flag)
{
	if (p->npending)
		p->pendflags[p->npending - 1] |= flag;
}

void xp_p_skipws(xp_parser *p)
{
	while (p->pos < p->src.len && isspace((unsigned char)p->src.p[p->pos]))
		p->pos++;
}

int xp_p_peek(const xp_parser *p)
{
	return p->pos < p->src.len ? (unsigned char)p->src.p[p->pos] : -1;
}

/* Literal text accumulates in a buffer and becomes one N_LIT node when something else comes. */
typedef struct seq_builder {
	xp_seq *seq;
	xp_node **tail;
	xbuf lit;
} seq_builder;

static void sb_flush(xp_parser *p, seq_builder *b)
{
	if (!b->lit.len)
		return;
	xp_node *n = arena_calloc(p->a, 1, sizeof *n);
	n->kind = N_LIT;
	n->text = sv_make(arena_memdup(p->a, b->lit.p, b->lit.len), b->lit.len);
	*b->tail = n;
	b->tail = &n->next;
	xbuf_reset(&b->lit);
}

static void sb_add(xp_parser *p, seq_builder *b, xp_node *n)
{
	sb_flush(p, b);
	*b->tail = n;
	b->tail = &n->next;
}

/* Exim's backslash escapes: \n \t \r \b \f \v, \NNN octal, \xHH hex, else the character. */
void xp_p_escape(xp_parser *p, xbuf *lit)
{
	sv s = p->src;
	size_t i = p->pos + 1; /* after the backslash */
	if (i >= s.len) {
		xp_p_fail(p, "\\ at end of string");
		return;
	}
	int c = (unsigned char)s.p[i++];
	if (c >= '0' && c <= '7') {
		int v = c - '0';
		for (int k = 0; k < 2 && i < s.len && s.p[i] >= '0' && s.p[i] <= '7'; k++)
			v = v * 8 + (s.p[i++] - '0');
		c = v & 0xff;
	} else if (c == 'x') {
		int v = 0, k = 0;
		while (k < 2 && i < s.len && isxdigit((unsigned char)s.p[i])) {
			int d = (unsigned char)s.p[i++];
			v = v * 16 + (isdigit(d) ? d - '0' : tolower(d) - 'a' + 10);
			k++;
		}
		c = v; /* \x without hex digits is a NUL, as in Exim */
	} else {
		switch (c) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'v': c = '\v'; break;
		default: break;
		}
	}
	xbuf_putc(lit, (char)c);
	p->pos = i;
}

static bool is_name_char(int c)
{
	return isalnum(c) || c == '_';
}

static sv read_name(xp_parser *p)
{
	size_t st = p->pos;
	while (p->pos < p->src.len && is_name_char((unsigned char)p->src.p[p->pos]))
		p->pos++;
	return sv_sub(p->src, st, p->pos - st);
}

/* Header variable prefixes: returns the kind, or -1. */
int xp_header_prefix(sv name, size_t *plen)
{
	static const struct { const char *pfx; int kind; } t[] = {
		{ "bheader_", H_BODY }, { "bh_", H_BODY }, { "header_", H_PLAIN }, { "h_", H_PLAIN },
		{ "lheader_", H_LIST }, { "lh_", H_LIST }, { "rheader_", H_RAW }, { "rh_", H_RAW },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (sv_starts(name, t[i].pfx)) {
			*plen = strlen(t[i].pfx);
			return t[i].kind;
		}
	return -1;
}

/* After "$h_": the header name runs to a colon (consumed) or white space / end. */
static sv read_header_name(xp_parser *p)
{
	size_t st = p->pos;
	while (p->pos < p->src.len) {
		unsigned char c = (unsigned char)p->src.p[p->pos];
		if (c == ':' || c <= ' ' || c >= 127)
			break;
		p->pos++;
	}
	sv name = sv_sub(p->src, st, p->pos - st);
	if (xp_p_peek(p) == ':')
		p->pos++;
	else if (memchr(name.p, '}', name.len))
		p->header_unterminated = true; /* it swallowed a brace: worth a hint if one is missed */
	return name;
}

static xp_node *new_node(xp_parser *p, int kind)
{
	xp_node *n = arena_calloc(p->a, 1, sizeof *n);
	n->kind = (uint8_t)kind;
	return n;
}

/* ${name:arg} */
static xp_node *parse_operator(xp_parser *p, sv name, int depth)
{
	p->pos++; /* ':' */
	xp_node *n = new_node(p, N_OP);
	n->text = name;
	n->args = arena_alloc(p->a, sizeof *n->args);
	n->nargs = 1;
	n->args[0] = xp_parse_seq_p(p, true, depth + 1);
	if (p->failed)
		return NULL;
	if (xp_p_peek(p) != '}') {
		xp_p_fail(p, "missing } at end of string");
		return NULL;
	}
	p->pos++;
	/* Exim reads the argument before it looks the operator up. */
	if (!sv_eq_cstr(name, "expand") && !xp_op_exists(name)) {
		xp_p_pending(p, n->args[0]);
		xp_p_fail(p, "unknown expansion operator \"" SV_FMT "\"", SV_ARG(name));
		return NULL;
	}
	return n;
}

/* After '$': a variable, header, numeric variable, operator or item. */
static xp_node *parse_dollar(xp_parser *p, int depth)
{
	p->pos++; /* '$' */
	int c = xp_p_peek(p);
	if (c >= 0 && isalpha(c)) {
		sv name = read_name(p);
		size_t plen;
		int hk = xp_header_prefix(name, &plen);
		if (hk >= 0) {
			/* The name read so far stops at non-name characters; headers continue to ':'. */
			p->pos -= name.len - plen;
			xp_node *n = new_node(p, N_HEADER);
			n->hkind = (uint8_t)hk;
			n->text = read_header_name(p);
			return n;
		}
		xp_node *n = new_node(p, N_VAR);
		n->text = name;
		return n;
	}
	if (c >= 0 && isdigit(c)) {
		long long v = 0;
		while (isdigit(xp_p_peek(p))) {
			if (v < 1000000)
				v = v * 10 + (p->src.p[p->pos] - '0');
			p->pos++;
		}
		xp_node *n = new_node(p, N_NUMVAR);
		n->id = (int16_t)(v > 1000 ? 1000 : v);
		return n;
	}
	if (c != '{') {
		xp_p_fail(p, "$ not followed by letter, digit, or {");
		return NULL;
	}
	p->pos++; /* '{' */
	c = xp_p_peek(p);
	if (c >= 0 && isdigit(c)) {
		long long v = 0;
		while (isdigit(xp_p_peek(p))) {
			if (v < 1000000)
				v = v * 10 + (p->src.p[p->pos] - '0');
			p->pos++;
		}
		if (xp_p_peek(p) != '}') {
			xp_p_fail(p, "} expected after number");
			return NULL;
		}
		p->pos++;
		xp_node *n = new_node(p, N_NUMVAR);
		n->id = (int16_t)(v > 1000 ? 1000 : v);
		return n;
	}
	if (c < 0 || !isalpha(c)) {
		xp_p_fail(p, "letter or digit expected after ${");
		return NULL;
	}
	/* After "${" Exim reads the name with '-' allowed as well, so "${substr_-2:", "${abc-d}"
	 * and "${if-x" are each one name (the last two then unknown). */
	size_t st = p->pos;
	while (p->pos < p->src.len && (is_name_char((unsigned char)p->src.p[p->pos]) || p->src.p[p->pos] == '-'))
		p->pos++;
	sv name = sv_sub(p->src, st, p->pos - st);
	int item = item_lookup(name);
	if (item >= 0)
		return xp_parse_item(p, item, name, depth);
	c = xp_p_peek(p);
	if (c == '}') {
		p->pos++;
		xp_node *n = new_node(p, N_VAR);
		n->text = name;
		n->braced = true;
		return n;
	}
	if (c == ':')
		return parse_operator(p, name, depth);
	xp_p_fail(p, "\"${" SV_FMT "\" is not a known operator (or a } is missing in a variable reference)",
		SV_ARG(name));
	return NULL;
}

xp_seq *xp_parse_seq_p(xp_parser *p, bool ket_ends, int depth)
{
	seq_builder b;
	b.seq = arena_calloc(p->a, 1, sizeof *b.seq);
	b.tail = &b.seq->first;
	xbuf_init(&b.lit, p->a);
	size_t pending_mark = p->npending;
	if (depth > XP_PARSE_MAX_DEPTH) {
		xp_p_fail(p, "expansion is too deeply nested (limit %d)", XP_PARSE_MAX_DEPTH);
		return b.seq;
	}
	sv s = p->src;
	while (p->pos < s.len && !p->failed) {
		char c = s.p[p->pos];
		if (c == '\\') {
			if (p->pos + 1 < s.len && s.p[p->pos + 1] == 'N') {
				/* \N...\N: copied literally. */
				size_t st = p->pos + 2, i = st;
				while (i < s.len && !(s.p[i] == '\\' && i + 1 < s.len && s.p[i + 1] == 'N'))
					i++;
				xbuf_put(&b.lit, s.p + st, i - st);
				p->pos = i < s.len ? i + 2 : i;
				continue;
			}
			xp_p_escape(p, &b.lit);
			continue;
		}
		if (c == '$') {
			xp_node *n = parse_dollar(p, depth);
			if (n)
				sb_add(p, &b, n);
			continue;
		}
		if (c == '}' && ket_ends)
			break;
		xbuf_putc(&b.lit, c);
		p->pos++;
	}
	sb_flush(p, &b);
	if (!p->failed && ket_ends && p->pos >= s.len)
		xp_p_fail(p, "missing } at end of string%s",
			p->header_unterminated ? " - could be header name not terminated by colon" : "");
	if (p->failed) {
		xp_p_pending(p, b.seq);
		pending_move_last_to(p, pending_mark);
	}
	return b.seq;
}

/* An argument Exim reads without expanding variables (sort's comparator, certextract's
 * variable): escapes and \N...\N are processed, '$' is plain text; it ends at '}' (consumed).
 * p is just after the opening brace. NULL on failure. */
const char *xp_p_raw_arg(xp_parser *p, size_t *len)
{
	xbuf b;
	xbuf_init(&b, p->a);
	sv s = p->src;
	while (p->pos < s.len && !p->failed) {
		char c = s.p[p->pos];
		if (c == '\\') {
			if (p->pos + 1 < s.len && s.p[p->pos + 1] == 'N') {
				size_t st = p->pos + 2, i = st;
				while (i < s.len && !(s.p[i] == '\\' && i + 1 < s.len && s.p[i + 1] == 'N'))
					i++;
				xbuf_put(&b, s.p + st, i - st);
				p->pos = i < s.len ? i + 2 : i;
				continue;
			}
			xp_p_escape(p, &b);
			continue;
		}
		if (c == '}') {
			p->pos++;
			*len = b.len;
			return b.p ? b.p : "";
		}
		xbuf_putc(&b, c);
		p->pos++;
	}
	if (!p->failed)
		xp_p_fail(p, "missing } at end of string");
	return NULL;
}

xp_seq *xp_parse_seq(arena *a, sv src, size_t *pos, bool ket_ends, int depth)
{
	xp_parser p = { .a = a, .src = src, .pos = *pos };
	xp_seq *s = xp_parse_seq_p(&p, ket_ends, depth);
	*pos = p.pos;
	return s;
}

xp_prog *xp_compile(arena *a, sv src)
{
	xp_parser p = { .a = a, .src = src };
	xp_prog *prog = arena_calloc(a, 1, sizeof *prog);
	prog->seq = xp_parse_seq_p(&p, false, 0);
	if (p.failed) {
		/* The top-level sequence is pending[0] (a failed sequence goes before what its
		 * unfinished item pushed); its nodes run first, then the error node expands the
		 * unfinished arguments in source order (conditional ones parse-only) and reports. */
		xp_node *e = xp_new_error(a, "%s", p.errmsg);
		size_t n = p.npending ? p.npending - 1 : 0;
		e->args = n ? arena_calloc(a, n, sizeof *e->args) : NULL;
		e->argflags = n ? arena_calloc(a, n, 1) : NULL;
		e->argctx = n ? arena_calloc(a, n, sizeof *e->argctx) : NULL;
		for (size_t i = 0; i < n; i++) {
			e->args[i] = p.pending[i + 1];
			e->argflags[i] = p.pendflags[i + 1];
			e->argctx[i] = p.pendctx[i + 1];
		}
		e->nargs = (int)n;
		xp_node **tail = &prog->seq->first;
		while (*tail)
			tail = &(*tail)->next;
		*tail = e;
	}
	return prog;
}
