/* The item reader of the Exim filter parser (filter_parse.c): quoted strings with their
 * escapes, plain words ended by white space (and, in some places, round brackets), comments,
 * line counting and Exim's look-ahead quirk. See filter_internal.h for the item modes. */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/filter_internal.h"

void fr_fail(parser *ps, const char *fmt, ...)
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
void fr_skip_space(parser *ps)
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
			fr_fail(ps, "quote missing at end of string in line %d", ps->line);
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
			fr_fail(ps, "string is too long in line %d of filter file (max = %d chars)", ps->line,
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
item fr_next(parser *ps, int mode)
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
			fr_fail(ps, "word is too long in line %d of filter file (max = %d chars)", ps->line,
				FILTER_MAX_STRING);
			it.eof = true;
			return it;
		}
	}
	it.raw = sv_make(start, (size_t)(ps->p - start));
	int before = ps->line;
	fr_skip_space(ps);
	it.skipped = ps->line - before;
	return it;
}

item fr_peek(parser *ps, int mode)
{
	parser save = *ps;
	item it = fr_next(ps, mode);
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
void fr_not_taken(parser *ps, item peeked)
{
	if (!peeked.eof)
		ps->line += peeked.skipped;
}

bool fr_is_word(item it, const char *w)
{
	return !it.eof && !it.quoted && sv_eq_cstr(it.s, w);
}

bool fr_is_word_ci(item it, const char *w)
{
	return !it.eof && !it.quoted && sv_eqi(it.s, sv_cstr(w));
}

/* An argument that must be present and non-empty. */
bool fr_need_arg(parser *ps, const char *what, int mode, sv *out)
{
	item it = fr_next(ps, mode);
	if (ps->failed)
		return false;
	if (it.eof || it.s.len == 0) {
		fr_fail(ps, "\"%s\" requires an argument near line %d of filter file", what, ps->line);
		return false;
	}
	*out = it.s;
	return true;
}
