/* external authenticator: private options. */
#include "drivers/auths/external.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct external_auth_options, field)

static const opt_row external_auth_rows[] = {
	ROW("client_send",   OPT_STRING,      0, client_send),
	ROW("server_param2", OPT_STRING,      0, server_param2),
	ROW("server_param3", OPT_STRING,      0, server_param3),
};

static const struct external_auth_options external_auth_defaults;

const driver_info external_auth_info = {
	.name = "external",
	.options = external_auth_rows,
	.noptions = sizeof external_auth_rows / sizeof external_auth_rows[0],
	.block_size = sizeof(struct external_auth_options),
	.defaults = &external_auth_defaults,
};
