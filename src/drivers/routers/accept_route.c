/* accept router behaviour (Exim 4.96 "The accept router"): every address that passes the
 * preconditions is accepted for the router's transport. */
#include "drivers/routers/route_ops.h"

static route_rc accept_route(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env)
{
	route_rc rc = route_generic_props(c, r, a, env);
	if (rc != ROUTE_OK)
		return rc;
	return route_set_transport(c, r, a, env);
}

const router_ops accept_route_ops = { .route = accept_route };
