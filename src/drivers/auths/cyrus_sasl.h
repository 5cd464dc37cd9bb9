/* cyrus_sasl authenticator: private options. */
#ifndef POSTERN_DRIVERS_AUTHS_CYRUS_SASL_H
#define POSTERN_DRIVERS_AUTHS_CYRUS_SASL_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct cyrus_sasl_auth_options {
	const char *server_hostname;
	const char *server_mech;  /* unset: public_name (driver_instance_init) */
	const char *server_realm;
	const char *server_service;
};

extern const driver_info cyrus_sasl_auth_info;

#endif
