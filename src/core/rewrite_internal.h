/* Internals shared by rewrite.c and rewrite_headers.c. */
#ifndef POSTERN_CORE_REWRITE_INTERNAL_H
#define POSTERN_CORE_REWRITE_INTERNAL_H

#include "core/rewrite.h"
#include "lib/list.h"

/* One rule from "pattern replacement flags" (quoting as in the rewrite section). transport: a
 * headers_rewrite rule (no envelope or SMTP flags; no header flag means all headers). */
bool rewrite_parse_rule(arena *a, sv line, bool transport, conf_rewrite_rule **out, xbuf *err);

/* Rewrite one address (lp@domain) for one kind of place (a CONF_REWRITE_* bit). *whole (may be
 * NULL) gets the whole replacement item when a w rule decided, else SV_NULL. */
sv rewrite_one(arena *a, const conf_rewrite_rule *rules, sv subject, unsigned flag, xp_env *env,
	sv *whole);

#endif
