/* spa authenticator: private options. */
#ifndef POSTERN_DRIVERS_AUTHS_SPA_H
#define POSTERN_DRIVERS_AUTHS_SPA_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct spa_auth_options {
	const char *client_domain;
	const char *client_password;
	const char *client_username;
	const char *server_password;
};

extern const driver_info spa_auth_info;

#endif
