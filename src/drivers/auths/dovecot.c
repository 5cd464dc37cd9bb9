/* dovecot authenticator: private options. */
#include "drivers/auths/dovecot.h"
#include "drivers/auths/auth_servers.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct dovecot_auth_options, field)

static const opt_row dovecot_auth_rows[] = {
	ROW("server_socket", OPT_STRING,      0, server_socket),
	ROW("server_tls",    OPT_BOOL,        OPTF_HIDDEN, server_tls),
};

static const struct dovecot_auth_options dovecot_auth_defaults;

const driver_info dovecot_auth_info = {
	.name = "dovecot",
	.options = dovecot_auth_rows,
	.noptions = sizeof dovecot_auth_rows / sizeof dovecot_auth_rows[0],
	.block_size = sizeof(struct dovecot_auth_options),
	.defaults = &dovecot_auth_defaults,
	.ops = &dovecot_auth_ops,
};
