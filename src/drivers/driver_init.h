/* Values Exim derives when it initialises a driver instance.
 *
 * Some options have no fixed default: Exim fills them in from the driver type or from other
 * options once an instance's block has been read (an accept router logs as local, a local
 * transport keys retries on the local part, an authenticator's public_name is its instance
 * name, appendfile picks its mbox separators only for plain files...). -bP shows the derived
 * values, so the configuration reader calls driver_instance_init() after reading each instance.
 */
#ifndef POSTERN_DRIVERS_DRIVER_INIT_H
#define POSTERN_DRIVERS_DRIVER_INIT_H

#include <stdbool.h>

#include "conf/driver.h"


/* Fill in the derived values of d, whose generic and private blocks have been read.
 * was_set may be NULL: every boolean then counts as not explicitly set. */
void driver_instance_init(const driver_class *cls, driver_instance *d, driver_option_was_set *was_set,
	void *ctx);

#endif
