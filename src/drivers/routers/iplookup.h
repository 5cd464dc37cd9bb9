/* iplookup router: private options (Exim 4.96 "The iplookup router"). */
#ifndef POSTERN_DRIVERS_ROUTERS_IPLOOKUP_H
#define POSTERN_DRIVERS_ROUTERS_IPLOOKUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct iplookup_router_options {
	const char *hosts;
	bool optional;
	int port;
	const char *protocol;  /* unset means udp (Exim shows it unset) */
	const char *query;
	const char *reroute;
	const char *response_pattern;
	int timeout;
};

extern const driver_info iplookup_router_info;

#endif
