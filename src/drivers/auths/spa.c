/* spa authenticator: private options. */
#include "drivers/auths/spa.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct spa_auth_options, field)

static const opt_row spa_auth_rows[] = {
	ROW("client_domain",   OPT_STRING,      0, client_domain),
	ROW("client_password", OPT_STRING,      0, client_password),
	ROW("client_username", OPT_STRING,      0, client_username),
	ROW("server_password", OPT_STRING,      0, server_password),
};

static const struct spa_auth_options spa_auth_defaults;

const driver_info spa_auth_info = {
	.name = "spa",
	.options = spa_auth_rows,
	.noptions = sizeof spa_auth_rows / sizeof spa_auth_rows[0],
	.block_size = sizeof(struct spa_auth_options),
	.defaults = &spa_auth_defaults,
};
