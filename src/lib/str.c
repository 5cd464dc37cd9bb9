/* sv and xbuf; see str.h. */
#include "lib/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

bool sv_eq(sv a, sv b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool sv_eqi(sv a, sv b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (tolower((unsigned char)a.p[i]) != tolower((unsigned char)b.p[i]))
			return false;
	return true;
}

bool sv_starts(sv a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.len >= n && memcmp(a.p, prefix, n) == 0;
}

int sv_cmp(sv a, sv b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

sv sv_trim(sv v)
{
	while (v.len && isspace((unsigned char)v.p[0])) {
		v.p++;
		v.len--;
	}
	while (v.len && isspace((unsigned char)v.p[v.len - 1]))
		v.len--;
	return v;
}

char *sv_dup(arena *a, sv v)
{
	return arena_strndup(a, v.p ? v.p : "", v.len);
}

sv sv_copy(arena *a, sv v)
{
	sv r = v;
	r.p = sv_dup(a, v);
	return r;
}

bool sv_to_long(sv v, long long *out)
{
	char tmp[32];
	/* Whole view, decimal, optional sign: no leading blanks (strtoll would skip them) and no
	 * embedded NUL (strtoll would stop there and report success). */
	if (v.len == 0 || v.len >= sizeof tmp || isspace((unsigned char)v.p[0]) || memchr(v.p, 0, v.len))
		return false;
	memcpy(tmp, v.p, v.len);
	tmp[v.len] = 0;
	char *end;
	errno = 0;
	long long n = strtoll(tmp, &end, 10);
	if (errno || *end)
		return false;
	*out = n;
	return true;
}

void xbuf_init(xbuf *b, arena *a)
{
	memset(b, 0, sizeof *b);
	b->a = a;
}

void xbuf_free(xbuf *b)
{
	if (!b->a)
		free(b->p);
	arena *a = b->a;
	xbuf_init(b, a);
}

void xbuf_reserve(xbuf *b, size_t extra)
{
	if (extra > SIZE_MAX / 4 - b->len) {
		fprintf(stderr, "postern: string too long\n");
		abort();
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (b->a) {
		b->p = arena_realloc(b->a, b->p, b->cap, cap);
	} else {
		char *p = realloc(b->p, cap);
		if (!p) {
			fprintf(stderr, "postern: out of memory\n");
			abort();
		}
		b->p = p;
	}
	b->cap = cap;
	b->p[b->len] = 0; /* always NUL-terminated, even before the first append */
}

void xbuf_reset(xbuf *b)
{
	b->len = 0;
	b->taint = 0;
	b->quoter = 0;
	if (b->p)
		b->p[0] = 0;
}

void xbuf_put(xbuf *b, const void *p, size_t n)
{
	xbuf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
	b->quoter = 0; /* an appended-to value is no longer exactly what a quoter produced */
}

void xbuf_putc(xbuf *b, char c)
{
	xbuf_put(b, &c, 1);
}

void xbuf_puts(xbuf *b, const char *s)
{
	xbuf_put(b, s, strlen(s));
}

void xbuf_putsv(xbuf *b, sv v)
{
	/* Appending a quoted value to an empty buffer keeps its quoter: the result is that value. */
	bool keep_quoter = b->len == 0 && v.quoter;
	xbuf_put(b, v.p, v.len);
	b->taint |= v.taint;
	if (keep_quoter)
		b->quoter = v.quoter;
}

void xbuf_vprintf(xbuf *b, const char *fmt, va_list ap)
{
	/* Formatted straight into the free space; only text that does not fit is formatted a
	 * second time, after growing (one vsnprintf instead of two for most calls). */
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, aq);
	va_end(aq);
	if (n <= 0) {
		if (room)
			b->p[b->len] = 0;
		return;
	}
	if ((size_t)n >= room) {
		xbuf_reserve(b, (size_t)n);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
	b->quoter = 0;
}

void xbuf_printf(xbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

void xbuf_truncate(xbuf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->p[len] = 0;
	}
}
