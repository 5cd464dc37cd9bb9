/* plaintext authenticator: private options. */
#include "drivers/auths/plaintext.h"
#include "drivers/auths/auth_servers.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct plaintext_auth_options, field)

static const opt_row plaintext_auth_rows[] = {
	ROW("client_ignore_invalid_base64", OPT_BOOL,        0, client_ignore_invalid_base64),
	ROW("client_send",                  OPT_STRING,      0, client_send),
	ROW("server_prompts",               OPT_STRING,      0, server_prompts),
};

static const struct plaintext_auth_options plaintext_auth_defaults;

const driver_info plaintext_auth_info = {
	.name = "plaintext",
	.options = plaintext_auth_rows,
	.noptions = sizeof plaintext_auth_rows / sizeof plaintext_auth_rows[0],
	.block_size = sizeof(struct plaintext_auth_options),
	.defaults = &plaintext_auth_defaults,
	.ops = &plaintext_auth_ops,
};
