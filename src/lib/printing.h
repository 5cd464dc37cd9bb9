/* Printable renderings of arbitrary bytes, as Exim writes them in log lines, error messages,
 * -bP output and ${escape:} / ${escape8bit:}.
 *
 * printing_escape (Exim's string_printing): printable ASCII is copied; newline, carriage return,
 * backspace, vertical tab and form feed become \n \r \b \v \f; tab is copied when
 * PRINT_TAB_LITERAL is given (log lines, ${escape:}) and becomes \t otherwise (-bP output);
 * bytes >= 0x80 are copied when PRINT_TOPBIT is given (print_topbitchars) and otherwise, like
 * every other control byte and DEL, become a backslash and three octal digits ("\001", "\377").
 * A backslash itself is copied unchanged, so the escaping is not reversible; it is for humans.
 *
 * printing_escape8bit (${escape8bit:}): only bytes >= 0x7f and the backslash are escaped, as
 * \ooo, so the result is reversible by the \ooo escapes of the expansion language.
 *
 * Output taint follows the input's.
 */
#ifndef POSTERN_LIB_PRINTING_H
#define POSTERN_LIB_PRINTING_H

#include <stdbool.h>

#include "lib/str.h"

enum {
	PRINT_TAB_LITERAL = 1u << 0,
	PRINT_TOPBIT = 1u << 1,
};

/* True when printing_escape would copy s unchanged (so callers can skip the copy). */
bool printing_is_clean(sv s, unsigned flags);
void printing_escape(sv s, unsigned flags, xbuf *out);
/* The escaped text as a NUL-terminated string in arena a (s itself when already clean and
 * NUL-terminated is NOT assumed: always a copy). */
char *printing_dup(arena *a, sv s, unsigned flags);
void printing_escape8bit(sv s, xbuf *out);
/* s in double quotes as Exim's ${quote:} and ${quote_local_part:} write it: a backslash before
 * '"' and '\', newline and carriage return spelled \n and \r. */
void printing_quoted(sv s, xbuf *out);

#endif
