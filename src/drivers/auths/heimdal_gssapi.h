/* heimdal_gssapi authenticator: private options (Exim 4.96 "The heimdal_gssapi authenticator"; not in Debian's build). */
#ifndef POSTERN_DRIVERS_AUTHS_HEIMDAL_GSSAPI_H
#define POSTERN_DRIVERS_AUTHS_HEIMDAL_GSSAPI_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct heimdal_gssapi_auth_options {
	const char *server_hostname;
	const char *server_keytab;
	const char *server_service;
};

extern const driver_info heimdal_gssapi_auth_info;

#endif
