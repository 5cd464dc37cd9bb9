/* Parsing an Exim filter file into the tree of filter_internal.h.
 *
 * The reader works on items: a quoted string (with \n \r \t \ooo \xhh and backslash-newline
 * continuation) or a run of non-blank characters (inside conditions, round brackets also end a
 * run and are items of their own). After each item the reader skips white space and # comments,
 * so its line number is that of the next significant character; Exim's error messages report
 * that line ("near line N"), and so do ours.
 *
 * Recursion is bounded by FILTER_MAX_DEPTH (nested conditions and if commands); elif chains are
 * built iteratively.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/filter_internal.h"

typedef struct item {
	sv s;
	sv raw;          /* the source text (with quotes), as error messages show it */
	bool quoted;
	bool eof;
	int skipped;     /* newlines passed over after the item */
} item;

/* How an item ends (Exim reads different places differently, as observed):
 * IT_CMD  at white space (command words and arguments);
 * IT_COND also at round brackets, and a bracket at the start is an item of its own (operands);
 * IT_CONN a ")" at the start is an item of its own, otherwise as IT_CMD (and, or, then);
 * IT_WORD as IT_COND, but a bracket at the start gives an empty word (the test word);
 * IT_RAW  at white space, with no quote processing (command words). */
enum { IT_CMD = 0, IT_COND = 1, IT_CONN = 2, IT_WORD = 3, IT_RAW = 4 };

typedef struct parser {
	arena *a;
	const char *p, *end;
	int line;
	bool system;
	bool failed;
	xbuf *err;
} parser;

static void fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *ps, const char *fmt, ...)
{
	if (ps->failed)
		return;
	ps->failed = true;
	xbuf_reset(ps->err);
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(ps->err, fmt, ap);
	va_end(ap);
}

/* Skip white space and comments ('#' where an item could start runs to the end of the line). */
static void skip_space(parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (c == '\n') {
			ps->line++;
			ps->p++;
		} else if (isspace((unsigned char)c)) {
			ps->p++;
		} else if (c == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else {
			break;
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static item read_quoted(parser *ps)
{
	item it = { .quoted = true };
	xbuf b;
	xbuf_init(&b, ps->a);
	ps->p++; /* the opening quote */
	for (;;) {
		if (ps->p >= ps->end || *ps->p == '\n') {
			fail(ps, "quote missing at end of string in line %d", ps->line);
			return it;
		}
		char c = *ps->p++;
		if (c == '"')
			break;
		if (c != '\\') {
			xbuf_putc(&b, c);
		} else if (ps->p >= ps->end) {
			continue; /* reported as a missing quote next time round */
		} else {
			char e = *ps->p++;
			if (e == '\n') {
				/* Continuation: the next line's leading white space is dropped. */
				ps->line++;
				while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
					ps->p++;
			} else if (e == 'n') {
				xbuf_putc(&b, '\n');
			} else if (e == 'r') {
				xbuf_putc(&b, '\r');
			} else if (e == 't') {
				xbuf_putc(&b, '\t');
			} else if (e >= '0' && e <= '7') {
				int v = e - '0';
				for (int i = 0; i < 2 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7'; i++)
					v = v * 8 + (*ps->p++ - '0');
				xbuf_putc(&b, (char)v);
			} else if (e == 'x') {
				/* Up to two hex digits; none gives a zero byte (which ends the string). */
				int v = 0;
				for (int i = 0; i < 2 && ps->p < ps->end && hexval(*ps->p) >= 0; i++)
					v = v * 16 + hexval(*ps->p++);
				xbuf_putc(&b, (char)v);
			} else {
				xbuf_putc(&b, e);
			}
		}
		if (b.len >= FILTER_MAX_STRING) {
			fail(ps, "string is too long in line %d of filter file (max = %d chars)", ps->line,
				FILTER_MAX_STRING);
			return it;
		}
	}
	/* Exim's strings end at a zero byte. */
	const char *nul = b.len ? memchr(b.p, 0, b.len) : NULL;
	it.s = sv_make(b.p ? b.p : "", nul ? (size_t)(nul - b.p) : b.len);
	return it;
}

/* The next item; in_cond: round brackets are separators and items of their own. */
static item next_item(parser *ps, int mode)
{
	item it = { 0 };
	if (ps->failed || ps->p >= ps->end) {
		it.eof = true;
		return it;
	}
	const char *start = ps->p;
	if (*ps->p == '"' && mode != IT_RAW) {
		it = read_quoted(ps);
		if (ps->failed)
			it.eof = true;
	} else if ((mode == IT_COND && (*ps->p == '(' || *ps->p == ')')) ||
		(mode == IT_CONN && *ps->p == ')')) {
		it.s = sv_make(ps->p, 1);
		ps->p++;
	} else {
		bool brackets = mode == IT_COND || mode == IT_WORD;
		const char *s = ps->p;
		while (ps->p < ps->end && !isspace((unsigned char)*ps->p) &&
			!(brackets && (*ps->p == '(' || *ps->p == ')')))
			ps->p++;
		it.s = sv_make(s, (size_t)(ps->p - s));
		if (it.s.len >= FILTER_MAX_STRING) {
			fail(ps, "word is too long in line %d of filter file (max = %d chars)", ps->line,
				FILTER_MAX_STRING);
			it.eof = true;
			return it;
		}
	}
	it.raw = sv_make(start, (size_t)(ps->p - start));
	int before = ps->line;
	skip_space(ps);
	it.skipped = ps->line - before;
	return it;
}

static item peek_item(parser *ps, int mode)
{
	parser save = *ps;
	item it = next_item(ps, mode);
	/* A failure while peeking is reported when the item is really read. */
	if (!save.failed)
		xbuf_reset(ps->err);
	*ps = save;
	return it;
}

/* Where Exim looks ahead for an optional keyword (errors_to, text, alias, not/above/below, the
 * mail options) and does not find it, it has already counted the newlines after the word it
 * looked at, and counts them again when it reads that word for real: its later line numbers run
 * ahead by that much (observed). Reproduced so error messages name the same line. */
static void not_taken(parser *ps, item peeked)
{
	if (!peeked.eof)
		ps->line += peeked.skipped;
}

static bool is_word(item it, const char *w)
{
	return !it.eof && !it.quoted && sv_eq_cstr(it.s, w);
}

static bool is_word_ci(item it, const char *w)
{
	return !it.eof && !it.quoted && sv_eqi(it.s, sv_cstr(w));
}

/* An argument that must be present and non-empty. */
static bool need_arg(parser *ps, const char *what, int mode, sv *out)
{
	item it = next_item(ps, mode);
	if (ps->failed)
		return false;
	if (it.eof || it.s.len == 0) {
		fail(ps, "\"%s\" requires an argument near line %d of filter file", what, ps->line);
		return false;
	}
	*out = it.s;
	return true;
}

/* ---- conditions ---- */

static fcond *parse_or(parser *ps, int depth);

static fcond *new_cond(parser *ps, fcond_kind k)
{
	fcond *c = arena_alloc(ps->a, sizeof *c);
	memset(c, 0, sizeof *c);
	c->kind = k;
	return c;
}

static bool too_deep(parser *ps, int depth)
{
	if (depth <= FILTER_MAX_DEPTH)
		return false;
	fail(ps, "filter nested too deeply near line %d of filter file", ps->line);
	return true;
}

/* The ")" after a bracketed condition. */
static bool close_paren(parser *ps)
{
	item close = next_item(ps, IT_CONN);
	if (ps->failed)
		return false;
	if (is_word(close, ")"))
		return true;
	if (close.eof || is_word(close, "then"))
		fail(ps, "missing \")\" at end of condition near line %d of filter file", ps->line);
	else
		fail(ps, "\"and\" or \"or\" or \")\" expected near line %d of filter file, but found \""
			SV_FMT "\"", ps->line, SV_ARG(close.raw));
	return false;
}

/* A string test word: sets kind and caseful; false if w is not one. */
static bool test_word(sv w, fcond_kind *kind, bool *caseful)
{
	static const struct { const char *word; fcond_kind kind; } words[] = {
		{ "begins", FC_BEGINS }, { "begin", FC_BEGINS }, { "ends", FC_ENDS }, { "end", FC_ENDS },
		{ "is", FC_IS }, { "contains", FC_CONTAINS }, { "contain", FC_CONTAINS },
		{ "matches", FC_MATCHES }, { "match", FC_MATCHES },
	};
	/* "above" and "below" work without "is" too, in lower case only. */
	if (sv_eq_cstr(w, "above") || sv_eq_cstr(w, "below")) {
		*kind = w.p[0] == 'a' ? FC_ABOVE : FC_BELOW;
		*caseful = false;
		return true;
	}
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i].word);
		if (w.len != n)
			continue;
		bool lower = memcmp(w.p, words[i].word, n) == 0;
		bool upper = true;
		for (size_t j = 0; j < n; j++)
			if (w.p[j] != toupper((unsigned char)words[i].word[j]))
				upper = false;
		if (lower || upper) {
			*kind = words[i].kind;
			*caseful = upper;
			return true;
		}
	}
	return false;
}

static fcond *parse_unary(parser *ps, int depth)
{
	if (too_deep(ps, depth))
		return NULL;
	item it = next_item(ps, true);
	if (ps->failed)
		return NULL;
	if (it.eof) {
		fail(ps, "\"then\" missing at end of filter file");
		return NULL;
	}
	if (is_word(it, "not")) {
		fcond *c = new_cond(ps, FC_NOT);
		c->left = parse_unary(ps, depth + 1);
		return c->left ? c : NULL;
	}
	if (is_word(it, "(")) {
		fcond *c = parse_or(ps, depth + 1);
		if (!c)
			return NULL;
		return close_paren(ps) ? c : NULL;
	}
	if (is_word(it, "then")) {
		fail(ps, "unexpected \"then\" near line %d of filter file", ps->line);
		return NULL;
	}
	if (is_word(it, ")")) {
		fail(ps, "unexpected \")\" in line %d of filter file", ps->line);
		return NULL;
	}
	static const struct { const char *word; fcond_kind kind; } simple[] = {
		{ "delivered", FC_DELIVERED }, { "error_message", FC_ERROR_MESSAGE },
		{ "first_delivery", FC_FIRST_DELIVERY }, { "manually_thawed", FC_MANUALLY_THAWED },
	};
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (is_word(it, simple[i].word))
			return new_cond(ps, simple[i].kind);
	if (is_word(it, "personal")) {
		fcond *c = new_cond(ps, FC_PERSONAL);
		int cap = 0;
		for (;;) {
			item pk = peek_item(ps, true);
			if (!is_word(pk, "alias")) {
				not_taken(ps, pk);
				break;
			}
			next_item(ps, true);
			item al = next_item(ps, IT_COND);
			if (ps->failed)
				return NULL;
			sv alias = al.eof ? SV_LIT("") : al.s;
			if (c->naliases == cap) {
				cap = cap ? cap * 2 : 4;
				sv *n = arena_alloc(ps->a, (size_t)cap * sizeof *n);
				if (c->naliases)
					memcpy(n, c->aliases, (size_t)c->naliases * sizeof *n);
				c->aliases = n;
			}
			c->aliases[c->naliases++] = alias;
		}
		return c;
	}
	if (is_word(it, "foranyaddress")) {
		fcond *c = new_cond(ps, FC_FORANYADDRESS);
		item list = next_item(ps, true);
		if (ps->failed)
			return NULL;
		if (list.eof) {
			fail(ps, "\"then\" missing at end of filter file");
			return NULL;
		}
		c->a = list.s;
		item open = next_item(ps, true);
		if (!is_word(open, "(")) {
			fail(ps, "\"(\" expected after \"foranyaddress\" near line %d of filter file", ps->line);
			return NULL;
		}
		c->left = parse_or(ps, depth + 1);
		if (!c->left)
			return NULL;
		return close_paren(ps) ? c : NULL;
	}

	/* A string or numeric test: <text> [does [not]] <word> <text>, or <text> is [not] above... */
	sv lhs = it.s;
	item w = next_item(ps, IT_WORD);  /* at the end: an empty word, as Exim reads it */
	if (ps->failed)
		return NULL;
	bool negate = false;
	fcond_kind kind;
	bool caseful = false;
	/* "does" and "not" here are caseless (observed), unlike the test words. */
	if (is_word_ci(w, "does")) {
		w = next_item(ps, IT_WORD);
		if (is_word_ci(w, "not")) {
			negate = true;
			w = next_item(ps, IT_WORD);
		}
		if (ps->failed)
			return NULL;
	}
	if (!w.quoted && !w.eof && test_word(w.s, &kind, &caseful)) {
		if (kind == FC_IS) {
			item nx = peek_item(ps, IT_WORD);
			if (is_word_ci(nx, "not")) {
				next_item(ps, IT_WORD);
				negate = !negate;
				nx = peek_item(ps, IT_WORD);
			}
			if (is_word(nx, "above") || is_word(nx, "below")) {
				next_item(ps, IT_WORD);
				kind = is_word(nx, "above") ? FC_ABOVE : FC_BELOW;
			} else {
				not_taken(ps, nx);
			}
		}
	} else {
		fail(ps, "unrecognized condition word \"" SV_FMT "\" near line %d of filter file",
			SV_ARG(w.raw), ps->line);
		return NULL;
	}
	item rhs = next_item(ps, IT_COND);
	if (ps->failed)
		return NULL;
	if (is_word(rhs, "(") || is_word(rhs, ")")) {
		fail(ps, "unexpected \"" SV_FMT "\" in line %d of filter file", SV_ARG(rhs.s), ps->line);
		return NULL;
	}
	fcond *c = new_cond(ps, kind);
	c->caseful = caseful;
	c->a = lhs;
	c->b = rhs.s;
	if (negate) {
		fcond *n = new_cond(ps, FC_NOT);
		n->left = c;
		return n;
	}
	return c;
}

static fcond *parse_and(parser *ps, int depth)
{
	fcond *l = parse_unary(ps, depth);
	while (l && is_word(peek_item(ps, IT_CONN), "and")) {
		next_item(ps, IT_CONN);
		fcond *c = new_cond(ps, FC_AND);
		c->left = l;
		c->right = parse_unary(ps, depth);
		l = c->right ? c : NULL;
	}
	return l;
}

static fcond *parse_or(parser *ps, int depth)
{
	if (too_deep(ps, depth))
		return NULL;
	fcond *l = parse_and(ps, depth);
	while (l && is_word(peek_item(ps, IT_CONN), "or")) {
		next_item(ps, IT_CONN);
		fcond *c = new_cond(ps, FC_OR);
		c->left = l;
		c->right = parse_and(ps, depth);
		l = c->right ? c : NULL;
	}
	return l;
}

/* ---- commands ---- */

static fcmd *parse_cmds(parser *ps, int depth, item *terminator);

static fcmd *new_cmd(parser *ps, fcmd_kind k)
{
	fcmd *c = arena_alloc(ps->a, sizeof *c);
	memset(c, 0, sizeof *c);
	c->kind = k;
	c->line = ps->line;
	c->mode = -1;
	return c;
}

/* An optional octal mode after a file name. */
static void parse_mode(parser *ps, fcmd *c)
{
	item m = peek_item(ps, false);
	if (m.eof || m.quoted || m.s.len == 0)
		return;
	for (size_t i = 0; i < m.s.len; i++)
		if (!isdigit((unsigned char)m.s.p[i]))
			return;
	/* Octal as strtol(..., 8) reads it: digits 8 and 9 end the number. A value beyond an int
	 * is taken but sets no mode (observed). */
	next_item(ps, false);
	long long v = 0;
	for (size_t i = 0; i < m.s.len && m.s.p[i] <= '7'; i++) {
		v = v * 8 + (m.s.p[i] - '0');
		if (v > INT_MAX)
			return;
	}
	c->mode = (int)v;
}

static bool parse_if(parser *ps, fcmd *top, int depth)
{
	fcmd *cur = top;
	for (;;) {
		cur->cond = parse_or(ps, depth + 1);
		if (!cur->cond)
			return false;
		item t = next_item(ps, IT_CONN);
		if (ps->failed)
			return false;
		if (is_word(t, ")")) {
			fail(ps, "unexpected \")\" in line %d of filter file", ps->line);
			return false;
		}
		if (!is_word(t, "then")) {
			fail(ps, "\"and\" or \"or\" or \"then\" expected near line %d of filter file, but found \""
				SV_FMT "\"", ps->line, SV_ARG(t.raw));
			return false;
		}
		item term;
		cur->then_cmds = parse_cmds(ps, depth + 1, &term);
		if (ps->failed)
			return false;
		if (term.eof) {
			fail(ps, "\"endif\" missing at end of filter file");
			return false;
		}
		if (is_word(term, "elif")) {
			fcmd *n = new_cmd(ps, FK_IF);
			n->is_elif = true;
			cur->else_cmds = n;
			cur = n;
			continue;
		}
		if (is_word(term, "else")) {
			item term2;
			cur->else_cmds = parse_cmds(ps, depth + 1, &term2);
			if (ps->failed)
				return false;
			if (term2.eof) {
				fail(ps, "\"endif\" missing at end of filter file");
				return false;
			}
			if (!is_word(term2, "endif")) {
				fail(ps, "\"endif\" missing near line %d of filter file", ps->line);
				return false;
			}
		}
		return true;
	}
}

static const struct { const char *word; int index; } mail_words[] = {
	{ "to", FM_TO }, { "cc", FM_CC }, { "bcc", FM_BCC }, { "from", FM_FROM },
	{ "reply_to", FM_REPLY_TO }, { "subject", FM_SUBJECT }, { "extra_headers", FM_EXTRA_HEADERS },
	{ "text", FM_TEXT }, { "file", FM_FILE }, { "log", FM_LOG }, { "once", FM_ONCE },
	{ "once_repeat", FM_ONCE_REPEAT },
};

static bool parse_mail(parser *ps, fcmd *c)
{
	for (;;) {
		item k = peek_item(ps, false);
		if (k.eof)
			return true;
		if (k.quoted) {
			not_taken(ps, k);
			return true;
		}
		if (sv_eq_cstr(k.s, "expand")) {
			next_item(ps, false);
			item f = next_item(ps, false);
			if (!is_word(f, "file")) {
				fail(ps, "\"expand\" not followed by \"file\"  near line %d of filter file", ps->line);
				return false;
			}
			item v = next_item(ps, IT_CMD);
			if (ps->failed)
				return false;
			c->mail[FM_FILE] = v.eof ? SV_LIT("") : v.s;
			c->expand_file = true;
			continue;
		}
		if (sv_eq_cstr(k.s, "return")) {
			next_item(ps, false);
			item m = next_item(ps, false);
			if (!is_word(m, "message")) {
				fail(ps, "\"return\" not followed by \"message\"  near line %d of filter file",
					ps->line);
				return false;
			}
			c->return_message = true;
			continue;
		}
		size_t i;
		for (i = 0; i < sizeof mail_words / sizeof mail_words[0]; i++)
			if (sv_eq_cstr(k.s, mail_words[i].word))
				break;
		if (i == sizeof mail_words / sizeof mail_words[0]) {
			not_taken(ps, k);
			return true;
		}
		next_item(ps, false);
		item v = next_item(ps, false);
		if (ps->failed)
			return false;
		/* At the end of the file the value is empty, as in Exim. */
		c->mail[mail_words[i].index] = v.eof ? SV_LIT("") : v.s;
	}
}

/* One command after its prefixes; w is the command word. */
static fcmd *parse_command(parser *ps, item w, int depth)
{
	/* Command words are plain words: a quoted one is never a command. */
	sv word = w.quoted ? w.raw : w.s;
	fcmd *c;
	if (sv_eq_cstr(word, "if")) {
		c = new_cmd(ps, FK_IF);
		return parse_if(ps, c, depth) ? c : NULL;
	}
	if (sv_eq_cstr(word, "deliver")) {
		c = new_cmd(ps, FK_DELIVER);
		if (!need_arg(ps, "deliver", false, &c->arg))
			return NULL;
		item pk = peek_item(ps, false);
		if (!is_word(pk, "errors_to"))
			not_taken(ps, pk);
		if (is_word(pk, "errors_to")) {
			next_item(ps, false);
			item et = next_item(ps, IT_CMD); /* may be empty: an error when obeyed */
			if (ps->failed)
				return NULL;
			c->arg2 = et.s.p ? et.s : SV_LIT("");
			c->has_arg2 = true;
		}
		return c;
	}
	static const struct { const char *word; fcmd_kind kind; bool mode; } simple[] = {
		{ "save", FK_SAVE, true }, { "pipe", FK_PIPE, false }, { "logfile", FK_LOGFILE, true },
		{ "logwrite", FK_LOGWRITE, false }, { "testprint", FK_TESTPRINT, false },
	};
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
		if (!sv_eq_cstr(word, simple[i].word))
			continue;
		c = new_cmd(ps, simple[i].kind);
		if (!need_arg(ps, simple[i].word, false, &c->arg))
			return NULL;
		if (simple[i].mode)
			parse_mode(ps, c);
		if (c->kind == FK_LOGWRITE && c->arg.p[c->arg.len - 1] != '\n') {
			/* Exim adds the newline to the text before expansion. */
			char *t = arena_alloc(ps->a, c->arg.len + 1);
			memcpy(t, c->arg.p, c->arg.len);
			t[c->arg.len] = '\n';
			c->arg = sv_make(t, c->arg.len + 1);
		}
		return c;
	}
	if (sv_eq_cstr(word, "finish"))
		return new_cmd(ps, FK_FINISH);
	if (sv_eq_cstr(word, "fail") || sv_eq_cstr(word, "freeze") || sv_eq_cstr(word, "defer")) {
		if (!ps->system) {
			fail(ps, "filtering command \"" SV_FMT "\" is disabled: near line %d of filter file",
				SV_ARG(word), ps->line);
			return NULL;
		}
		c = new_cmd(ps, word.p[1] == 'a' ? FK_FAIL : word.p[1] == 'r' ? FK_FREEZE : FK_DEFER);
		item pk = peek_item(ps, false);
		if (!is_word(pk, "text"))
			not_taken(ps, pk);
		if (is_word(pk, "text")) {
			next_item(ps, false);
			item v = next_item(ps, IT_CMD);  /* may be empty, even at the end */
			if (ps->failed)
				return NULL;
			c->arg = v.eof ? SV_LIT("") : v.s;
		}
		return c;
	}
	if (sv_eq_cstr(word, "headers")) {
		item sub = next_item(ps, false);
		if (ps->failed)
			return NULL;
		if (sub.eof || sub.s.len == 0) {
			fail(ps, "\"headers\" requires an argument near line %d of filter file", ps->line);
			return NULL;
		}
		if (!ps->system && !is_word(sub, "charset")) {
			fail(ps, "header addition and removal is available only in system filters: near "
				"line %d of filter file", ps->line);
			return NULL;
		}
		if (is_word(sub, "add") || is_word(sub, "remove")) {
			if (!ps->system) {
				fail(ps, "header addition and removal is available only in system filters: near "
					"line %d of filter file", ps->line);
				return NULL;
			}
			c = new_cmd(ps, is_word(sub, "add") ? FK_HEADERS_ADD : FK_HEADERS_REMOVE);
		} else if (is_word(sub, "charset")) {
			c = new_cmd(ps, FK_HEADERS_CHARSET);
		} else {
			fail(ps, "\"add\", \"remove\", or \"charset\" expected after \"headers\" near line %d of "
				"filter file", ps->line);
			return NULL;
		}
		item v = next_item(ps, IT_CMD);
		if (ps->failed)
			return NULL;
		if (v.eof || v.s.len == 0) {
			fail(ps, "value missing after \"add\", \"remove\", or \"charset\" near line %d of filter "
				"file", ps->line);
			return NULL;
		}
		c->arg = v.s;
		return c;
	}
	if (sv_eq_cstr(word, "add")) {
		c = new_cmd(ps, FK_ADD);
		if (!need_arg(ps, "add", false, &c->arg))
			return NULL;
		item to = next_item(ps, false);
		if (!is_word(to, "to")) {
			fail(ps, "\"to\" expected in \"add\" command near line %d of filter file", ps->line);
			return NULL;
		}
		if (!need_arg(ps, "add", false, &c->arg2))
			return NULL;
		c->has_arg2 = true;
		return c;
	}
	if (sv_eq_cstr(word, "mail") || sv_eq_cstr(word, "vacation")) {
		c = new_cmd(ps, word.p[0] == 'm' ? FK_MAIL : FK_VACATION);
		return parse_mail(ps, c) ? c : NULL;
	}
	fail(ps, "unknown filtering command \"" SV_FMT "\" near line %d of filter file", SV_ARG(w.raw),
		ps->line);
	return NULL;
}

/* Commands up to elif/else/endif (returned in *terminator) or the end (terminator->eof). */
static fcmd *parse_cmds(parser *ps, int depth, item *terminator)
{
	fcmd *head = NULL, **tail = &head;
	memset(terminator, 0, sizeof *terminator);
	if (too_deep(ps, depth))
		return NULL;
	for (;;) {
		item w = next_item(ps, IT_RAW);  /* command words are plain words, quotes and all */
		if (ps->failed)
			return NULL;
		if (w.eof) {
			terminator->eof = true;
			return head;
		}
		if (is_word(w, "elif") || is_word(w, "else") || is_word(w, "endif")) {
			*terminator = w;
			return head;
		}
		int seen = 0;
		bool noerror = false;
		for (;;) {
			if (is_word(w, "seen") || is_word(w, "unseen")) {
				if (seen) {
					fail(ps, "\"seen\" or \"unseen\" repeated near line %d", ps->line);
					return NULL;
				}
				seen = is_word(w, "seen") ? 1 : -1;
			} else if (is_word(w, "noerror")) {
				noerror = true;
			} else {
				break;
			}
			w = next_item(ps, IT_RAW);
			if (ps->failed)
				return NULL;
			if (w.eof) {
				fail(ps, "\"%s\" near line %d is not followed by a command",
					seen ? "seen\" or \"unseen" : "noerror", ps->line);
				return NULL;
			}
		}
		if (seen || noerror) {
			/* At the top level the block word is what is wrong; inside an if, the prefix. */
			if (depth == 0 && (is_word(w, "elif") || is_word(w, "else") || is_word(w, "endif"))) {
				*terminator = w;
				return head;
			}
			if (is_word(w, "elif") || is_word(w, "else") || is_word(w, "endif")) {
				fail(ps, "\"seen\", \"unseen\", or \"noerror\" near line %d is not followed by a "
					"command", ps->line);
				return NULL;
			}
			if (is_word(w, "if") || is_word(w, "add") || is_word(w, "headers")) {
				fail(ps, "\"seen\", \"unseen\", or \"noerror\" found before an \"" SV_FMT "\" command "
					"near line %d", SV_ARG(w.s), ps->line);
				return NULL;
			}
		}
		fcmd *c = parse_command(ps, w, depth);
		if (!c)
			return NULL;
		c->seen = seen;
		c->noerror = noerror;
		*tail = c;
		tail = &c->next;
	}
}

/* "#", optional blanks, then each word of want separated by optional blanks, any case. */
static bool first_line_is(sv text, const char *w1, const char *w2)
{
	size_t i = 0;
	while (i < text.len && isspace((unsigned char)text.p[i]))
		i++;
	if (i >= text.len || text.p[i] != '#')
		return false;
	i++;
	const char *want[] = { w1, w2 };
	for (int k = 0; k < 2; k++) {
		while (i < text.len && (text.p[i] == ' ' || text.p[i] == '\t'))
			i++;
		size_t n = strlen(want[k]);
		if (text.len - i < n || !sv_eqi(sv_make(text.p + i, n), sv_cstr(want[k])))
			return false;
		i += n;
	}
	return true;
}

bool filter_is_exim_filter(sv text)
{
	return first_line_is(text, "exim", "filter");
}

bool filter_is_sieve_filter(sv text)
{
	return first_line_is(text, "sieve", "filter");
}

filter *filter_parse(arena *a, sv text, bool system, xbuf *err)
{
	parser ps = { .a = a, .p = text.p ? text.p : "", .line = 1, .system = system, .err = err };
	ps.end = ps.p + text.len;
	skip_space(&ps);
	item term;
	fcmd *cmds = parse_cmds(&ps, 0, &term);
	if (ps.failed)
		return NULL;
	if (!term.eof) {
		fail(&ps, "unexpected \"" SV_FMT "\" command near line %d of filter file", SV_ARG(term.raw),
			ps.line);
		return NULL;
	}
	filter *f = arena_alloc(a, sizeof *f);
	f->cmds = cmds;
	f->system = system;
	return f;
}
