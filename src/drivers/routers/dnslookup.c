/* dnslookup router: private options (Exim 4.96 "The dnslookup router"). */
#include "drivers/routers/dnslookup.h"
#include "drivers/routers/route_ops.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct dnslookup_router_options, field)

static const opt_row dnslookup_router_rows[] = {
	ROW("check_secondary_mx",       OPT_BOOL,        0, check_secondary_mx),
	ROW("check_srv",                OPT_STRING,      0, check_srv),
	ROW("fail_defer_domains",       OPT_STRING,      0, fail_defer_domains),
	ROW("ipv4_only",                OPT_STRING,      0, ipv4_only),
	ROW("ipv4_prefer",              OPT_STRING,      0, ipv4_prefer),
	ROW("mx_domains",               OPT_STRING,      0, mx_domains),
	ROW("mx_fail_domains",          OPT_STRING,      0, mx_fail_domains),
	ROW("qualify_single",           OPT_BOOL,        0, qualify_single),
	ROW("rewrite_headers",          OPT_BOOL,        0, rewrite_headers),
	ROW("same_domain_copy_routing", OPT_BOOL,        0, same_domain_copy_routing),
	ROW("search_parents",           OPT_BOOL,        0, search_parents),
	ROW("srv_fail_domains",         OPT_STRING,      0, srv_fail_domains),
	ROW("widen_domains",            OPT_STRING,      0, widen_domains),
};

static const struct dnslookup_router_options dnslookup_router_defaults = {
	.qualify_single = true,
	.rewrite_headers = true,
};

const driver_info dnslookup_router_info = {
	.name = "dnslookup",
	.ops = &dnslookup_route_ops,
	.options = dnslookup_router_rows,
	.noptions = sizeof dnslookup_router_rows / sizeof dnslookup_router_rows[0],
	.block_size = sizeof(struct dnslookup_router_options),
	.defaults = &dnslookup_router_defaults,
};
