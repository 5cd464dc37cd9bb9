/* autoreply transport: private options (Exim 4.96 "The autoreply transport"). */
#include "drivers/transports/autoreply.h"
#include "drivers/transports/local_transports.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct autoreply_transport_options, field)

static const opt_row autoreply_transport_rows[] = {
	ROW("bcc",            OPT_STRING,      0, bcc),
	ROW("cc",             OPT_STRING,      0, cc),
	ROW("file",           OPT_STRING,      0, file),
	ROW("file_expand",    OPT_BOOL,        0, file_expand),
	ROW("file_optional",  OPT_BOOL,        0, file_optional),
	ROW("from",           OPT_STRING,      0, from),
	ROW("headers",        OPT_STRING,      0, headers),
	ROW("log",            OPT_STRING,      0, log),
	ROW("mode",           OPT_OCTINT,      0, mode),
	ROW("never_mail",     OPT_STRING,      0, never_mail),
	ROW("once",           OPT_STRING,      0, once),
	ROW("once_file_size", OPT_INT,         0, once_file_size),
	ROW("once_repeat",    OPT_STRING,      0, once_repeat),
	ROW("reply_to",       OPT_STRING,      0, reply_to),
	ROW("return_message", OPT_BOOL,        0, return_message),
	ROW("subject",        OPT_STRING,      0, subject),
	ROW("text",           OPT_STRING,      0, text),
	ROW("to",             OPT_STRING,      0, to),
};

static const struct autoreply_transport_options autoreply_transport_defaults = {
	.mode = 0600,
};

const driver_info autoreply_transport_info = {
	.name = "autoreply",
	.options = autoreply_transport_rows,
	.noptions = sizeof autoreply_transport_rows / sizeof autoreply_transport_rows[0],
	.block_size = sizeof(struct autoreply_transport_options),
	.defaults = &autoreply_transport_defaults,
	.ops = &autoreply_transport_ops,
};
