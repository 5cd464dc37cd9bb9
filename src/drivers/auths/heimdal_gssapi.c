/* heimdal_gssapi authenticator: private options (Exim 4.96 "The heimdal_gssapi authenticator"; not in Debian's build). */
#include "drivers/auths/heimdal_gssapi.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct heimdal_gssapi_auth_options, field)

static const opt_row heimdal_gssapi_auth_rows[] = {
	ROW("server_hostname", OPT_STRING,      0, server_hostname),
	ROW("server_keytab",   OPT_STRING,      0, server_keytab),
	ROW("server_service",  OPT_STRING,      0, server_service),
};

static const struct heimdal_gssapi_auth_options heimdal_gssapi_auth_defaults = {
	.server_hostname = "$primary_hostname",
	.server_service = "smtp",
};

const driver_info heimdal_gssapi_auth_info = {
	.name = "heimdal_gssapi",
	.options = heimdal_gssapi_auth_rows,
	.noptions = sizeof heimdal_gssapi_auth_rows / sizeof heimdal_gssapi_auth_rows[0],
	.block_size = sizeof(struct heimdal_gssapi_auth_options),
	.defaults = &heimdal_gssapi_auth_defaults,
};
