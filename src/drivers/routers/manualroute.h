/* manualroute router: private options (Exim 4.96 "The manualroute router"). */
#ifndef POSTERN_DRIVERS_ROUTERS_MANUALROUTE_H
#define POSTERN_DRIVERS_ROUTERS_MANUALROUTE_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct manualroute_router_options {
	const char *host_all_ignored;
	const char *host_find_failed;
	bool hosts_randomize;
	const char *route_data;
	const char *route_list;
	bool same_domain_copy_routing;
};

extern const driver_info manualroute_router_info;

#endif
