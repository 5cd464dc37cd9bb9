/* Parsing an Exim filter file into the tree of filter_internal.h: commands and conditions,
 * with Exim's error messages.
 *
 * The reader (filter_read.c) works on items: a quoted string (with \n \r \t \ooo \xhh and
 * backslash-newline continuation) or a run of non-blank characters (in conditions, round
 * brackets also end a run). After each item it skips white space and # comments, so its line
 * number is that of the next significant character; Exim's error messages report that line
 * ("near line N"), and so do ours.
 *
 * Recursion is bounded by FILTER_MAX_DEPTH (nested conditions and if commands); elif chains are
 * built iteratively.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/filter_internal.h"

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
	fr_fail(ps, "filter nested too deeply near line %d of filter file", ps->line);
	return true;
}

/* The ")" after a bracketed condition. */
static bool close_paren(parser *ps)
{
	item close = fr_next(ps, IT_CONN);
	if (ps->failed)
		return false;
	if (fr_is_word(close, ")"))
		return true;
	if (close.eof || fr_is_word(close, "then"))
		fr_fail(ps, "missing \")\" at end of condition near line %d of filter file", ps->line);
	else
		fr_fail(ps, "\"and\" or \"or\" or \")\" expected near line %d of filter file, but found \""
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
	item it = fr_next(ps, true);
	if (ps->failed)
		return NULL;
	if (it.eof) {
		fr_fail(ps, "\"then\" missing at end of filter file");
		return NULL;
	}
	if (fr_is_word(it, "not")) {
		fcond *c = new_cond(ps, FC_NOT);
		c->left = parse_unary(ps, depth + 1);
		return c->left ? c : NULL;
	}
	if (fr_is_word(it, "(")) {
		fcond *c = parse_or(ps, depth + 1);
		if (!c)
			return NULL;
		return close_paren(ps) ? c : NULL;
	}
	if (fr_is_word(it, "then")) {
		fr_fail(ps, "unexpected \"then\" near line %d of filter file", ps->line);
		return NULL;
	}
	if (fr_is_word(it, ")")) {
		fr_fail(ps, "unexpected \")\" in line %d of filter file", ps->line);
		return NULL;
	}
	static const struct { const char *word; fcond_kind kind; } simple[] = {
		{ "delivered", FC_DELIVERED }, { "error_message", FC_ERROR_MESSAGE },
		{ "first_delivery", FC_FIRST_DELIVERY }, { "manually_thawed", FC_MANUALLY_THAWED },
	};
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (fr_is_word(it, simple[i].word))
			return new_cond(ps, simple[i].kind);
	if (fr_is_word(it, "personal")) {
		fcond *c = new_cond(ps, FC_PERSONAL);
		int cap = 0;
		for (;;) {
			item pk = fr_peek(ps, true);
			if (!fr_is_word(pk, "alias")) {
				fr_not_taken(ps, pk);
				break;
			}
			fr_next(ps, true);
			item al = fr_next(ps, IT_COND);
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
	if (fr_is_word(it, "foranyaddress")) {
		fcond *c = new_cond(ps, FC_FORANYADDRESS);
		item list = fr_next(ps, true);
		if (ps->failed)
			return NULL;
		if (list.eof) {
			fr_fail(ps, "\"then\" missing at end of filter file");
			return NULL;
		}
		c->a = list.s;
		item open = fr_next(ps, true);
		if (!fr_is_word(open, "(")) {
			fr_fail(ps, "\"(\" expected after \"foranyaddress\" near line %d of filter file", ps->line);
			return NULL;
		}
		c->left = parse_or(ps, depth + 1);
		if (!c->left)
			return NULL;
		return close_paren(ps) ? c : NULL;
	}

	/* A string or numeric test: <text> [does [not]] <word> <text>, or <text> is [not] above... */
	sv lhs = it.s;
	item w = fr_next(ps, IT_WORD);  /* at the end: an empty word, as Exim reads it */
	if (ps->failed)
		return NULL;
	bool negate = false;
	fcond_kind kind;
	bool caseful = false;
	/* "does" and "not" here are caseless (observed), unlike the test words. */
	if (fr_is_word_ci(w, "does")) {
		w = fr_next(ps, IT_WORD);
		if (fr_is_word_ci(w, "not")) {
			negate = true;
			w = fr_next(ps, IT_WORD);
		}
		if (ps->failed)
			return NULL;
	}
	if (!w.quoted && !w.eof && test_word(w.s, &kind, &caseful)) {
		if (kind == FC_IS) {
			item nx = fr_peek(ps, IT_WORD);
			if (fr_is_word_ci(nx, "not")) {
				fr_next(ps, IT_WORD);
				negate = !negate;
				nx = fr_peek(ps, IT_WORD);
			}
			if (fr_is_word(nx, "above") || fr_is_word(nx, "below")) {
				fr_next(ps, IT_WORD);
				kind = fr_is_word(nx, "above") ? FC_ABOVE : FC_BELOW;
			} else {
				fr_not_taken(ps, nx);
			}
		}
	} else {
		fr_fail(ps, "unrecognized condition word \"" SV_FMT "\" near line %d of filter file",
			SV_ARG(w.raw), ps->line);
		return NULL;
	}
	item rhs = fr_next(ps, IT_COND);
	if (ps->failed)
		return NULL;
	if (fr_is_word(rhs, "(") || fr_is_word(rhs, ")")) {
		fr_fail(ps, "unexpected \"" SV_FMT "\" in line %d of filter file", SV_ARG(rhs.s), ps->line);
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
	while (l && fr_is_word(fr_peek(ps, IT_CONN), "and")) {
		fr_next(ps, IT_CONN);
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
	while (l && fr_is_word(fr_peek(ps, IT_CONN), "or")) {
		fr_next(ps, IT_CONN);
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
	/* A word starting with a digit is taken as the mode (what follows the digits is ignored). */
	item m = fr_peek(ps, false);
	if (m.eof || m.quoted || m.s.len == 0 || !isdigit((unsigned char)m.s.p[0]))
		return;
	/* Octal as strtol(..., 8) reads it: digits 8 and 9 end the number. A value beyond an int
	 * is taken but sets no mode (observed). */
	fr_next(ps, false);
	long long v = 0;
	for (size_t i = 0; i < m.s.len && m.s.p[i] >= '0' && m.s.p[i] <= '7'; i++) {
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
		item t = fr_next(ps, IT_CONN);
		if (ps->failed)
			return false;
		if (fr_is_word(t, ")")) {
			fr_fail(ps, "unexpected \")\" in line %d of filter file", ps->line);
			return false;
		}
		if (!fr_is_word(t, "then")) {
			fr_fail(ps, "\"and\" or \"or\" or \"then\" expected near line %d of filter file, but found \""
				SV_FMT "\"", ps->line, SV_ARG(t.raw));
			return false;
		}
		item term;
		cur->then_cmds = parse_cmds(ps, depth + 1, &term);
		if (ps->failed)
			return false;
		if (term.eof) {
			fr_fail(ps, "\"endif\" missing at end of filter file");
			return false;
		}
		if (fr_is_word(term, "elif")) {
			fcmd *n = new_cmd(ps, FK_IF);
			n->is_elif = true;
			cur->else_cmds = n;
			cur = n;
			continue;
		}
		if (fr_is_word(term, "else")) {
			item term2;
			cur->else_cmds = parse_cmds(ps, depth + 1, &term2);
			if (ps->failed)
				return false;
			if (term2.eof) {
				fr_fail(ps, "\"endif\" missing at end of filter file");
				return false;
			}
			if (!fr_is_word(term2, "endif")) {
				fr_fail(ps, "\"endif\" missing near line %d of filter file", ps->line);
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
		item k = fr_peek(ps, false);
		if (k.eof)
			return true;
		if (k.quoted) {
			fr_not_taken(ps, k);
			return true;
		}
		if (sv_eq_cstr(k.s, "expand")) {
			fr_next(ps, false);
			item f = fr_next(ps, false);
			if (!fr_is_word(f, "file")) {
				fr_fail(ps, "\"expand\" not followed by \"file\"  near line %d of filter file", ps->line);
				return false;
			}
			item v = fr_next(ps, IT_CMD);
			if (ps->failed)
				return false;
			c->mail[FM_FILE] = v.eof ? SV_LIT("") : v.s;
			c->expand_file = true;
			continue;
		}
		if (sv_eq_cstr(k.s, "return")) {
			fr_next(ps, false);
			item m = fr_next(ps, false);
			if (!fr_is_word(m, "message")) {
				fr_fail(ps, "\"return\" not followed by \"message\"  near line %d of filter file",
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
			fr_not_taken(ps, k);
			return true;
		}
		fr_next(ps, false);
		item v = fr_next(ps, false);
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
		if (!fr_need_arg(ps, "deliver", false, &c->arg))
			return NULL;
		item pk = fr_peek(ps, false);
		if (!fr_is_word(pk, "errors_to"))
			fr_not_taken(ps, pk);
		if (fr_is_word(pk, "errors_to")) {
			fr_next(ps, false);
			item et = fr_next(ps, IT_CMD); /* may be empty: an error when obeyed */
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
		if (!fr_need_arg(ps, simple[i].word, false, &c->arg))
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
		bool allowed = ps->system || (word.p[1] == 'a' ? ps->allow_fail : word.p[1] == 'r' ? ps->allow_freeze
			: ps->allow_defer);
		if (!allowed) {
			fr_fail(ps, "filtering command \"" SV_FMT "\" is disabled: near line %d of filter file",
				SV_ARG(word), ps->line);
			return NULL;
		}
		c = new_cmd(ps, word.p[1] == 'a' ? FK_FAIL : word.p[1] == 'r' ? FK_FREEZE : FK_DEFER);
		item pk = fr_peek(ps, false);
		if (!fr_is_word(pk, "text"))
			fr_not_taken(ps, pk);
		if (fr_is_word(pk, "text")) {
			fr_next(ps, false);
			item v = fr_next(ps, IT_CMD);  /* may be empty, even at the end */
			if (ps->failed)
				return NULL;
			c->arg = v.eof ? SV_LIT("") : v.s;
		}
		return c;
	}
	if (sv_eq_cstr(word, "headers")) {
		item sub = fr_next(ps, false);
		if (ps->failed)
			return NULL;
		if (sub.eof || sub.s.len == 0) {
			fr_fail(ps, "\"headers\" requires an argument near line %d of filter file", ps->line);
			return NULL;
		}
		if (!ps->system && !fr_is_word(sub, "charset")) {
			fr_fail(ps, "header addition and removal is available only in system filters: near "
				"line %d of filter file", ps->line);
			return NULL;
		}
		if (fr_is_word(sub, "add") || fr_is_word(sub, "remove")) {
			if (!ps->system) {
				fr_fail(ps, "header addition and removal is available only in system filters: near "
					"line %d of filter file", ps->line);
				return NULL;
			}
			c = new_cmd(ps, fr_is_word(sub, "add") ? FK_HEADERS_ADD : FK_HEADERS_REMOVE);
		} else if (fr_is_word(sub, "charset")) {
			c = new_cmd(ps, FK_HEADERS_CHARSET);
		} else {
			fr_fail(ps, "\"add\", \"remove\", or \"charset\" expected after \"headers\" near line %d of "
				"filter file", ps->line);
			return NULL;
		}
		item v = fr_next(ps, IT_CMD);
		if (ps->failed)
			return NULL;
		if (v.eof || v.s.len == 0) {
			fr_fail(ps, "value missing after \"add\", \"remove\", or \"charset\" near line %d of filter "
				"file", ps->line);
			return NULL;
		}
		c->arg = v.s;
		return c;
	}
	if (sv_eq_cstr(word, "add")) {
		c = new_cmd(ps, FK_ADD);
		if (!fr_need_arg(ps, "add", false, &c->arg))
			return NULL;
		item to = fr_next(ps, false);
		if (!fr_is_word(to, "to")) {
			fr_fail(ps, "\"to\" expected in \"add\" command near line %d of filter file", ps->line);
			return NULL;
		}
		if (!fr_need_arg(ps, "add", false, &c->arg2))
			return NULL;
		c->has_arg2 = true;
		return c;
	}
	if (sv_eq_cstr(word, "mail") || sv_eq_cstr(word, "vacation")) {
		c = new_cmd(ps, word.p[0] == 'm' ? FK_MAIL : FK_VACATION);
		return parse_mail(ps, c) ? c : NULL;
	}
	fr_fail(ps, "unknown filtering command \"" SV_FMT "\" near line %d of filter file", SV_ARG(w.raw),
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
		item w = fr_next(ps, IT_RAW);  /* command words are plain words, quotes and all */
		if (ps->failed)
			return NULL;
		if (w.eof) {
			terminator->eof = true;
			return head;
		}
		if (fr_is_word(w, "elif") || fr_is_word(w, "else") || fr_is_word(w, "endif")) {
			*terminator = w;
			return head;
		}
		int seen = 0;
		bool noerror = false;
		for (;;) {
			if (fr_is_word(w, "seen") || fr_is_word(w, "unseen")) {
				if (seen) {
					fr_fail(ps, "\"seen\" or \"unseen\" repeated near line %d", ps->line);
					return NULL;
				}
				seen = fr_is_word(w, "seen") ? 1 : -1;
			} else if (fr_is_word(w, "noerror")) {
				noerror = true;
			} else {
				break;
			}
			w = fr_next(ps, IT_RAW);
			if (ps->failed)
				return NULL;
			if (w.eof) {
				fr_fail(ps, "\"%s\" near line %d is not followed by a command",
					seen ? "seen\" or \"unseen" : "noerror", ps->line);
				return NULL;
			}
		}
		if (seen || noerror) {
			/* At the top level the block word is what is wrong; inside an if, the prefix. */
			if (depth == 0 && (fr_is_word(w, "elif") || fr_is_word(w, "else") || fr_is_word(w, "endif"))) {
				*terminator = w;
				return head;
			}
			if (fr_is_word(w, "elif") || fr_is_word(w, "else") || fr_is_word(w, "endif")) {
				fr_fail(ps, "\"seen\", \"unseen\", or \"noerror\" near line %d is not followed by a "
					"command", ps->line);
				return NULL;
			}
			if (fr_is_word(w, "if") || fr_is_word(w, "add") || fr_is_word(w, "headers")) {
				fr_fail(ps, "\"seen\", \"unseen\", or \"noerror\" found before an \"" SV_FMT "\" command "
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
	filter_parse_opts o = { .system = system };
	return filter_parse_with(a, text, &o, err);
}

filter *filter_parse_with(arena *a, sv text, const filter_parse_opts *o, xbuf *err)
{
	bool system = o->system;
	parser ps = { .a = a, .p = text.p ? text.p : "", .line = 1, .system = system, .err = err,
		.allow_fail = o->allow_fail, .allow_freeze = o->allow_freeze, .allow_defer = o->allow_defer };
	ps.end = ps.p + text.len;
	fr_skip_space(&ps);
	item term;
	fcmd *cmds = parse_cmds(&ps, 0, &term);
	if (ps.failed)
		return NULL;
	if (!term.eof) {
		fr_fail(&ps, "unexpected \"" SV_FMT "\" command near line %d of filter file", SV_ARG(term.raw),
			ps.line);
		return NULL;
	}
	filter *f = arena_alloc(a, sizeof *f);
	f->cmds = cmds;
	f->system = system;
	return f;
}
