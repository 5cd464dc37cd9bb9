/* queryprogram router: private options (Exim 4.96 "The queryprogram router"). */
#include "drivers/routers/queryprogram.h"
#include "drivers/routers/route_ops.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct queryprogram_router_options, field)

static const opt_row queryprogram_router_rows[] = {
	ROW("command",           OPT_STRING,      0, command),
	ROW("command_group",     OPT_GID,         0, command_group),
	ROW("command_user",      OPT_UID,         0, command_user),
	ROW("current_directory", OPT_STRING,      0, current_directory),
	ROW("timeout",           OPT_TIME,        0, timeout),
};

static const struct queryprogram_router_options queryprogram_router_defaults = {
	.command_group = (gid_t)-1,
	.command_user = (uid_t)-1,
	.current_directory = "/",
	.timeout = 3600,
};

const driver_info queryprogram_router_info = {
	.name = "queryprogram",
	.ops = &queryprogram_route_ops,
	.options = queryprogram_router_rows,
	.noptions = sizeof queryprogram_router_rows / sizeof queryprogram_router_rows[0],
	.block_size = sizeof(struct queryprogram_router_options),
	.defaults = &queryprogram_router_defaults,
};
