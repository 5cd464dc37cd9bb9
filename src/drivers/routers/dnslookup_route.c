/* dnslookup router behaviour (Exim 4.96 "The dnslookup router"): SRV (check_srv), then MX,
 * then address records of the domain itself, through src/core/dns.h; widen_domains,
 * mx_domains, mx_fail_domains, srv_fail_domains, fail_defer_domains, null MX (RFC 7505), and
 * the self check. qualify_single / search_parents are resolver search options: our resolver
 * does not search, so they have no effect. */
#include <string.h>

#include "core/dns.h"
#include "drivers/routers/dnslookup.h"
#include "drivers/routers/route_ops.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "search/match.h"
#include "search/search.h"

static bool in_option_list(xp_env *env, const char *list, sv domain)
{
	if (!list)
		return false;
	xbuf err, out;
	xbuf_init(&err, env->a);
	xbuf_init(&out, env->a);
	if (xp_expand(env, sv_cstr(list), &out, &err) != XP_OK)
		return false;
	return match_isinlist(domain, xbuf_sv(&out), 0, MATCH_DOMAIN, true, NULL, &err) == SEARCH_OK;
}

/* Hosts from MX or SRV records, sorted by preference; hosts of equal preference are put in a
 * random order, as Exim does to share load. */
static route_host *hosts_from_records(arena *a, const dns_rr *rrs, int type)
{
	route_host *list = NULL;
	for (const dns_rr *rr = rrs; rr; rr = rr->next) {
		if (rr->type != type)
			continue;
		route_host *h = arena_calloc(a, 1, sizeof *h);
		h->name = rr->text;
		h->mx = rr->pref;
		h->port = type == DNS_T_SRV ? rr->port : -1;
		route_host **pp = &list;
		while (*pp && (*pp)->mx < h->mx)
			pp = &(*pp)->next;
		/* Among equals, insert at a random position (a uniform shuffle as they arrive). */
		size_t equal = 0;
		for (route_host *e = *pp; e && e->mx == h->mx; e = e->next)
			equal++;
		for (size_t skip = route_random((unsigned)equal + 1); skip > 0; skip--)
			pp = &(*pp)->next;
		h->next = *pp;
		*pp = h;
	}
	return list;
}

/* Look up one name: hosts (with addresses) or a DNS outcome. */
static dns_rc lookup_domain(route_ctx *c, const struct dnslookup_router_options *o, xp_env *env, sv domain,
	route_host **hosts, bool *null_mx, sv *fail_host)
{
	*hosts = NULL;
	*null_mx = false;
	dns_answer ans;
	if (o->check_srv) {
		xbuf svc, err, name;
		xbuf_init(&svc, c->a);
		xbuf_init(&err, c->a);
		xbuf_init(&name, c->a);
		if (xp_expand(env, sv_cstr(o->check_srv), &svc, &err) == XP_OK && svc.len) {
			xbuf_printf(&name, "_" SV_FMT "._tcp." SV_FMT, SV_ARG(xbuf_sv(&svc)), SV_ARG(domain));
			dns_rc rc = dns_lookup(c->a, xbuf_sv(&name), DNS_T_SRV, &ans);
			if (rc == DNS_SUCCEED) {
				*hosts = hosts_from_records(c->a, ans.rrs, DNS_T_SRV);
				if (*hosts && (*hosts)->name.len == 0)
					return DNS_NOMATCH; /* "." target: no service here, the router declines */
			} else if ((rc == DNS_AGAIN || rc == DNS_FAIL) && !in_option_list(env, o->srv_fail_domains, domain)) {
				return DNS_AGAIN;
			}
		}
	}
	if (!*hosts) {
		/* A name no query can carry is a DNS failure here (observed: Exim 4.96 defers a
		 * 64-octet label, "host lookup did not complete"), not a "not found". */
		dns_rc rc = dns_name_queryable(domain) ? dns_lookup(c->a, domain, DNS_T_MX, &ans) : DNS_FAIL;
		if (rc == DNS_AGAIN || rc == DNS_FAIL) {
			if (!in_option_list(env, o->mx_fail_domains, domain))
				return DNS_AGAIN;
			rc = DNS_NODATA;
		}
		if (rc == DNS_NOMATCH)
			return DNS_NOMATCH;
		if (rc == DNS_SUCCEED) {
			*hosts = hosts_from_records(c->a, ans.rrs, DNS_T_MX);
			if (*hosts && (*hosts)->name.len == 0) {
				*null_mx = true;
				return DNS_SUCCEED;
			}
		} else {
			if (in_option_list(env, o->mx_domains, domain))
				return DNS_NODATA;
			route_host *h = arena_calloc(c->a, 1, sizeof *h);
			h->name = domain;
			h->mx = -1;
			h->port = -1;
			*hosts = h;
		}
	}
	route_rc rr = route_hosts_find(c->a, hosts, ROUTE_LOOKUP_BYDNS, SV_NULL,
		(*hosts)->mx >= 0 ? ROUTE_MISSING_KEEP : ROUTE_MISSING_FAIL, fail_host);
	if (rr == ROUTE_DEFER)
		return DNS_AGAIN;
	if (rr != ROUTE_OK || !*hosts)
		return (*hosts == NULL && rr == ROUTE_OK) ? DNS_NODATA : DNS_NOMATCH;
	return DNS_SUCCEED;
}

/* dnssec_require_domains: every record the route rests on must be validated (the AD bit). */
static bool lookup_secure(route_ctx *c, sv domain, const route_host *hosts, bool null_mx)
{
	dns_opts o = DNS_OPTS_DEFAULT;
	o.dnssec = 1;
	dns_answer ans;
	bool from_mx = null_mx || (hosts && hosts->mx >= 0);
	if (from_mx && (dns_lookup_opts(c->a, domain, DNS_T_MX, &o, &ans) != DNS_SUCCEED || !ans.authentic))
		return false;
	for (const route_host *h = hosts; h; h = h->next) {
		if (h->unusable)
			continue;
		bool any = false;
		static const int types[2] = { DNS_T_A, DNS_T_AAAA };
		for (int t = 0; t < 2; t++)
			if (dns_lookup_opts(c->a, h->name, types[t], &o, &ans) == DNS_SUCCEED) {
				if (!ans.authentic)
					return false;
				any = true;
			}
		if (!any)
			return false;
	}
	return true;
}

static route_rc dnslookup_route(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env)
{
	const struct dnslookup_router_options *o = r->priv;
	sv d = a->domain;
	if (d.len && d.p[0] == '[') {
		/* Domain literals are ipliteral's; the text stays if no later router takes it. */
		a->message = sv_cstr(arena_printf(c->a, "mail domain \"%.*s\" is syntactically invalid", SV_ARG(d)));
		return ROUTE_DECLINE;
	}
	route_host *hosts = NULL;
	bool null_mx = false;
	sv fail_host = SV_NULL;
	dns_rc rc = lookup_domain(c, o, env, d, &hosts, &null_mx, &fail_host);
	/* widen_domains: "a.b" not found is tried as "a.b.<item>" for each item in turn. */
	if (rc == DNS_NOMATCH && o->widen_domains) {
		list_iter it;
		list_iter_init(&it, sv_cstr(o->widen_domains), 0);
		xbuf item;
		xbuf_init(&item, c->a);
		while (rc == DNS_NOMATCH && list_next(&it, &item)) {
			xbuf wide;
			xbuf_init(&wide, c->a);
			xbuf_printf(&wide, SV_FMT "." SV_FMT, SV_ARG(d), SV_ARG(xbuf_sv(&item)));
			rc = lookup_domain(c, o, env, xbuf_sv(&wide), &hosts, &null_mx, &fail_host);
		}
	}
	/* DNSSEC is checked before the answer is used (a null MX included). */
	if ((rc == DNS_SUCCEED || null_mx) && in_option_list(env, route_opt_str(r, "dnssec_require_domains"), d) &&
		!lookup_secure(c, d, null_mx ? NULL : hosts, null_mx)) {
		a->message = SV_LIT("host lookup done insecurely");
		return ROUTE_DEFER;
	}
	if (null_mx) {
		a->message = SV_LIT("an MX or SRV record indicated no SMTP service");
		return ROUTE_FAIL;
	}
	if (rc == DNS_AGAIN) {
		if (in_option_list(env, o->fail_defer_domains, d)) {
			a->message = SV_LIT("host lookup did not complete");
			return ROUTE_FAIL;
		}
		a->message = SV_LIT("host lookup did not complete");
		return ROUTE_DEFER;
	}
	if (rc != DNS_SUCCEED)
		return ROUTE_DECLINE;
	bool usable = false, from_mx = hosts && hosts->mx >= 0;
	sv ignore = route_ignore_list(c, r, env);
	if (ignore.len)
		route_hosts_ignore(&hosts, ignore, env);
	for (route_host *h = hosts; h; h = h->next)
		usable = usable || !h->unusable;

	if (!usable) {
		/* Every host is missing or ignored: the router declines (with Exim's text for MX). */
		if (from_mx)
			a->message = SV_LIT("all relevant MX records point to non-existent hosts");
		return ROUTE_DECLINE;
	}
	size_t before = 0, after = 0;
	for (route_host *h = hosts; h; h = h->next)
		before++;
	a->hosts = hosts;
	if (route_hosts_local_check(&a->hosts)) {
		a->hosts = hosts;
		route_rc sr = route_self_action(c, r, a, d, hosts->mx >= 0 ? "lowest numbered MX record points to local host"
			: "remote host address is the local host");
		if (sr != ROUTE_OK)
			return sr;
	} else {
		for (route_host *h = a->hosts; h; h = h->next)
			after++;
		/* check_secondary_mx: decline unless this host was found (and removed) in the MX list. */
		if (o->check_secondary_mx && after == before)
			return ROUTE_DECLINE;
	}
	route_rc gr = route_generic_props(c, r, a, env);
	if (gr != ROUTE_OK)
		return gr;
	gr = route_set_transport(c, r, a, env);
	if (gr != ROUTE_OK)
		return gr;
	const char *fb = route_opt_str(r, "fallback_hosts");
	if (fb)
		a->fallback_hosts = sv_cstr(fb);
	return ROUTE_OK;
}

const router_ops dnslookup_route_ops = { .route = dnslookup_route };
