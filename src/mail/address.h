/* RFC 5322 address extraction as Exim's ${address:}, ${addresses:}, ${domain:} and
 * ${local_part:} see it.
 *
 * An item is an addr-spec ("local@domain", or an unqualified "local"), or a phrase followed by a
 * route-addr ("Name <@route,@route:local@domain>"), with white space and (nested) comments
 * allowed between tokens. The result keeps the local part as written (quotes included) and
 * drops white space, comments, the phrase and any source route. "<>" is a valid item with no
 * address. When groups are allowed, "name:" opens a group and ';' closes it (text after the ';'
 * is ignored). Exim keeps the group state between expansions (a quirk not copied here): the
 * state lives in the caller's addr_group_state.
 *
 * An unterminated comment runs to the end of the text; a backslash quotes the next character
 * inside an atom, as in Exim.
 *
 * Bounded: comment nesting is limited to ADDR_MAX_COMMENT_DEPTH; nothing recurses otherwise.
 */
#ifndef POSTERN_MAIL_ADDRESS_H
#define POSTERN_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"
#include "lib/str.h"

enum { ADDR_MAX_COMMENT_DEPTH = 64 };

typedef struct addr_group_state {
	bool allow;   /* groups may be used (${addresses:}) */
	bool in_group; /* a group is open */
} addr_group_state;

typedef struct addr_parsed {
	size_t local_len;  /* bytes of the local part at the start of the output */
	bool has_domain;   /* output has "@domain" after the local part */
	bool empty;        /* "<>" or an empty group: valid, but no address */
	bool route_literal; /* a domain literal inside <...> or in its source route: Exim refuses
	                     * it there unless allow_domain_literals (it takes a bare a@[1.2.3.4]) */
} addr_parsed;

/* Parse one item. Appends "local[@domain]" to out (nothing when empty) and returns true, or
 * returns false with a short reason in *why (out is then left as it was). groups may be NULL
 * (no group syntax). */
bool addr_extract(sv item, addr_group_state *groups, xbuf *out, addr_parsed *info, const char **why);

/* addr_extract with options. ADDR_UTF8_DOMAINS: bytes above 127 are allowed in domains too, as
 * Exim 4.96 takes them in the addresses of a local submission (-f, the command line, and the
 * headers read by -t, whatever allow_utf8_domains says); such a domain must be valid UTF-8
 * ("invalid UTF-8 byte sequence" otherwise). */
enum { ADDR_UTF8_DOMAINS = 1u << 0 };
bool addr_extract_opts(sv item, addr_group_state *groups, unsigned flags, xbuf *out, addr_parsed *info,
	const char **why);

/* Any byte above 127 in the address. Exim 4.96 marks a local message with such a sender or
 * recipient as SMTPUTF8 (observed: "-smtputf8" in -H for -f, command-line and -t addresses, a
 * UTF-8 local part alone being enough). */
bool addr_is_8bit(sv address);

/* Split a header-style list at commas outside quoted strings, comments and <...> (not [...]:
 * Exim splits "a@[1,2]"). *pos is the
 * offset to start at; returns false at the end; *item is the next item (possibly empty). */
bool addr_next_item(sv list, size_t *pos, sv *item);

/* A local part as $local_part shows it: quotes removed, a backslash keeps the next character
 * ("a b"@x is a b). lp itself when there is nothing to remove, else a copy in a; taint kept. */
sv addr_local_part_unquote(arena *a, sv lp);
/* lp as ${quote_local_part:} gives it (Exim): in double quotes when it is empty, starts or ends
 * with a dot, or has a character that is neither RFC 5322 atext nor a dot (consecutive dots
 * are left alone); else unchanged. */
void addr_quote_local_part(sv lp, xbuf *out);

#endif
