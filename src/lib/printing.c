/* Printable renderings of bytes; see printing.h for the exact rules (observed from Exim 4.96). */
#include "lib/printing.h"

/* The escape letter for a control character, or 0 when it is shown in octal. */
static char named_escape(unsigned char c)
{
	switch (c) {
	case '\n': return 'n';
	case '\r': return 'r';
	case '\b': return 'b';
	case '\v': return 'v';
	case '\f': return 'f';
	case '\t': return 't';
	default: return 0;
	}
}

static bool copied_as_is(unsigned char c, unsigned flags)
{
	if (c >= 0x20 && c < 0x7f)
		return true;
	if (c == '\t')
		return (flags & PRINT_TAB_LITERAL) != 0;
	if (c >= 0x80)
		return (flags & PRINT_TOPBIT) != 0;
	return false;
}

bool printing_is_clean(sv s, unsigned flags)
{
	for (size_t i = 0; i < s.len; i++)
		if (!copied_as_is((unsigned char)s.p[i], flags))
			return false;
	return true;
}

static void put_octal(xbuf *out, unsigned char c)
{
	char esc[4] = { '\\', (char)('0' + (c >> 6)), (char)('0' + ((c >> 3) & 7)), (char)('0' + (c & 7)) };
	xbuf_put(out, esc, sizeof esc);
}

void printing_escape(sv s, unsigned flags, xbuf *out)
{
	size_t run = 0; /* start of the pending run of bytes copied as they are */
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (copied_as_is(c, flags))
			continue;
		xbuf_put(out, s.p + run, i - run);
		run = i + 1;
		char letter = named_escape(c);
		if (letter) {
			char esc[2] = { '\\', letter };
			xbuf_put(out, esc, 2);
		} else {
			put_octal(out, c);
		}
	}
	xbuf_put(out, s.p + run, s.len - run);
	out->taint |= s.taint;
}

char *printing_dup(arena *a, sv s, unsigned flags)
{
	xbuf b;
	xbuf_init(&b, a);
	xbuf_reserve(&b, s.len + 1);
	printing_escape(s, flags, &b);
	return b.p ? b.p : arena_strdup(a, "");
}

void printing_escape8bit(sv s, xbuf *out)
{
	size_t run = 0;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x7f && c != '\\')
			continue;
		xbuf_put(out, s.p + run, i - run);
		run = i + 1;
		put_octal(out, c);
	}
	xbuf_put(out, s.p + run, s.len - run);
	out->taint |= s.taint;
}

void printing_quoted(sv s, xbuf *out)
{
	xbuf_putc(out, '"');
	for (size_t i = 0; i < s.len; i++) {
		char ch = s.p[i];
		if (ch == '\n')
			xbuf_puts(out, "\\n");
		else if (ch == '\r')
			xbuf_puts(out, "\\r");
		else {
			if (ch == '"' || ch == '\\')
				xbuf_putc(out, '\\');
			xbuf_putc(out, ch);
		}
	}
	xbuf_putc(out, '"');
}
