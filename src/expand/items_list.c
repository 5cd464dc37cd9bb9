/* List items: ${map}, ${filter}, ${reduce}, ${sort}. Each sets $item (and ${reduce} $value) for
 * the inner expansion and restores the outer values afterwards. */
#include <ctype.h>

#include "expand/xp_internal.h"
#include "lib/list.h"

/* Append an element to a result list as Exim builds them: separators inside the element are
 * doubled, and after the first element a space follows the separator when the element is empty
 * or starts with the separator, so the two cannot read as one doubled separator. */
static void list_add(xbuf *out, bool *first, int sep, sv item)
{
	if (!*first) {
		xbuf_putc(out, (char)sep);
		if (!item.len || item.p[0] == sep)
			xbuf_putc(out, ' ');
	}
	*first = false;
	for (size_t i = 0; i < item.len; i++) {
		xbuf_putc(out, item.p[i]);
		if (item.p[i] == sep)
			xbuf_putc(out, (char)sep);
	}
	out->taint |= item.taint;
}

/* Sort comparators: the condition names Exim accepts for ${sort}. */
static int compare(sv cmp, sv a, sv b, bool *ok)
{
	*ok = true;
	static const char *const num[] = { "<", "<=", ">", ">=" };
	for (int i = 0; i < 4; i++)
		if (sv_eq_cstr(cmp, num[i])) {
			long long x = 0, y = 0;
			/* Numbers as conditions read them (1K...); values that are not numbers compare
			 * false, so Exim leaves them in place. */
			xbuf e;
			xbuf_init(&e, NULL);
			bool nums = xp_number(a, &x, "", &e) && xp_number(b, &y, "", &e);
			xbuf_free(&e);
			if (!nums)
				return 0;
			switch (i) {
			case 0: return x < y;
			case 1: return x <= y;
			case 2: return x > y;
			default: return x >= y;
			}
		}
	static const char *const str[] = { "lt", "lti", "le", "lei", "gt", "gti", "ge", "gei" };
	for (int i = 0; i < 8; i++)
		if (sv_eq_cstr(cmp, str[i])) {
			int c;
			if (i & 1) {
				size_t n = a.len < b.len ? a.len : b.len;
				c = strncasecmp(a.p, b.p, n);
				if (!c)
					c = a.len < b.len ? -1 : a.len > b.len;
			} else {
				c = sv_cmp(a, b);
			}
			switch (i / 2) {
			case 0: return c < 0;
			case 1: return c <= 0;
			case 2: return c > 0;
			default: return c >= 0;
			}
		}
	*ok = false;
	return 0;
}

static int do_sort(const xp_node *n, xp_env *env, sv list, xbuf *out, xbuf *err)
{
	sv cmp;
	int rc = xp_eval_arg(n->args[1], env, false, &cmp, err);
	if (rc != XP_OK)
		return rc;
	/* The comparator is the condition name at the start of the argument (checked at parse). */
	size_t nl = 0;
	if (cmp.len && (isalnum((unsigned char)cmp.p[0]) || cmp.p[0] == '_'))
		while (nl < cmp.len && (isalnum((unsigned char)cmp.p[nl]) || cmp.p[nl] == '_'))
			nl++;
	else
		while (nl < cmp.len && strchr("<=>", cmp.p[nl]))
			nl++;
	cmp.len = nl;
	bool ok;
	compare(cmp, SV_LIT("0"), SV_LIT("0"), &ok);
	if (!ok) {
		xp_err(err, "%s", "");
		return XP_ERROR;
	}
	size_t cap = 16, cnt = 0;
	sv *items = arena_alloc(env->a, cap * sizeof *items), *keys = arena_alloc(env->a, cap * sizeof *keys);
	list_iter it;
	xbuf item;
	xbuf_init(&item, env->a);
	list_iter_init(&it, list, 0);
	int sep = list_separator(list, 0);
	while (list_next(&it, &item)) {
		sv iv = sv_copy(env->a, xbuf_sv(&item));
		env->item = iv;
		sv key;
		if ((rc = xp_eval_arg(n->args[2], env, false, &key, err)) != XP_OK) {
			xp_err(err, "field-extract in sort: \"" SV_FMT "\"", SV_ARG(n->raw));
			return rc;
		}
		if (cnt == cap) {
			items = arena_realloc(env->a, items, cap * sizeof *items, 2 * cap * sizeof *items);
			keys = arena_realloc(env->a, keys, cap * sizeof *keys, 2 * cap * sizeof *keys);
			cap *= 2;
		}
		/* Insertion: before the first element the new one compares "true" against. */
		size_t pos = cnt;
		for (size_t i = 0; i < cnt; i++)
			if (compare(cmp, key, keys[i], &ok)) {
				pos = i;
				break;
			}
		memmove(items + pos + 1, items + pos, (cnt - pos) * sizeof *items);
		memmove(keys + pos + 1, keys + pos, (cnt - pos) * sizeof *keys);
		items[pos] = iv;
		keys[pos] = key;
		cnt++;
	}
	bool first = true;
	for (size_t i = 0; i < cnt; i++)
		list_add(out, &first, sep, items[i]);
	return XP_OK;
}

int xp_item_list(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err)
{
	sv list;
	int rc = xp_eval_arg(n->args[0], env, skip, &list, err);
	if (rc != XP_OK)
		return rc;
	xp_saved saved;
	xp_save(env, &saved);
	/* Errors from the per-item part (the last argument, or filter's condition) get Exim's
	 * " inside ..." suffix, also when this item is only being skipped inside another one. */
	const char *suffix = n->id == I_MAP ? " inside \"map\" item" : n->id == I_REDUCE ?
		" inside \"reduce\" item" : n->id == I_FILTER ? " inside \"filter\" item" : "";
	if (skip) {
		xbuf junk;
		xbuf_init(&junk, env->a);
		for (int i = 1; i < n->nargs && rc == XP_OK; i++) {
			rc = xp_eval_seq(n->args[i], env, true, &junk, err);
			if (rc != XP_OK && i == n->nargs - 1 && !n->cond)
				xbuf_puts(err, suffix);
		}
		if (rc == XP_OK && n->cond) {
			bool r;
			rc = xp_eval_cond(n->cond, env, true, &r, err);
			if (rc != XP_OK)
				xbuf_puts(err, suffix);
		}
		xp_restore(env, &saved);
		return rc;
	}
	/* Exim reads the per-item part once (parse-only) before it uses it, so its errors come
	 * even for an empty list. */
	{
		xbuf junk;
		xbuf_init(&junk, env->a);
		bool r;
		if (n->id == I_FILTER)
			rc = xp_eval_cond(n->cond, env, true, &r, err);
		else
			rc = xp_eval_seq(n->args[n->nargs - 1], env, true, &junk, err);
		if (rc != XP_OK) {
			xbuf_puts(err, suffix);
			xp_restore(env, &saved);
			return rc;
		}
	}
	if (n->id == I_SORT) {
		rc = do_sort(n, env, list, out, err);
		xp_restore(env, &saved);
		return rc;
	}
	sv start = SV_NULL;
	if (n->id == I_REDUCE && (rc = xp_eval_arg(n->args[1], env, false, &start, err)) != XP_OK) {
		xp_restore(env, &saved);
		return rc;
	}
	int sep = list_separator(list, 0);
	list_iter it;
	xbuf item;
	xbuf_init(&item, env->a);
	list_iter_init(&it, list, 0);
	bool first = true;
	if (n->id == I_REDUCE)
		env->value = start; /* map and filter leave the outer $value visible */
	while (rc == XP_OK && list_next(&it, &item)) {
		env->item = sv_copy(env->a, xbuf_sv(&item));
		if (n->id == I_FILTER) {
			bool keep = false;
			rc = xp_eval_cond(n->cond, env, false, &keep, err);
			if (rc != XP_OK)
				xbuf_puts(err, " inside \"filter\" item");
			else if (keep)
				list_add(out, &first, sep, env->item);
		} else if (n->id == I_MAP) {
			sv r;
			if ((rc = xp_eval_arg(n->args[1], env, false, &r, err)) == XP_OK)
				list_add(out, &first, sep, r);
			else
				xbuf_puts(err, " inside \"map\" item");
		} else {
			sv r;
			if ((rc = xp_eval_arg(n->args[2], env, false, &r, err)) == XP_OK)
				env->value = r;
			else
				xbuf_puts(err, " inside \"reduce\" item");
		}
	}
	if (rc == XP_OK && n->id == I_REDUCE)
		xbuf_putsv(out, env->value);
	xp_restore(env, &saved);
	return rc;
}
