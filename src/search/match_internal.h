/* Internals shared by the list matcher's files (match.c, match_address.c, match_host.c). */
#ifndef POSTERN_SEARCH_MATCH_INTERNAL_H
#define POSTERN_SEARCH_MATCH_INTERNAL_H

#include <stdint.h>

#include "lib/ip.h"
#include "search/match.h"
#include "search/search.h"

/* Item result beyond SEARCH_*: a host name was needed and is unknown, without +ignore_unknown or
 * +include_unknown; Exim then ends the whole list as "no match". */
#define MATCH_UNKNOWN_STOP 4

#define MATCH_MAX_DEPTH 16 /* named lists inside named lists, @@ chains */

typedef struct match_walk {
	enum match_kind kind;
	bool caseless;
	const match_ctx *ctx;
	xbuf *err;
	int depth;
	/* Host lists: what to do when a name is needed but unknown, or a lookup defers. */
	bool ignore_unknown, include_unknown, ignore_defer, include_defer;
} match_walk;

/* A single item (negation already removed) against the subject: SEARCH_OK when it matches. */
int match_walk_list(match_walk *w, sv subject, sv list, int sep);
int match_domain_item(match_walk *w, sv subject, sv item);
int match_localpart_item(match_walk *w, sv subject, sv item);
int match_address_item(match_walk *w, sv subject, sv item);
int match_host_item(match_walk *w, sv subject, sv item);

/* "^regex" (with the circumflex) against subject; false + err on a bad pattern. */
bool match_regex(sv subject, sv pattern, bool caseless, bool *matched, xbuf *err);
/* "type;data" lookups inside lists. key is ignored for query-style types. On a match the data
 * is copied to ctx->matched_data. prefix is the text before ';'. */
int match_lookup_item(match_walk *w, const search_spec *spec, sv key, sv data);
/* Parse the text before ';' quietly: false if it is not a lookup type (err untouched). */
bool match_parse_lookup(sv prefix, search_spec *spec, xbuf *err);
void match_set_data(match_walk *w, sv data);
bool match_literal(sv subject, sv pattern, bool caseless);
bool match_suffix(sv subject, sv suffix, bool caseless);

/* Lookup key for net-/netN- host-list items: IPv4 dotted quad; IPv6 as eight unabbreviated
 * lower-case groups joined by sep ('.' normally, ':' for iplsearch); "/N" when maskbits >= 0. */
void match_ip_key(const ip_addr *ip, int maskbits, char sep, xbuf *out);
/* Log a warning to the main and panic logs (through search_log_hook when set). */
void match_log(const char *msg);

#endif
