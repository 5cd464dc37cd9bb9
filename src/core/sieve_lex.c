/* The Sieve lexer (RFC 5228 section 8.1): white space, "#" and bracket comments, identifiers,
 * tags, numbers with K/M/G, quoted strings and "text:" multi-line strings, punctuation.
 * Untrusted input: every string is bounded, nothing recurses. Strings are not tainted: the
 * script is the user's own file (Exim taints only message and network data). Line numbers
 * count LF, as Exim's (its Sieve uses LF as the line end). Strings may hold NUL ("\0" is not special: Exim's
 * extension makes it a NUL only in its own C strings; a view carries NUL bytes as they are). */
#include <ctype.h>
#include <string.h>

#include "core/sieve_internal.h"

void slex_init(slexer *lx, arena *a, sv text)
{
	memset(lx, 0, sizeof *lx);
	lx->a = a;
	lx->p = text.p;
	lx->end = text.p + text.len;
	lx->line = 1;
}

static stok bad(slexer *lx, const char *why)
{
	return (stok){ .kind = STK_BAD, .text = sv_cstr(why), .line = lx->line };
}

/* Skip white space and comments; false with *why on an unterminated bracket comment. */
static bool skip_space(slexer *lx, const char **why)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			lx->p += 2;
			for (;;) {
				if (lx->p + 1 >= lx->end) {
					lx->p = lx->end;
					*why = "missing end of comment";
					return false;
				}
				if (lx->p[0] == '*' && lx->p[1] == '/') {
					lx->p += 2;
					break;
				}
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
		} else {
			break;
		}
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void put_utf8(xbuf *b, unsigned long cp)
{
	if (cp < 0x80) {
		xbuf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		xbuf_putc(b, (char)(0xC0 | (cp >> 6)));
		xbuf_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		xbuf_putc(b, (char)(0xE0 | (cp >> 12)));
		xbuf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		xbuf_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		xbuf_putc(b, (char)(0xF0 | (cp >> 18)));
		xbuf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
		xbuf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		xbuf_putc(b, (char)(0x80 | (cp & 0x3F)));
	}
}

/* RFC 5228 2.4.2.4: "${hex: 41 42}" and "${unicode: 263a}" at s (which starts with "${").
 * Returns the bytes consumed, 0 when the sequence is not well formed (it then stays literal). */
static size_t decode_encoded(sv s, xbuf *out)
{
	bool unicode;
	size_t i;
	if (s.len > 6 && strncasecmp(s.p + 2, "hex:", 4) == 0) {
		unicode = false;
		i = 6;
	} else if (s.len > 10 && strncasecmp(s.p + 2, "unicode:", 8) == 0) {
		unicode = true;
		i = 10;
	} else {
		return 0;
	}
	xbuf tmp;
	xbuf_init(&tmp, out->a);
	for (;;) {
		while (i < s.len && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\n' || s.p[i] == '\r'))
			i++;
		if (i >= s.len)
			return 0;
		if (s.p[i] == '}')
			break;
		unsigned long v = 0;
		int digits = 0;
		while (i < s.len && hexval(s.p[i]) >= 0) {
			if (digits++ >= 8)
				return 0;
			v = v * 16 + (unsigned long)hexval(s.p[i++]);
		}
		if (digits == 0)
			return 0;
		if (unicode) {
			if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
				return 0;
			put_utf8(&tmp, v);
		} else {
			if (v > 0xFF)
				return 0;
			xbuf_putc(&tmp, (char)v);
		}
	}
	xbuf_putsv(out, xbuf_sv(&tmp));
	return i + 1;
}

/* Append raw string bytes, decoding encoded characters when enabled. */
static void put_text(slexer *lx, xbuf *out, sv raw)
{
	for (size_t i = 0; i < raw.len;) {
		if (lx->encoded_character && raw.p[i] == '$' && i + 1 < raw.len && raw.p[i + 1] == '{') {
			size_t n = decode_encoded(sv_sub(raw, i, raw.len - i), out);
			if (n) {
				i += n;
				continue;
			}
		}
		xbuf_putc(out, raw.p[i++]);
	}
}

static stok quoted_string(slexer *lx)
{
	int line = lx->line;
	lx->p++;
	xbuf raw;
	xbuf_init(&raw, lx->a);
	for (;;) {
		if (lx->p >= lx->end)
			return bad(lx, "missing end of string");
		char c = *lx->p++;
		if (c == '"')
			break;
		if (c == '\\') {
			if (lx->p >= lx->end)
				return bad(lx, "missing end of string");
			c = *lx->p++;
		}
		if (c == '\n')
			lx->line++;
		if (raw.len >= SIEVE_MAX_STRING)
			return bad(lx, "string too long");
		xbuf_putc(&raw, c);
	}
	xbuf out;
	xbuf_init(&out, lx->a);
	put_text(lx, &out, xbuf_sv(&raw));
	return (stok){ .kind = STK_STRING, .text = xbuf_sv(&out), .line = line };
}

/* "text:" then optional white space and a "#" comment, the line end, then lines up to a line
 * holding only "."; a line starting with ".." loses one dot. */
static stok multiline(slexer *lx)
{
	int line = lx->line;
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p < lx->end && *lx->p == '#')
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
	if (lx->p < lx->end && *lx->p == '\r')
		lx->p++;
	if (lx->p >= lx->end || *lx->p != '\n')
		return bad(lx, "syntax error");
	lx->p++;
	lx->line++;
	xbuf raw;
	xbuf_init(&raw, lx->a);
	for (;;) {
		if (lx->p >= lx->end)
			return bad(lx, "missing end of multi line string");
		const char *eol = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		const char *stop = eol ? eol : lx->end;
		size_t n = (size_t)(stop - lx->p);
		if (n && lx->p[n - 1] == '\r')
			n--;
		if (n == 1 && lx->p[0] == '.') {
			lx->p = eol ? eol + 1 : lx->end;
			if (eol)
				lx->line++;
			break;
		}
		const char *from = lx->p;
		if (n >= 2 && from[0] == '.' && from[1] == '.') {
			from++;
			n--;
		}
		if (raw.len + n + 1 > SIEVE_MAX_STRING)
			return bad(lx, "string too long");
		xbuf_put(&raw, from, n);
		xbuf_putc(&raw, '\n');
		if (!eol) {
			lx->p = lx->end;
			return bad(lx, "missing end of multi line string");
		}
		lx->p = eol + 1;
		lx->line++;
	}
	xbuf out;
	xbuf_init(&out, lx->a);
	put_text(lx, &out, xbuf_sv(&raw));
	return (stok){ .kind = STK_STRING, .text = xbuf_sv(&out), .line = line };
}

static stok lex(slexer *lx)
{
	const char *why = NULL;
	if (!skip_space(lx, &why))
		return bad(lx, why);
	stok t = { .line = lx->line };
	if (lx->p >= lx->end) {
		t.kind = STK_EOF;
		return t;
	}
	char c = *lx->p;
	static const char punct[] = ";,()[]{}";
	const char *pp = strchr(punct, c);
	if (pp && c) {
		static const stok_kind kinds[] = { STK_SEMI, STK_COMMA, STK_LPAREN, STK_RPAREN,
			STK_LBRACKET, STK_RBRACKET, STK_LBRACE, STK_RBRACE };
		t.kind = kinds[pp - punct];
		lx->p++;
		return t;
	}
	if (c == '"')
		return quoted_string(lx);
	if (isdigit((unsigned char)c)) {
		unsigned long long v = 0;
		while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
			unsigned d = (unsigned)(*lx->p++ - '0');
			if (v > (~0ULL - d) / 10)
				t.num_overflow = true;
			else
				v = v * 10 + d;
		}
		unsigned shift = 0;
		if (lx->p < lx->end) {
			char q = *lx->p;   /* upper case only (observed: "1k" is 1 then an identifier) */
			shift = q == 'K' ? 10 : q == 'M' ? 20 : q == 'G' ? 30 : 0;
			if (shift)
				lx->p++;
		}
		if (shift && v > (~0ULL >> shift))
			t.num_overflow = true;
		t.kind = STK_NUMBER;
		t.num = v << shift;
		return t;
	}
	bool tag = c == ':';
	const char *s = lx->p + (tag ? 1 : 0);
	if (s < lx->end && (isalpha((unsigned char)*s) || *s == '_')) {
		const char *e = s;
		while (e < lx->end && (isalnum((unsigned char)*e) || *e == '_'))
			e++;
		sv word = sv_make(s, (size_t)(e - s));
		lx->p = e;
		if (!tag && word.len == 4 && strncasecmp(word.p, "text", 4) == 0 && lx->p < lx->end && *lx->p == ':') {
			lx->p++;
			return multiline(lx);
		}
		t.kind = tag ? STK_TAG : STK_IDENT;
		t.text = word;
		return t;
	}
	return bad(lx, "syntax error");
}

stok slex_next(slexer *lx)
{
	if (lx->has_peek) {
		lx->has_peek = false;
		return lx->peeked;
	}
	return lex(lx);
}

stok slex_peek(slexer *lx)
{
	if (!lx->has_peek) {
		lx->peeked = lex(lx);
		lx->has_peek = true;
	}
	return lx->peeked;
}
