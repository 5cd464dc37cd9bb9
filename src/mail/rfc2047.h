/* RFC 2047 encoded words, as Exim's ${rfc2047:} and ${rfc2047d:} produce and read them. */
#ifndef POSTERN_MAIL_RFC2047_H
#define POSTERN_MAIL_RFC2047_H

#include <stdbool.h>

#include "lib/str.h"

/* Longest encoded word recognised when check_rfc2047_length is true (RFC 2047 section 2). */
enum { RFC2047_MAX_WORD = 75 };

/* Encode in (text in `charset`) as Q-encoded words. Text made only of printing ASCII and
 * spaces, with none of ?=()<>@,;:\".[]_ , is returned unchanged. Long text is split into
 * several words separated by a space, at the points Exim splits it. */
void rfc2047_encode(sv in, const char *charset, xbuf *out);

/* Decode every well-formed encoded word, converting its text from the word's charset to
 * target (iconv); white space between adjacent encoded words is dropped, NUL bytes become '?',
 * malformed words are left as they are. false with Exim's message when a charset cannot be
 * converted at all. */
bool rfc2047_decode(sv in, const char *target, bool check_length, xbuf *out, xbuf *err);

#endif
