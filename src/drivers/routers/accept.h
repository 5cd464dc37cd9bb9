/* accept router: no private options. */
#ifndef POSTERN_DRIVERS_ROUTERS_ACCEPT_H
#define POSTERN_DRIVERS_ROUTERS_ACCEPT_H

#include "conf/driver.h"

extern const driver_info accept_router_info;

#endif
