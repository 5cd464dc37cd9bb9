/* queryprogram router: private options (Exim 4.96 "The queryprogram router"). */
#ifndef POSTERN_DRIVERS_ROUTERS_QUERYPROGRAM_H
#define POSTERN_DRIVERS_ROUTERS_QUERYPROGRAM_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct queryprogram_router_options {
	const char *command;
	gid_t command_group;
	uid_t command_user;
	const char *current_directory;
	int timeout;
};

extern const driver_info queryprogram_router_info;

#endif
