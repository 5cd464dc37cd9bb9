/* ipliteral router: no private options. */
#ifndef POSTERN_DRIVERS_ROUTERS_IPLITERAL_H
#define POSTERN_DRIVERS_ROUTERS_IPLITERAL_H

#include "conf/driver.h"

extern const driver_info ipliteral_router_info;

#endif
