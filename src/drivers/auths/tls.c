/* tls authenticator: private options. */
#include "drivers/auths/tls.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct tls_auth_options, field)

static const opt_row tls_auth_rows[] = {
	ROW("server_param",  OPT_STRING,      0, server_param1),  /* synonym */
	ROW("server_param1", OPT_STRING,      0, server_param1),
	ROW("server_param2", OPT_STRING,      0, server_param2),
	ROW("server_param3", OPT_STRING,      0, server_param3),
};

static const struct tls_auth_options tls_auth_defaults;

const driver_info tls_auth_info = {
	.name = "tls",
	.options = tls_auth_rows,
	.noptions = sizeof tls_auth_rows / sizeof tls_auth_rows[0],
	.block_size = sizeof(struct tls_auth_options),
	.defaults = &tls_auth_defaults,
};
