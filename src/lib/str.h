/* Strings: one borrowed view (sv) and one growable buffer (xbuf), both carrying taint.
 *
 * Taint is an explicit bit on the value: data that came from outside (network, message, files
 * named by outside data, lookups keyed by it) is tainted, and stays so through every copy and
 * concatenation (the result of joining is tainted if any part is). The quoter id records which
 * lookup's quoting function produced the value (0 = none), so a lookup can accept tainted data
 * only when it was quoted for that lookup, as Exim 4.96 requires.
 *
 * sv:   (ptr, len) not necessarily NUL-terminated. Parsers take views; never rely on a NUL.
 * xbuf: always NUL-terminated after every mutator. It grows in its arena (or with malloc when the
 *       arena is NULL; then xbuf_free releases it). BUGS: growth moves the data, so pointers into
 *       p are invalid after any append.
 */
#ifndef POSTERN_LIB_STR_H
#define POSTERN_LIB_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/arena.h"

typedef struct sv {
	const char *p;
	size_t len;
	uint8_t taint;  /* 1 = tainted */
	uint8_t quoter; /* lookup quoter id that produced this value, 0 = none */
} sv;

typedef struct xbuf {
	char *p;
	size_t len, cap;
	arena *a; /* NULL: malloc-backed */
	uint8_t taint;
	uint8_t quoter;
} xbuf;

#define SV_NULL ((sv){ NULL, 0, 0, 0 })
#define SV_LIT(s) ((sv){ (s), sizeof(s) - 1, 0, 0 })
#define SV_FMT "%.*s"
#define SV_ARG(v) (int)(v).len, (v).p

static inline sv sv_make(const char *p, size_t len) { return (sv){ p, len, 0, 0 }; }
static inline sv sv_cstr(const char *s) { return (sv){ s, s ? strlen(s) : 0, 0, 0 }; }
static inline sv sv_tainted(sv v) { v.taint = 1; return v; }
static inline bool sv_is_null(sv v) { return v.p == NULL; }
static inline sv sv_sub(sv v, size_t off, size_t n)
{
	if (off > v.len) off = v.len;
	if (n > v.len - off) n = v.len - off;
	v.p += off; v.len = n;
	return v;
}
bool sv_eq(sv a, sv b);
bool sv_eqi(sv a, sv b);            /* ASCII case-insensitive */
/* Inline so that the length of a literal is a constant: the long if-chains of variable names
 * then reject most names with one comparison instead of a call and a strlen (callgrind). */
static inline bool sv_eq_cstr(sv a, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}
bool sv_starts(sv a, const char *prefix);
int sv_cmp(sv a, sv b);
sv sv_trim(sv v);                   /* strip leading and trailing isspace() */
char *sv_dup(arena *a, sv v);       /* NUL-terminated copy (taint is lost: keep the sv) */
sv sv_copy(arena *a, sv v);         /* copy keeping taint and quoter */
/* Parse a whole view as a signed decimal integer; false on junk or overflow. */
bool sv_to_long(sv v, long long *out);

void xbuf_init(xbuf *b, arena *a);
void xbuf_free(xbuf *b);             /* only for malloc-backed buffers; resets to empty */
void xbuf_reserve(xbuf *b, size_t extra);
void xbuf_reset(xbuf *b);            /* empty, untainted; keeps capacity */
void xbuf_put(xbuf *b, const void *p, size_t n);
void xbuf_putc(xbuf *b, char c);
void xbuf_puts(xbuf *b, const char *s);
void xbuf_putsv(xbuf *b, sv v);      /* appends and ORs in the view's taint */
void xbuf_printf(xbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xbuf_vprintf(xbuf *b, const char *fmt, va_list ap);
void xbuf_truncate(xbuf *b, size_t len);
static inline sv xbuf_sv(const xbuf *b) { return (sv){ b->p ? b->p : "", b->len, b->taint, b->quoter }; }
static inline const char *xbuf_cstr(const xbuf *b) { return b->p ? b->p : ""; }

#endif
