/* dovecot authenticator: private options. */
#include "drivers/auths/dovecot.h"
#include "drivers/auths/auth_servers.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct dovecot_auth_options, field)

/* The server_tls options are Postern's (dovecot_tls.c): hidden from -bP, as Exim has none. */
static const opt_row dovecot_auth_rows[] = {
	ROW("server_socket", OPT_STRING,      0, server_socket),
	ROW("server_tls",    OPT_BOOL, OPTF_HIDDEN, server_tls),
	ROW("server_tls_certificate", OPT_STRING, OPTF_HIDDEN, server_tls_certificate),
	ROW("server_tls_privatekey", OPT_STRING, OPTF_HIDDEN, server_tls_privatekey),
	ROW("server_tls_sni", OPT_STRING, OPTF_HIDDEN, server_tls_sni),
	ROW("server_tls_verify_certificates", OPT_STRING, OPTF_HIDDEN, server_tls_verify_certificates),
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
