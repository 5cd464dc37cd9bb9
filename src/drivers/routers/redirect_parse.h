/* The redirection list parser of the redirect router (data, file contents, :include:d files),
 * exposed for its fuzz target. Untrusted input (users' .forward files): bounded in items and
 * :include: depth, no recursion beyond that depth. */
#ifndef POSTERN_DRIVERS_ROUTERS_REDIRECT_PARSE_H
#define POSTERN_DRIVERS_ROUTERS_REDIRECT_PARSE_H

#include "core/addr.h"
#include "drivers/routers/redirect.h"

#define REDIRECT_MAX_ITEMS 100000

typedef struct redirect_item {
	addr_kind kind;
	sv text;                       /* address (qualified), "|command", "/file" or "/dir/" */
} redirect_item;

typedef struct redirect_list {
	/* In: set by the caller (err initialised, special = ROUTE_OK) */
	route_ctx *c;                  /* arena and log */
	const driver_instance *r;      /* for log texts */
	const struct redirect_router_options *o;  /* allow_* / forbid_* / qualify_preserve_domain */
	address_item *a;               /* the address being redirected (its domain qualifies) */
	/* Out */
	redirect_item *items;
	size_t n, cap;
	bool discard;                  /* :blackhole: */
	route_rc special;              /* ROUTE_FAIL / ROUTE_DEFER from :fail: / :defer:; ROUTE_OK none */
	sv special_text;
	bool unknown;                  /* :unknown: */
	xbuf err;                      /* why parsing failed ("... is not permitted", "<reason> in \"item\"") */
	xbuf *skipped;                 /* In, may be NULL: gets each error skip_syntax_errors skipped,
	                                * as Exim's report lists it ("  <reason> in the address\n
	                                * \"<item>\"\n\n") */
} redirect_list;

/* Parse text into s; false with s->err set on an error that defers the address. */
bool redirect_parse(redirect_list *s, sv text);

#endif
