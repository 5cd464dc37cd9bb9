/* cram_md5 authenticator: private options. */
#ifndef POSTERN_DRIVERS_AUTHS_CRAM_MD5_H
#define POSTERN_DRIVERS_AUTHS_CRAM_MD5_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct cram_md5_auth_options {
	const char *client_name;
	const char *client_secret;
	const char *server_secret;
};

extern const driver_info cram_md5_auth_info;

#endif
