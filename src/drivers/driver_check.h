/* Startup consistency checks of a driver instance, with Exim 4.96's messages.
 *
 * Exim rejects some instances when it initialises them (a router without its required
 * transport, a redirect router with both file and data, an lmtp transport with neither
 * command nor socket...). The configuration reader calls driver_instance_check() after
 * driver_instance_init(); checks that span instances (duplicate names, duplicate public
 * names) stay with the reader.
 */
#ifndef POSTERN_DRIVERS_DRIVER_CHECK_H
#define POSTERN_DRIVERS_DRIVER_CHECK_H

#include <stdbool.h>

#include "conf/driver.h"
#include "drivers/driver_init.h"
#include "lib/str.h"

/* false if d is unacceptable; err then holds Exim's whole message, lines separated by "\n"
 * and starting "Exim configuration error", without a trailing newline. was_set is the same
 * callback as for driver_instance_init (NULL: an option counts as given when its value differs
 * from what driver_instance_init derives). */
bool driver_instance_check(const driver_class *cls, const driver_instance *d,
	driver_option_was_set *was_set, void *ctx, xbuf *err);

#endif
