/* dnslookup router: private options (Exim 4.96 "The dnslookup router"). */
#ifndef POSTERN_DRIVERS_ROUTERS_DNSLOOKUP_H
#define POSTERN_DRIVERS_ROUTERS_DNSLOOKUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct dnslookup_router_options {
	bool check_secondary_mx;
	const char *check_srv;
	const char *fail_defer_domains;
	const char *ipv4_only;
	const char *ipv4_prefer;
	const char *mx_domains;
	const char *mx_fail_domains;
	bool qualify_single;
	bool rewrite_headers;
	bool same_domain_copy_routing;
	bool search_parents;
	const char *srv_fail_domains;
	const char *widen_domains;
};

extern const driver_info dnslookup_router_info;

#endif
