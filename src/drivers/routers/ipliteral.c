/* ipliteral router: no private options. */
#include "drivers/routers/ipliteral.h"
#include "drivers/routers/route_ops.h"

/* No private block: the generic options are all this driver has. */
const driver_info ipliteral_router_info = {
	.name = "ipliteral",
	.ops = &ipliteral_route_ops,
};
