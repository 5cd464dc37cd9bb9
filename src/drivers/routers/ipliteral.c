/* ipliteral router: no private options. */
#include "drivers/routers/ipliteral.h"

/* No private block: the generic options are all this driver has. */
const driver_info ipliteral_router_info = {
	.name = "ipliteral",
};
