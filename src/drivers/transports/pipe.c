/* pipe transport: private options (Exim 4.96 "The pipe transport"). */
#include "drivers/transports/pipe.h"
#include "drivers/transports/local_transports.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct pipe_transport_options, field)

static const opt_row pipe_transport_rows[] = {
	ROW("allow_commands",     OPT_STRING,      0, allow_commands),
	ROW("batch_id",           OPT_STRING,      0, batch_id),
	ROW("batch_max",          OPT_INT,         0, batch_max),
	ROW("check_string",       OPT_STRING,      0, check_string),
	ROW("command",            OPT_STRING,      0, command),
	ROW("environment",        OPT_STRING,      0, environment),
	ROW("escape_string",      OPT_STRING,      0, escape_string),
	ROW("force_command",      OPT_BOOL,        0, force_command),
	ROW("freeze_exec_fail",   OPT_BOOL,        0, freeze_exec_fail),
	ROW("freeze_signal",      OPT_BOOL,        0, freeze_signal),
	ROW("ignore_status",      OPT_BOOL,        0, ignore_status),
	ROW("log_defer_output",   OPT_BOOL,        0, log_defer_output),
	ROW("log_fail_output",    OPT_BOOL,        0, log_fail_output),
	ROW("log_output",         OPT_BOOL,        0, log_output),
	ROW("max_output",         OPT_MKINT,       0, max_output),
	ROW("message_prefix",     OPT_STRING,      0, message_prefix),
	ROW("message_suffix",     OPT_STRING,      0, message_suffix),
	ROW("path",               OPT_STRING,      0, path),
	ROW("permit_coredump",    OPT_BOOL,        0, permit_coredump),
	ROW("pipe_as_creator",    OPT_BOOL,        0, pipe_as_creator),
	ROW("restrict_to_path",   OPT_BOOL,        0, restrict_to_path),
	ROW("return_fail_output", OPT_BOOL,        0, return_fail_output),
	ROW("return_output",      OPT_BOOL,        0, return_output),
	ROW("temp_errors",        OPT_STRING,      0, temp_errors),
	ROW("timeout",            OPT_TIME,        0, timeout),
	ROW("timeout_defer",      OPT_BOOL,        0, timeout_defer),
	ROW("umask",              OPT_OCTINT,      0, umask),
	ROW("use_bsmtp",          OPT_BOOL,        0, use_bsmtp),
	ROW("use_crlf",           OPT_BOOL,        0, use_crlf),
	ROW("use_shell",          OPT_BOOL,        0, use_shell),
};

static const struct pipe_transport_options pipe_transport_defaults = {
	.batch_max = 1,
	.max_output = 20480,
	.path = "/bin:/usr/bin",
	.temp_errors = "75:73",
	.timeout = 3600,
	.umask = 022,
};

const driver_info pipe_transport_info = {
	.name = "pipe",
	.options = pipe_transport_rows,
	.noptions = sizeof pipe_transport_rows / sizeof pipe_transport_rows[0],
	.block_size = sizeof(struct pipe_transport_options),
	.defaults = &pipe_transport_defaults,
	.ops = &pipe_transport_ops,
};
