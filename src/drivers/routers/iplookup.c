/* iplookup router: private options (Exim 4.96 "The iplookup router"). */
#include "drivers/routers/iplookup.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct iplookup_router_options, field)

static const opt_row iplookup_router_rows[] = {
	ROW("hosts",            OPT_STRING,      0, hosts),
	ROW("optional",         OPT_BOOL,        0, optional),
	ROW("port",             OPT_INT,         0, port),
	ROW("protocol",         OPT_STRING,      0, protocol),
	ROW("query",            OPT_STRING,      0, query),
	ROW("reroute",          OPT_STRING,      0, reroute),
	ROW("response_pattern", OPT_STRING,      0, response_pattern),
	ROW("timeout",          OPT_TIME,        0, timeout),
};

static const struct iplookup_router_options iplookup_router_defaults = {
	.timeout = 5,
};

const driver_info iplookup_router_info = {
	.name = "iplookup",
	.options = iplookup_router_rows,
	.noptions = sizeof iplookup_router_rows / sizeof iplookup_router_rows[0],
	.block_size = sizeof(struct iplookup_router_options),
	.defaults = &iplookup_router_defaults,
};
