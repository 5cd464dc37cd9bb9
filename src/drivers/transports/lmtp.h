/* lmtp transport: private options (Exim 4.96 "The lmtp transport"). */
#ifndef POSTERN_DRIVERS_TRANSPORTS_LMTP_H
#define POSTERN_DRIVERS_TRANSPORTS_LMTP_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct lmtp_transport_options {
	const char *batch_id;
	int batch_max;
	const char *command;
	bool ignore_quota;
	const char *socket;
	int timeout;
};

extern const driver_info lmtp_transport_info;

#endif
