/* lmtp transport: private options (Exim 4.96 "The lmtp transport"). */
#include "drivers/transports/lmtp.h"
#include "drivers/transports/local_transports.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct lmtp_transport_options, field)

static const opt_row lmtp_transport_rows[] = {
	ROW("batch_id",     OPT_STRING,      0, batch_id),
	ROW("batch_max",    OPT_INT,         0, batch_max),
	ROW("command",      OPT_STRING,      0, command),
	ROW("ignore_quota", OPT_BOOL,        0, ignore_quota),
	ROW("socket",       OPT_STRING,      0, socket),
	ROW("timeout",      OPT_TIME,        0, timeout),
};

static const struct lmtp_transport_options lmtp_transport_defaults = {
	.batch_max = 1,
	.timeout = 300,
};

const driver_info lmtp_transport_info = {
	.name = "lmtp",
	.options = lmtp_transport_rows,
	.noptions = sizeof lmtp_transport_rows / sizeof lmtp_transport_rows[0],
	.block_size = sizeof(struct lmtp_transport_options),
	.defaults = &lmtp_transport_defaults,
	.ops = &lmtp_transport_ops,
};
