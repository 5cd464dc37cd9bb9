/* Generic authenticator options (Exim 4.96 "SMTP authentication") and their defaults. */
#ifndef POSTERN_DRIVERS_AUTHS_AUTH_H
#define POSTERN_DRIVERS_AUTHS_AUTH_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct auth_generic {
	const char *client_condition;
	const char *client_set_id;
	const char *driver;
	const char *public_name;  /* defaults to the instance name: set by driver_instance_init */
	const char *server_advertise_condition;
	const char *server_condition;
	const char *server_debug_print;
	const char *server_mail_auth_condition;
	const char *server_set_id;
};

#define AUTH_GENERIC_NOPTIONS 9
extern const opt_row auth_generic_options[AUTH_GENERIC_NOPTIONS];  /* sorted by name */
extern const struct auth_generic auth_generic_defaults;

#endif
