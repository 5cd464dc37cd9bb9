/* gsasl authenticator: private options (Exim 4.96 "The gsasl authenticator"; not in Debian's build). */
#include "drivers/auths/gsasl.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct gsasl_auth_options, field)

static const opt_row gsasl_auth_rows[] = {
	ROW("client_authz",          OPT_STRING,      0, client_authz),
	ROW("client_channelbinding", OPT_BOOL,        0, client_channelbinding),
	ROW("client_password",       OPT_STRING,      0, client_password),
	ROW("client_spassword",      OPT_STRING,      0, client_spassword),
	ROW("client_username",       OPT_STRING,      0, client_username),
	ROW("server_channelbinding", OPT_BOOL,        0, server_channelbinding),
	ROW("server_hostname",       OPT_STRING,      0, server_hostname),
	ROW("server_key",            OPT_STRING,      0, server_key),
	ROW("server_mech",           OPT_STRING,      0, server_mech),
	ROW("server_password",       OPT_STRING,      0, server_password),
	ROW("server_realm",          OPT_STRING,      0, server_realm),
	ROW("server_scram_iter",     OPT_STRING,      0, server_scram_iter),
	ROW("server_scram_salt",     OPT_STRING,      0, server_scram_salt),
	ROW("server_service",        OPT_STRING,      0, server_service),
	ROW("server_skey",           OPT_STRING,      0, server_skey),
};

static const struct gsasl_auth_options gsasl_auth_defaults = {
	.server_hostname = "$primary_hostname",
	.server_scram_iter = "4096",
	.server_service = "smtp",
};

const driver_info gsasl_auth_info = {
	.name = "gsasl",
	.options = gsasl_auth_rows,
	.noptions = sizeof gsasl_auth_rows / sizeof gsasl_auth_rows[0],
	.block_size = sizeof(struct gsasl_auth_options),
	.defaults = &gsasl_auth_defaults,
};
