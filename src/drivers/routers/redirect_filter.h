/* The redirect router's filter hook (redirect_filter.c): run an Exim or Sieve filter and make
 * its actions the router's children. */
#ifndef POSTERN_DRIVERS_ROUTERS_REDIRECT_FILTER_H
#define POSTERN_DRIVERS_ROUTERS_REDIRECT_FILTER_H

#include "core/addr.h"

/* text starts with "# Exim filter" or "# Sieve filter" and the router has allow_filter.
 * Returns the router's result (children queued for ROUTE_REROUTED, and for ROUTE_DECLINE when an
 * Exim filter set up no significant delivery). */
route_rc redirect_filter(const driver_instance *r, address_item *a, route_ctx *c, xp_env *env, sv text);

#endif
