/* The routing behaviour of each router driver (src/drivers/routers/<name>_route.c), attached to
 * its driver_info through .ops. */
#ifndef POSTERN_DRIVERS_ROUTERS_ROUTE_OPS_H
#define POSTERN_DRIVERS_ROUTERS_ROUTE_OPS_H

#include "core/addr.h"

extern const router_ops accept_route_ops;
extern const router_ops dnslookup_route_ops;
extern const router_ops ipliteral_route_ops;
extern const router_ops manualroute_route_ops;
extern const router_ops queryprogram_route_ops;
extern const router_ops redirect_route_ops;

#endif
