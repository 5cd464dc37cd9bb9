/* cram_md5 authenticator: private options. */
#include "drivers/auths/cram_md5.h"
#include "drivers/auths/auth_servers.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct cram_md5_auth_options, field)

static const opt_row cram_md5_auth_rows[] = {
	ROW("client_name",   OPT_STRING,      0, client_name),
	ROW("client_secret", OPT_STRING,      0, client_secret),
	ROW("server_secret", OPT_STRING,      0, server_secret),
};

static const struct cram_md5_auth_options cram_md5_auth_defaults;

const driver_info cram_md5_auth_info = {
	.name = "cram_md5",
	.options = cram_md5_auth_rows,
	.noptions = sizeof cram_md5_auth_rows / sizeof cram_md5_auth_rows[0],
	.block_size = sizeof(struct cram_md5_auth_options),
	.defaults = &cram_md5_auth_defaults,
	.ops = &cram_md5_auth_ops,
};
