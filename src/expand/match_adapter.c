/* The one place the expansion engine calls list matching (src/search/match.h), so a change in
 * that interface is a one-file change here. Named lists inside the list are expanded through
 * this engine. */
#include "conf/conf.h"
#include "expand/xp_internal.h"
#include "lib/list.h"
#include "search/match.h"
#include "search/search.h"

static int expand_named(void *ectx, sv in, xbuf *out, xbuf *err)
{
	return xp_expand(ectx, in, out, err);
}

/* For inlist: the list item that matched, which Exim puts in $value. */
static sv matched_item(xp_env *env, sv subject, sv list, bool caseless)
{
	list_iter it;
	xbuf item, err;
	xbuf_init(&item, env->a);
	xbuf_init(&err, env->a);
	list_iter_init(&it, list, 0);
	while (list_next(&it, &item)) {
		if (item.len && item.p[0] == '!')
			continue;
		if (match_string_item(subject, xbuf_sv(&item), caseless, &err))
			return xbuf_sv(&item);
		xbuf_init(&item, env->a);
	}
	return subject;
}

/* 1 = in the list, 0 = not, -1 = error (err set). On a match, *value (if not NULL) is what
 * Exim leaves in $value: the matched item for inlist, the lookup data for the match_ kinds. */
int xp_match_list(xp_env *env, sv subject, sv list, enum xp_list_kind kind, bool caseless,
	sv *value, xbuf *err)
{
	static const enum match_kind map[] = {
		[XL_DOMAIN] = MATCH_DOMAIN, [XL_LOCALPART] = MATCH_LOCALPART, [XL_ADDRESS] = MATCH_ADDRESS,
		[XL_HOST] = MATCH_HOST, [XL_STRING] = MATCH_STRING,
	};
	xbuf data;
	xbuf_init(&data, env->a);
	match_ctx ctx = { .expand = expand_named, .ectx = env, .matched_data = &data };
	ctx.primary_hostname = conf_main_string("primary_hostname");
	xbuf_reset(err);
	int rc = match_isinlist(subject, list, 0, map[kind], caseless, &ctx, err);
	if (rc == SEARCH_DEFER)
		return -1;
	if (rc == SEARCH_OK && (kind == XL_DOMAIN || kind == XL_LOCALPART)) {
		/* In domain and local-part lists (not address lists), a "*suffix" or regex item sets
		 * $0, $1... for the condition's branch, as Exim does; copy the match module's views. */
		sv vars[XP_MAX_NUMERIC];
		size_t n = match_last_numeric(vars, XP_MAX_NUMERIC);
		if (n) {
			for (size_t i = 0; i < n; i++)
				env->numeric[i] = sv_copy(env->a, vars[i]);
			env->nnumeric = (int)n;
		}
	}
	if (rc == SEARCH_OK && value) {
		if (kind == XL_STRING)
			*value = matched_item(env, subject, list, caseless);
		else if (data.len)
			*value = xbuf_sv(&data);
	}
	return rc == SEARCH_OK;
}
