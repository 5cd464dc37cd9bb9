/* The one place the expansion engine calls list matching (src/search/match.h), so a change in
 * that interface is a one-file change here. Named lists inside the list are expanded through
 * this engine. */
#include "conf/conf.h"
#include "expand/xp_internal.h"
#include "search/match.h"
#include "search/search.h"

static int expand_named(void *ectx, sv in, xbuf *out, xbuf *err)
{
	return xp_expand(ectx, in, out, err);
}

/* 1 = in the list, 0 = not, -1 = error (err set). */
int xp_match_list(xp_env *env, sv subject, sv list, enum xp_list_kind kind, bool caseless, xbuf *err)
{
	static const enum match_kind map[] = {
		[XL_DOMAIN] = MATCH_DOMAIN, [XL_LOCALPART] = MATCH_LOCALPART, [XL_ADDRESS] = MATCH_ADDRESS,
		[XL_HOST] = MATCH_HOST, [XL_STRING] = MATCH_STRING,
	};
	match_ctx ctx = { .expand = expand_named, .ectx = env };
	ctx.primary_hostname = conf_main_string("primary_hostname");
	xbuf_reset(err);
	int rc = match_isinlist(subject, list, 0, map[kind], caseless, &ctx, err);
	if (rc == SEARCH_DEFER)
		return -1;
	return rc == SEARCH_OK;
}
