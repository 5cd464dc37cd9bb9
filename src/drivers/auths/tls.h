/* tls authenticator: private options. */
#ifndef POSTERN_DRIVERS_AUTHS_TLS_H
#define POSTERN_DRIVERS_AUTHS_TLS_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct tls_auth_options {
	const char *server_param1;  /* also set as "server_param" */
	const char *server_param2;
	const char *server_param3;
};

extern const driver_info tls_auth_info;

#endif
