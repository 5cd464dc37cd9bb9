/* accept router: no private options. */
#include "drivers/routers/accept.h"
#include "drivers/routers/route_ops.h"

/* No private block: the generic options are all this driver has. */
const driver_info accept_router_info = {
	.name = "accept",
	.ops = &accept_route_ops,
};
