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
	/* For MATCH_HOST: the name was looked up (ACL host lists): a lookup item without net- then
	 * needs it as name patterns do, where ${if match_ip} keys it by the address. */
	bool host_name_required;
	const char *primary_hostname; /* for "@" in domain and host lists */
	/* Out (may be NULL): the data returned by the lookup that matched, for $domain_data /
	 * $local_part_data; tainted. */
	xbuf *matched_data;
} match_ctx;

/* caseless: for MATCH_LOCALPART and MATCH_ADDRESS (local parts) and MATCH_STRING; Exim's
 * ${if match_local_part} and ${if match_address} pass true (its default; "+caseful" in the list
 * switches to exact case). Domains and host names are always matched caselessly.
 * SEARCH_OK: in the list; SEARCH_FAIL: not in it (or excluded by a negated item);
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
/* After a match decided by a "*suffix" or "^regex" item (domain, local-part and address lists,
 * match_string_item): the values Exim gives $0, $1, ...: for "*suffix" $0 is the subject and $1
 * the part the asterisk matched; for a regex $0 is also the whole subject and $1.. the captures
 * (as Exim 4.96 shows them).
 * Copies up to max views into vars (pointing at storage valid until the next match call) and
 * returns the count; 0 when the deciding item sets none. */
size_t match_last_numeric(sv *vars, size_t max);
/* Forward lookup of a plain host name in a host list, for callers that resolve names (ACL and
 * option host lists do; ${if match_ip} does not, and Exim then treats the name as unknown).
 * Returns SEARCH_OK if name has the address ip (text form), SEARCH_FAIL if it has others,
 * SEARCH_DEFER for a temporary failure (err set), or MATCH_NAME_UNKNOWN when the name has no
 * address. NULL (the default): names are treated as unknown unless ctx->host_name equals them. */
enum { MATCH_NAME_UNKNOWN = 3 };
extern int (*match_host_lookup_hook)(const char *name, const char *ip, xbuf *err);
extern const char *(*match_named_list_hook)(const char *kind, const char *name);
/* "@mx_any", "@mx_primary", "@mx_secondary" (with "/ignore=...") in a domain list: SEARCH_OK,
 * SEARCH_FAIL or SEARCH_DEFER (err set). NULL (the default): such items defer, since they cannot
 * be answered without DNS. Set by the DNS layer (dns_install_match_hooks). */
extern int (*match_mx_hook)(sv domain, sv item, xbuf *err);

#endif
