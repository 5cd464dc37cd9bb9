/* RFC 5322 header fields over (ptr, len): recognising a field's first line, splitting a header
 * block into fields, the field name and body, unfolding, and the addresses in an address field
 * (for -t). Pure: no allocation except into the caller's xbuf/arena, no I/O.
 *
 * A header block here is what the reader collected: lines ending in "\n", each field's
 * continuation lines starting with a space or tab.
 */
#ifndef POSTERN_MAIL_HEADER_H
#define POSTERN_MAIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"
#include "lib/str.h"

/* Whether a line starts a header field: a name of printable ASCII characters other than ':',
 * then optional blanks, then ':'. The name may be empty (Exim 4.96 keeps ":text" as a header
 * line) but the line may not start with a blank. The line need not be complete. */
bool hdr_is_field_start(const char *p, size_t n);

/* The next field of a block: *pos is the offset to start at. On return *field is the whole field
 * including its continuation lines and the final "\n" (a last line without one is returned as
 * it is). Lines before the first field that are continuations are returned as fields of their
 * own. Returns false at the end. */
bool hdr_next_field(sv block, size_t *pos, sv *field);

/* The name of a field (before the ':' and any blanks before it); empty if it has none. */
sv hdr_field_name(sv field);
/* The body after the ':' (leading blanks kept out), with the final newline removed. */
sv hdr_field_body(sv field);
/* Whether a field's name is `name` (case-insensitive; name without ':'). */
bool hdr_name_is(sv field, sv name);

/* Unfold: each "\n" followed by blank(s) becomes the blanks (RFC 5322 3.2.2: the CRLF goes, the
 * white space stays); a final "\n" is dropped. Appends to out. */
void hdr_unfold(sv body, xbuf *out);

/* The addresses in an address-list field body (To, Cc, Bcc...), each as local@domain or an
 * unqualified local part, appended to out as a NUL-separated list; returns how many. Items that
 * do not parse (or contain a NUL) are skipped and counted in *bad (may be NULL). Groups are
 * allowed. */
size_t hdr_addresses(sv body, xbuf *out, size_t *bad);

/* hdr_addresses without the taint and the count of bad items: each item that does not parse
 * (or contains a NUL) is passed to on_bad with a reason (may be NULL; reason may be NULL).
 * addr_flags: ADDR_* options of mail/address.h (ADDR_UTF8_DOMAINS for -t). */
typedef void (*hdr_bad_item_fn)(void *ctx, sv item, const char *why);
size_t hdr_addresses_each(sv body, unsigned addr_flags, xbuf *out, hdr_bad_item_fn on_bad, void *ctx);

#endif
