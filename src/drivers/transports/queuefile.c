/* queuefile transport (EXPERIMENTAL_QUEUEFILE): private options. */
#include "drivers/transports/queuefile.h"
#include "drivers/transports/local_transports.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct queuefile_transport_options, field)

static const opt_row queuefile_transport_rows[] = {
	ROW("directory", OPT_STRING,      0, directory),
};

static const struct queuefile_transport_options queuefile_transport_defaults;

const driver_info queuefile_transport_info = {
	.name = "queuefile",
	.options = queuefile_transport_rows,
	.noptions = sizeof queuefile_transport_rows / sizeof queuefile_transport_rows[0],
	.block_size = sizeof(struct queuefile_transport_options),
	.defaults = &queuefile_transport_defaults,
	.ops = &queuefile_transport_ops,
};
