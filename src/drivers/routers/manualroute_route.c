/* manualroute router behaviour (Exim 4.96 "The manualroute router"): route_list / route_data
 * give a host list and options for the domain; hosts are looked up byname or bydns, optionally
 * shuffled, filtered by ignore_target_hosts, and checked against this machine (self). */
#include <ctype.h>
#include <string.h>

#include "conf/conf_dump.h"
#include "core/dns.h"
#include "drivers/routers/manualroute.h"
#include "drivers/routers/route_ops.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "lib/log.h"
#include "search/match.h"
#include "search/search.h"

/* Next white-space delimited word, or a "quoted string" (backslash escapes inside). */
static bool next_word(arena *a, sv *s, sv *word)
{
	size_t i = 0;
	while (i < s->len && isspace((unsigned char)s->p[i]))
		i++;
	if (i == s->len) {
		*s = sv_sub(*s, i, s->len);
		return false;
	}
	if (s->p[i] == '"') {
		xbuf w;
		xbuf_init(&w, a);
		size_t j = i + 1;
		for (; j < s->len && s->p[j] != '"'; j++) {
			if (s->p[j] == '\\' && j + 1 < s->len)
				j++;
			xbuf_putc(&w, s->p[j]);
		}
		*word = xbuf_sv(&w);
		word->taint = s->taint;
		*s = sv_sub(*s, j < s->len ? j + 1 : j, s->len);
		return true;
	}
	size_t j = i;
	while (j < s->len && !isspace((unsigned char)s->p[j]))
		j++;
	*word = sv_sub(*s, i, j - i);
	*s = sv_sub(*s, j, s->len);
	return true;
}

typedef struct mr_opts {
	route_lookup how;
	bool randomize;
	sv transport;
} mr_opts;

/* Known option words; the first other word starts a transport name that runs to the end. */
static void parse_options(arena *a, sv rest, mr_opts *o)
{
	sv w;
	for (;;) {
		sv before = sv_trim(rest);
		if (!next_word(a, &rest, &w))
			return;
		if (sv_eq_cstr(w, "byname"))
			o->how = ROUTE_LOOKUP_BYNAME;
		else if (sv_eq_cstr(w, "bydns"))
			o->how = ROUTE_LOOKUP_BYDNS;
		else if (sv_eq_cstr(w, "randomize"))
			o->randomize = true;
		else if (sv_eq_cstr(w, "no_randomize"))
			o->randomize = false;
		else if (sv_eq_cstr(w, "ipv4_prefer") || sv_eq_cstr(w, "ipv4_only"))
			continue; /* address family preference: our lookups already list what exists */
		else {
			o->transport = before;
			return;
		}
	}
}

/* "name/MX" items stand for the MX hosts of name, in preference order (equal preferences in
 * random order), each keeping its MX value. */
static route_rc expand_mx_items(route_ctx *c, route_host **list, bool drop_missing, sv *failed)
{
	for (route_host **pp = list; *pp;) {
		route_host *h = *pp;
		if (h->name.len < 4 || strncasecmp(h->name.p + h->name.len - 3, "/mx", 3) != 0) {
			pp = &h->next;
			continue;
		}
		sv name = sv_sub(h->name, 0, h->name.len - 3);
		dns_answer ans;
		dns_rc rc = dns_lookup(c->a, name, DNS_T_MX, &ans);
		if (rc == DNS_AGAIN) {
			*failed = name;
			return ROUTE_DEFER;
		}
		route_host *mx = NULL;
		for (const dns_rr *rr = rc == DNS_SUCCEED ? ans.rrs : NULL; rr; rr = rr->next) {
			if (rr->type != DNS_T_MX || !rr->text.len)
				continue;
			route_host *n = arena_calloc(c->a, 1, sizeof *n);
			n->name = rr->text;
			n->mx = rr->pref;
			n->port = h->port;
			route_host **ins = &mx;
			while (*ins && (*ins)->mx < n->mx)
				ins = &(*ins)->next;
			size_t equal = 0;
			for (route_host *e = *ins; e && e->mx == n->mx; e = e->next)
				equal++;
			for (size_t skip = route_random((unsigned)equal + 1); skip > 0; skip--)
				ins = &(*ins)->next;
			n->next = *ins;
			*ins = n;
		}
		if (!mx) {
			/* No MX records: the host is not found (host_find_failed decides). */
			if (drop_missing) {
				*pp = h->next;
				continue;
			}
			*failed = name;
			return ROUTE_FAIL;
		}
		route_host *last = mx;
		while (last->next)
			last = last->next;
		last->next = h->next;
		*pp = mx;
		pp = &last->next;
	}
	return ROUTE_OK;
}

static void shuffle(route_host **list)
{
	size_t n = 0;
	for (route_host *h = *list; h; h = h->next)
		n++;
	if (n < 2)
		return;
	route_host *arr[n];
	size_t i = 0;
	for (route_host *h = *list; h; h = h->next)
		arr[i++] = h;
	for (i = n - 1; i > 0; i--) {
		size_t j = route_random((unsigned)i + 1);
		route_host *t = arr[i];
		arr[i] = arr[j];
		arr[j] = t;
	}
	for (i = 0; i + 1 < n; i++)
		arr[i]->next = arr[i + 1];
	arr[n - 1]->next = NULL;
	*list = arr[0];
}

/* The host list text and options that apply to the address; false: none (decline). */
static route_rc find_route(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env,
	sv *hostlist, sv *options)
{
	const struct manualroute_router_options *o = r->priv;
	xbuf err;
	xbuf_init(&err, c->a);
	if (o->route_data) {
		sv data;
		int xr = route_expand(env, o->route_data, &data, &err);
		if (xr == XP_FORCEFAIL)
			return ROUTE_DECLINE;
		if (xr != XP_OK) {
			a->message = sv_cstr(arena_printf(c->a, "failed to expand \"%s\": %s", o->route_data,
				xbuf_cstr(&err)));
			return ROUTE_DEFER;
		}
		sv rest = data;
		if (!next_word(c->a, &rest, hostlist))
			return ROUTE_DECLINE;
		*options = rest;
		return ROUTE_OK;
	}
	if (!o->route_list)
		return ROUTE_DECLINE;
	list_iter it;
	list_iter_init(&it, sv_cstr(o->route_list), ';');
	xbuf item;
	xbuf_init(&item, c->a);
	while (list_next(&it, &item)) {
		sv rest = sv_copy(c->a, xbuf_sv(&item)), pattern, hl = SV_LIT("");
		if (!next_word(c->a, &rest, &pattern))
			continue;
		/* The pattern is expanded as list items are (a regex needs "\\$"). */
		sv xpattern;
		if (route_expand(env, sv_dup(c->a, pattern), &xpattern, &err) != XP_OK) {
			log_write(LOG_MAIN | LOG_PANIC, "failed to expand \"" SV_FMT "\" while checking a list: %s",
				SV_ARG(pattern), xbuf_cstr(&err));
			a->message = SV_LIT("lookup defer in route_list");
			return ROUTE_DEFER;
		}
		int mr = match_isinlist(a->domain, xpattern, 1, MATCH_DOMAIN, true, NULL, &err);
		if (mr == SEARCH_DEFER) {
			a->message = sv_copy(c->a, xbuf_sv(&err));
			return ROUTE_DEFER;
		}
		if (mr != SEARCH_OK)
			continue;
		/* $0, $1... from a wildcard or regex pattern are visible while the host list expands. */
		sv nums[XP_MAX_NUMERIC], saved[XP_MAX_NUMERIC];
		int saved_n = env->nnumeric;
		memcpy(saved, env->numeric, sizeof saved);
		size_t nn = match_last_numeric(nums, XP_MAX_NUMERIC);
		for (size_t k = 0; k < nn; k++)
			env->numeric[k] = sv_copy(c->a, nums[k]);
		env->nnumeric = (int)nn;
		sv raw;
		if (next_word(c->a, &rest, &raw)) {
			int xr = route_expand(env, sv_dup(c->a, raw), &hl, &err);
			if (xr != XP_OK) {
				/* The caller's $0.. come back (the ACL that is verifying may use them). */
				memcpy(env->numeric, saved, sizeof saved);
				env->nnumeric = saved_n;
			}
			if (xr == XP_FORCEFAIL)
				continue;
			if (xr != XP_OK) {
				a->message = sv_cstr(arena_printf(c->a, "%s router: failed to expand \"" SV_FMT "\": %s", r->name,
					SV_ARG(raw), xbuf_cstr(&err)));
				return ROUTE_DEFER;
			}
		}
		memcpy(env->numeric, saved, sizeof saved);
		env->nnumeric = saved_n;
		*hostlist = hl;
		*options = rest;
		return ROUTE_OK;
	}
	return ROUTE_DECLINE;
}

static route_rc manualroute_route(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env)
{
	const struct manualroute_router_options *o = r->priv;
	sv hostlist = SV_NULL, options = SV_NULL;
	route_rc rc = find_route(r, a, c, env, &hostlist, &options);
	if (rc != ROUTE_OK)
		return rc;
	mr_opts mo = { .how = ROUTE_LOOKUP_DEFAULT, .randomize = o->hosts_randomize };
	parse_options(c->a, options, &mo);
	route_host *hosts = NULL, **tail = &hosts;
	list_iter it;
	list_iter_init(&it, hostlist, 0);
	xbuf item;
	xbuf_init(&item, c->a);
	while (list_next(&it, &item)) {
		*tail = route_host_parse(c->a, sv_copy(c->a, xbuf_sv(&item)));
		tail = &(*tail)->next;
	}
	if (mo.randomize)
		shuffle(&hosts);
	rc = route_generic_props(c, r, a, env);
	if (rc != ROUTE_OK)
		return rc;
	if (mo.transport.len) {
		a->transport = NULL;
		for (const driver_instance *d = conf_driver_instances("transports"); d; d = d->next)
			if (sv_eq_cstr(mo.transport, d->name))
				a->transport = d->name;
		if (!a->transport) {
			const char *why = arena_printf(c->a, "unknown routing option or transport name \"" SV_FMT "\"",
				SV_ARG(mo.transport));
			route_log(c, LOG_MAIN, "Error in %s router: %s", r->name, why);
			a->message = sv_cstr(arena_printf(c->a, "error in router: %s", why));
			return ROUTE_DEFER;
		}
	} else if ((rc = route_set_transport(c, r, a, env)) != ROUTE_OK) {
		return rc;
	}
	if (!hosts)
		return ROUTE_OK; /* a local transport: the host list only sets $host */
	bool ignore_failed = o->host_find_failed && strcmp(o->host_find_failed, "ignore") == 0;
	sv failed = SV_NULL, ignore_list = route_ignore_list(c, r, env);
	rc = expand_mx_items(c, &hosts, ignore_failed, &failed);
	if (rc == ROUTE_OK)
		rc = route_hosts_find(c->a, &hosts, mo.how, ignore_list,
			ignore_failed ? ROUTE_MISSING_DROP : ROUTE_MISSING_FAIL, &failed);
	if (rc != ROUTE_OK) {
		const char *hff = o->host_find_failed ? o->host_find_failed : "freeze";
		a->message = sv_cstr(arena_printf(c->a, "lookup of host \"" SV_FMT "\" failed in %s router",
			SV_ARG(failed), r->name));
		if (rc == ROUTE_DEFER || strcmp(hff, "defer") == 0 || strcmp(hff, "freeze") == 0)
			return ROUTE_DEFER;
		if (strcmp(hff, "decline") == 0 || strcmp(hff, "pass") == 0) {
			/* Exim leaves the host list (the failed host without an address) on the address,
			 * and later routers' -bt output shows it. */
			a->message = SV_NULL;
			a->hosts = hosts;
			a->keep_hosts = true;
			return strcmp(hff, "pass") == 0 ? ROUTE_PASS : ROUTE_DECLINE;
		}
		return ROUTE_FAIL;
	}
	if (!hosts) {
		const char *hai = o->host_all_ignored ? o->host_all_ignored : "defer";
		a->message = sv_cstr(arena_printf(c->a, "lookup failed for all hosts in %s router: host_find_failed=%s "
			"host_all_ignored=%s", r->name, o->host_find_failed ? o->host_find_failed : "freeze", hai));
		if (strcmp(hai, "decline") == 0)
			return ROUTE_DECLINE;
		if (strcmp(hai, "pass") == 0)
			return ROUTE_PASS;
		if (strcmp(hai, "fail") == 0)
			return ROUTE_FAIL;
		return ROUTE_DEFER;
	}
	a->hosts = hosts;
	if (route_hosts_local_check(&a->hosts)) {
		rc = route_self_action(c, r, a, a->domain, "remote host address is the local host");
		if (rc != ROUTE_OK)
			return rc;
	}
	const char *fb = route_opt_str(r, "fallback_hosts");
	if (fb)
		a->fallback_hosts = sv_cstr(fb);
	return ROUTE_OK;
}

const router_ops manualroute_route_ops = { .route = manualroute_route };
