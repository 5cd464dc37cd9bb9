/* The router class: generic option table plus every router driver Postern knows. */
#include <stddef.h>

#include "drivers/driver_check.h"
#include "drivers/driver_init.h"
#include "drivers/routers/router.h"
#include "drivers/routers/accept.h"
#include "drivers/routers/dnslookup.h"
#include "drivers/routers/ipliteral.h"
#include "drivers/routers/iplookup.h"
#include "drivers/routers/manualroute.h"
#include "drivers/routers/queryprogram.h"
#include "drivers/routers/redirect.h"

static const driver_info *const router_drivers[] = {
	&accept_router_info,
	&dnslookup_router_info,
	&ipliteral_router_info,
	&iplookup_router_info,
	&manualroute_router_info,
	&queryprogram_router_info,
	&redirect_router_info,
	NULL,
};

const driver_class router_class = {
	.section = "routers",
	.kind = "router",
	.generic = router_generic_options,
	.ngeneric = ROUTER_GENERIC_NOPTIONS,
	.generic_size = sizeof(struct router_generic),
	.generic_defaults = &router_generic_defaults,
	.driver_name_offset = offsetof(struct router_generic, driver),
	.instance_init = driver_instance_init,
	.instance_check = driver_instance_check,
	.drivers = router_drivers,
};
