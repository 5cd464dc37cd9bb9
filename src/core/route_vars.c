/* What an address shows to expansions while it is routed ($local_part, $domain, $address_data,
 * $home ...) and the generic options every routing driver applies once it accepts an address
 * (errors_to, headers_add, headers_remove, transport). */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf_dump.h"
#include "core/addr.h"
#include "lib/list.h"

static const address_item *top_of(const address_item *a)
{
	while (a->parent)
		a = a->parent;
	return a;
}

static bool put(xbuf *out, sv v)
{
	if (v.p)
		xbuf_putsv(out, v);
	return true;
}

static bool address_var(void *ctx, sv name, xbuf *out)
{
	const address_item *a = ctx;
	if (sv_eq_cstr(name, "local_part"))
		return put(out, a->local_part);
	if (sv_eq_cstr(name, "domain"))
		return put(out, a->domain);
	if (sv_eq_cstr(name, "local_part_prefix"))
		return put(out, a->prefix);
	if (sv_eq_cstr(name, "local_part_prefix_v"))
		return put(out, a->prefix_v);
	if (sv_eq_cstr(name, "local_part_suffix"))
		return put(out, a->suffix);
	if (sv_eq_cstr(name, "local_part_suffix_v"))
		return put(out, a->suffix_v);
	if (sv_eq_cstr(name, "address_data"))
		return put(out, a->address_data);
	if (sv_eq_cstr(name, "domain_data"))
		return put(out, a->domain_data);
	if (sv_eq_cstr(name, "local_part_data"))
		return put(out, a->local_part_data);
	if (sv_eq_cstr(name, "home"))
		return put(out, a->home);
	if (sv_eq_cstr(name, "local_user_uid") || sv_eq_cstr(name, "local_user_gid")) {
		if (a->uid_set)
			xbuf_printf(out, "%ld", (long)(name.p[11] == 'u' ? (long)a->uid : (long)a->gid));
		return true;
	}
	if (sv_eq_cstr(name, "router_name"))
		return put(out, a->router ? sv_cstr(a->router->name) : SV_NULL);
	if (sv_eq_cstr(name, "original_local_part") || sv_eq_cstr(name, "original_domain")) {
		/* The top-level address's full local part (affixes included) and domain. */
		const address_item *t = top_of(a);
		return put(out, name.p[9] == 'l' ? t->lc_local_part : t->domain);
	}
	if (sv_eq_cstr(name, "parent_local_part"))
		return put(out, a->parent ? a->parent->lc_local_part : SV_NULL);
	if (sv_eq_cstr(name, "parent_domain"))
		return put(out, a->parent ? a->parent->domain : SV_NULL);
	return false;
}

void route_vars_push(xp_env *env, xp_provider *p, const address_item *a)
{
	p->get = address_var;
	p->ctx = (void *)a;
	xp_env_push_provider(env, p);
}

/* user / group: who the transport will run as (a user also gives its group unless group is
 * set). Names are looked up now, as Exim does when the option is expanded. */
route_rc route_user_group(route_ctx *c, const driver_instance *r, address_item *a, xp_env *env)
{
	xbuf err;
	xbuf_init(&err, c->a);
	const char *opts[2] = { "user", "group" };
	for (int k = 0; k < 2; k++) {
		const char *text = route_opt_str(r, opts[k]);
		if (!text)
			continue;
		sv v;
		/* Exim resolves these for the transport; routing goes on if they cannot be expanded. */
		if (route_expand(env, text, &v, &err) != XP_OK)
			continue;
		char *name = sv_dup(c->a, sv_trim(v));
		long long num;
		bool numeric = sv_to_long(sv_cstr(name), &num) && num >= 0;
		if (k == 0) {
			struct passwd *pw = numeric ? getpwuid((uid_t)num) : getpwnam(name);
			if (!pw && !numeric) {
				a->message = sv_cstr(arena_printf(c->a, "user \"%s\" was not found for the %s router", name, r->name));
				return ROUTE_DEFER;
			}
			a->uid = numeric ? (uid_t)num : pw->pw_uid;
			a->uid_set = true;
			if (pw) {
				a->gid = pw->pw_gid;
				a->gid_set = true;
			}
		} else {
			struct group *gr = numeric ? NULL : getgrnam(name);
			if (!gr && !numeric) {
				a->message = sv_cstr(arena_printf(c->a, "group \"%s\" was not found for the %s router", name, r->name));
				return ROUTE_DEFER;
			}
			a->gid = numeric ? (gid_t)num : gr->gr_gid;
			a->gid_set = true;
		}
	}
	return ROUTE_OK;
}

route_rc route_generic_props(route_ctx *c, const driver_instance *r, address_item *a, xp_env *env)
{
	xbuf err;
	xbuf_init(&err, c->a);
	sv v;
	const char *et = route_opt_str(r, "errors_to");
	if (et) {
		int rc = route_expand(env, et, &v, &err);
		if (rc == XP_ERROR) {
			a->message = sv_cstr(arena_printf(c->a, "%s router failed to expand \"%s\": %s", r->name, et,
				xbuf_cstr(&err)));
			return ROUTE_DEFER;
		}
		if (rc == XP_OK)
			a->errors_address = sv_copy(c->a, v);
	}
	/* headers_add: a newline-separated list, headers_remove a colon list; each item is expanded
	 * on its own, a forced failure or an empty result adds nothing. */
	static const struct { const char *opt; int sep; } lists[2] = { { "headers_add", '\n' }, { "headers_remove", ':' } };
	for (int k = 0; k < 2; k++) {
		const char *text = route_opt_str(r, lists[k].opt);
		if (!text)
			continue;
		sv *acc = k == 0 ? &a->headers_add : &a->headers_remove;
		list_iter it;
		list_iter_init(&it, sv_cstr(text), -lists[k].sep);
		xbuf item, b;
		xbuf_init(&item, c->a);
		xbuf_init(&b, c->a);
		xbuf_putsv(&b, *acc);
		while (list_next(&it, &item)) {
			xbuf one;
			xbuf_init(&one, c->a);
			xbuf_reset(&err);
			int xr = xp_expand(env, xbuf_sv(&item), &one, &err);
			if (xr == XP_ERROR) {
				a->message = sv_cstr(arena_printf(c->a, "%s router failed to expand %s item \"%s\": %s", r->name,
					k == 0 ? "add_headers" : "remove_headers", xbuf_cstr(&item), xbuf_cstr(&err)));
				return ROUTE_DEFER;
			}
			if (xr != XP_OK || !one.len)
				continue;
			if (b.len)
				xbuf_putc(&b, k == 0 ? '\n' : ':');
			xbuf_putsv(&b, xbuf_sv(&one));
		}
		*acc = xbuf_sv(&b);
	}
	return route_user_group(c, r, a, env);
}

route_rc route_set_transport(route_ctx *c, const driver_instance *r, address_item *a, xp_env *env)
{
	const char *t = route_opt_str(r, "transport");
	a->transport = NULL;
	if (!t)
		return ROUTE_OK;
	const char *name = t;
	if (strchr(t, '$')) {
		xbuf err;
		xbuf_init(&err, c->a);
		sv v;
		if (route_expand(env, t, &v, &err) != XP_OK) {
			a->message = sv_cstr(arena_printf(c->a, "failed to expand transport \"%s\" in %s router: %s", t,
				r->name, xbuf_cstr(&err)));
			return ROUTE_DEFER;
		}
		name = sv_dup(c->a, v);
	}
	for (const driver_instance *d = conf_driver_instances("transports"); d; d = d->next)
		if (strcmp(d->name, name) == 0) {
			a->transport = d->name;
			return ROUTE_OK;
		}
	a->message = sv_cstr(arena_printf(c->a, "transport \"%s\" not found in %s router", name, r->name));
	return ROUTE_DEFER;
}
