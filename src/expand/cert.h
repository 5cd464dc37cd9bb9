/* Certificate variables in expansions: ${certextract} and the md5/sha1/sha256/base64 operators
 * applied to a certificate variable (docs/tls.md, "Certificates in expansions").
 *
 * A certificate variable ($tls_in_peercert, $tls_in_ourcert, $tls_out_peercert, $tls_out_ourcert)
 * holds the certificate as PEM inside Postern; expanded on its own it shows "<cert>" (or nothing),
 * as Exim's does. Field formats follow Exim 4.96 built with OpenSSL (Postern's TLS library); the
 * notes in docs/tls.md list where Debian's GnuTLS build prints differently.
 */
#ifndef POSTERN_EXPAND_CERT_H
#define POSTERN_EXPAND_CERT_H

#include <stdbool.h>

#include "lib/str.h"

/* Whether name (without "$") is one of the certificate variables. */
bool xp_cert_var(sv name);

/* ${certextract{field}{cert}}: field is "name" or "name,modifiers". Returns XP_OK with the value
 * in out, XP_FORCEFAIL when the certificate has no such field (the item's "no" branch), or
 * XP_ERROR with Exim's message (unknown field, unparsable certificate). The value is tainted
 * when pem is. */
int xp_cert_extract(sv field, sv pem, xbuf *out, xbuf *err);

/* The operators that treat a lone certificate variable specially: md5, sha1, sha256 (the
 * fingerprint, upper-case hex) and base64 (of the DER form). false: op is not one of them. */
bool xp_cert_op_applies(sv op);
/* Apply such an operator to a certificate; XP_OK or XP_ERROR. */
int xp_cert_op(sv op, sv pem, xbuf *out, xbuf *err);

#endif
