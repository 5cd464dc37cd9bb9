/* RFC 3492 Punycode and the "xn--" A-label forms used by Exim's utf8_* operators. */
#ifndef POSTERN_MAIL_PUNYCODE_H
#define POSTERN_MAIL_PUNYCODE_H

#include <stdbool.h>

#include "lib/str.h"

enum { PUNYCODE_MAX_CODEPOINTS = 1024 }; /* longer input is refused */

/* UTF-8 in -> Punycode (no "xn--" prefix); false on invalid UTF-8 or overflow. */
bool punycode_encode(sv utf8, xbuf *out);
/* Punycode (no prefix) -> UTF-8; false on malformed input. */
bool punycode_decode(sv puny, xbuf *out);

/* Domain to A-labels. With libidn2 (HAVE_LIBIDN2, as Exim's I18N build) this is IDNA2008 with
 * NFC input: Unicode case folding, disallowed characters and hyphen rules, errors worded by
 * libidn2. Without it, each label holding non-ASCII becomes "xn--<punycode>" with ASCII letters
 * lower-cased and nothing else checked. false with the reason in *why. */
bool idna_domain_to_alabel(sv domain, xbuf *out, const char **why);
/* Load libidn2 now (the daemon, before it forks, when its configuration uses the operator);
 * otherwise the first conversion loads it. */
void idna_preload(void);
/* And back: each label starting "xn--" (lower case only, as Exim) decoded; false on
 * malformed Punycode. */
bool idna_domain_from_alabel(sv domain, xbuf *out);

#endif
