/* gsasl authenticator: private options (Exim 4.96 "The gsasl authenticator"; not in Debian's build). */
#ifndef POSTERN_DRIVERS_AUTHS_GSASL_H
#define POSTERN_DRIVERS_AUTHS_GSASL_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct gsasl_auth_options {
	const char *client_authz;
	bool client_channelbinding;
	const char *client_password;
	const char *client_spassword;
	const char *client_username;
	bool server_channelbinding;
	const char *server_hostname;
	const char *server_key;
	const char *server_mech;  /* defaults to public_name */
	const char *server_password;
	const char *server_realm;
	const char *server_scram_iter;
	const char *server_scram_salt;
	const char *server_service;
	const char *server_skey;
};

extern const driver_info gsasl_auth_info;

#endif
