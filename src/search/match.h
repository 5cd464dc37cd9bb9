/* Matching a subject against an Exim list: domain, local part, address, host and plain string lists
 * (ch-domain_host_address_and_local_part_lists.html). Items may be literals, wildcards (*suffix),
 * regexes (^...), lookups (lsearch;/file, partial-dbm;/file, net24-lsearch;/file), named lists
 * (+name, resolved through conf_named_list and expanded via the caller's callback), negations (!),
 * and for hosts: IPs, CIDR nets, names, @, @[], localhost. The list must already be expanded by the
 * caller (named lists are expanded here through ctx->expand, since their text is stored raw).
 */
#ifndef POSTERN_SEARCH_MATCH_H
#define POSTERN_SEARCH_MATCH_H

#include <stdbool.h>

#include "lib/str.h"

enum match_kind { MATCH_DOMAIN, MATCH_LOCALPART, MATCH_ADDRESS, MATCH_HOST, MATCH_STRING };

typedef struct match_ctx {
	/* Expand a named list's stored text; returns 0 = ok, 1 = forced failure, 2 = error (err set).
	 * NULL: named lists are used unexpanded. */
	int (*expand)(void *ectx, sv in, xbuf *out, xbuf *err);
	void *ectx;
	/* For MATCH_HOST: the subject is the host's IP address; host_name is its name if known. */
	const char *host_name;
	const char *primary_hostname; /* for "@" in domain and host lists */
	/* Out (may be NULL): the data returned by the lookup that matched, for $domain_data /
	 * $local_part_data; tainted. */
	xbuf *matched_data;
} match_ctx;

/* SEARCH_OK: in the list; SEARCH_FAIL: not in it (or excluded by a negated item);
 * SEARCH_DEFER: a lookup or expansion could not complete (err set, Exim's wording). */
int match_isinlist(sv subject, sv list, int sep, enum match_kind kind, bool caseless,
	const match_ctx *ctx, xbuf *err);

/* One pattern against a subject, as ${if match_...} and inlist do for a single item. */
bool match_string_item(sv subject, sv pattern, bool caseless, xbuf *err);

/* ---- Additions (h/search) ---- */
/* Forget cached named-list results (called by search_tidyup, at the end of a message). */
void match_tidyup(void);
/* Where "+name" lists come from; NULL (the default) means conf_named_list(). Lets tests and
 * tools supply named lists without a loaded configuration. */
extern const char *(*match_named_list_hook)(const char *kind, const char *name);

#endif
