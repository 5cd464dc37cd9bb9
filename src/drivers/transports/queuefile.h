/* queuefile transport (EXPERIMENTAL_QUEUEFILE): private options. */
#ifndef POSTERN_DRIVERS_TRANSPORTS_QUEUEFILE_H
#define POSTERN_DRIVERS_TRANSPORTS_QUEUEFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct queuefile_transport_options {
	const char *directory;  /* required; expanded */
};

extern const driver_info queuefile_transport_info;

#endif
