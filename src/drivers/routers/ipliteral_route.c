/* ipliteral router behaviour (Exim 4.96 "The ipliteral router"): a domain that is an IP
 * address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]") is routed to that address. */
#include <string.h>

#include "drivers/routers/route_ops.h"
#include "lib/ip.h"

static route_rc ipliteral_route(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env)
{
	sv d = a->domain;
	if (d.len < 3 || d.p[0] != '[' || d.p[d.len - 1] != ']')
		return ROUTE_DECLINE;
	sv lit = sv_sub(d, 1, d.len - 2);
	if (lit.len > 5 && strncasecmp(lit.p, "ipv6:", 5) == 0)
		lit = sv_sub(lit, 5, lit.len);
	ip_addr ip;
	if (!ip_parse(lit, &ip))
		return ROUTE_DECLINE;
	route_host *h = arena_calloc(c->a, 1, sizeof *h);
	h->name = d;
	h->address = sv_copy(c->a, lit);
	h->mx = -1;
	h->port = -1;
	sv ignore = route_ignore_list(c, r, env);
	if (ignore.len && !route_hosts_ignore(&h, ignore, env)) {
		a->message = SV_LIT("IP literal host explicitly ignored");
		return ROUTE_DECLINE;
	}
	a->hosts = h;
	if (route_hosts_local_check(&a->hosts)) {
		a->hosts = h;
		route_rc rc = route_self_action(c, r, a, a->domain, "remote host address is the local host");
		if (rc != ROUTE_OK)
			return rc;
	}
	route_rc rc = route_generic_props(c, r, a, env);
	if (rc != ROUTE_OK)
		return rc;
	return route_set_transport(c, r, a, env);
}

const router_ops ipliteral_route_ops = { .route = ipliteral_route };
