/* manualroute router: private options (Exim 4.96 "The manualroute router"). */
#include "drivers/routers/manualroute.h"
#include "drivers/routers/route_ops.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct manualroute_router_options, field)

static const opt_row manualroute_router_rows[] = {
	ROW("host_all_ignored",         OPT_STRING,      0, host_all_ignored),
	ROW("host_find_failed",         OPT_STRING,      0, host_find_failed),
	ROW("hosts_randomize",          OPT_BOOL,        0, hosts_randomize),
	ROW("route_data",               OPT_STRING,      0, route_data),
	ROW("route_list",               OPT_STRING,      0, route_list),
	ROW("same_domain_copy_routing", OPT_BOOL,        0, same_domain_copy_routing),
};

static const struct manualroute_router_options manualroute_router_defaults = {
	.host_all_ignored = "defer",
	.host_find_failed = "freeze",
};

const driver_info manualroute_router_info = {
	.name = "manualroute",
	.ops = &manualroute_route_ops,
	.options = manualroute_router_rows,
	.noptions = sizeof manualroute_router_rows / sizeof manualroute_router_rows[0],
	.block_size = sizeof(struct manualroute_router_options),
	.defaults = &manualroute_router_defaults,
};
