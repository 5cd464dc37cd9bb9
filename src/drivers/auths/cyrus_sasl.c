/* cyrus_sasl authenticator: private options. */
#include "drivers/auths/cyrus_sasl.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct cyrus_sasl_auth_options, field)

static const opt_row cyrus_sasl_auth_rows[] = {
	ROW("server_hostname", OPT_STRING,      0, server_hostname),
	ROW("server_mech",     OPT_STRING,      0, server_mech),
	ROW("server_realm",    OPT_STRING,      0, server_realm),
	ROW("server_service",  OPT_STRING,      0, server_service),
};

static const struct cyrus_sasl_auth_options cyrus_sasl_auth_defaults = {
	.server_hostname = "$primary_hostname",
	.server_service = "smtp",
};

const driver_info cyrus_sasl_auth_info = {
	.name = "cyrus_sasl",
	.options = cyrus_sasl_auth_rows,
	.noptions = sizeof cyrus_sasl_auth_rows / sizeof cyrus_sasl_auth_rows[0],
	.block_size = sizeof(struct cyrus_sasl_auth_options),
	.defaults = &cyrus_sasl_auth_defaults,
};
