/* plaintext authenticator: private options. */
#ifndef POSTERN_DRIVERS_AUTHS_PLAINTEXT_H
#define POSTERN_DRIVERS_AUTHS_PLAINTEXT_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct plaintext_auth_options {
	bool client_ignore_invalid_base64;
	const char *client_send;
	const char *server_prompts;
};

extern const driver_info plaintext_auth_info;

#endif
