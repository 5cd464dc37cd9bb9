/* Router options by name, for code outside the drivers (the delivery process). */
#ifndef POSTERN_CORE_ROUTE_OPTS_H
#define POSTERN_CORE_ROUTE_OPTS_H

#include <stdbool.h>

#include "conf/driver.h"

/* A boolean private option of a router instance (e.g. the redirect router's one_time); false
 * when the router's driver has no such option. */
bool route_opt_private_bool(const driver_instance *r, const char *name);

#endif
