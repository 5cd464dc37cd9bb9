/* pipe transport: private options (Exim 4.96 "The pipe transport"). */
#ifndef POSTERN_DRIVERS_TRANSPORTS_PIPE_H
#define POSTERN_DRIVERS_TRANSPORTS_PIPE_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct pipe_transport_options {
	const char *allow_commands;
	const char *batch_id;
	int batch_max;
	const char *check_string;
	const char *command;
	const char *environment;
	const char *escape_string;
	bool force_command;
	bool freeze_exec_fail;
	bool freeze_signal;
	bool ignore_status;
	bool log_defer_output;
	bool log_fail_output;
	bool log_output;
	int max_output;
	const char *message_prefix;  /* unset: mbox "From " line unless use_bsmtp (driver_instance_init) */
	const char *message_suffix;  /* unset: newline unless use_bsmtp (driver_instance_init) */
	const char *path;
	bool permit_coredump;
	bool pipe_as_creator;
	bool restrict_to_path;
	bool return_fail_output;
	bool return_output;
	const char *temp_errors;
	int timeout;
	bool timeout_defer;
	int umask;
	bool use_bsmtp;
	bool use_crlf;
	bool use_shell;
};

extern const driver_info pipe_transport_info;

#endif
