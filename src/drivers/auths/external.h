/* external authenticator: private options. */
#ifndef POSTERN_DRIVERS_AUTHS_EXTERNAL_H
#define POSTERN_DRIVERS_AUTHS_EXTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct external_auth_options {
	const char *client_send;
	const char *server_param2;
	const char *server_param3;
};

extern const driver_info external_auth_info;

#endif
