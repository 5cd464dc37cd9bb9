/* Installing the log configuration from the loaded main options, for the modes that write
 * logs (the daemon and its session children; other modes may use it too). */
#ifndef POSTERN_PROG_LOG_SETUP_H
#define POSTERN_PROG_LOG_SETUP_H

#include <stdbool.h>

#include "lib/log.h"
#include "lib/str.h"

/* Expand spool_directory and log_file_path, parse log_selector, and call log_configure with
 * log_timezone, write_rejectlog and the syslog_* options. The expanded spool directory is
 * returned through *spool (in pool_perm) when spool is not NULL. false + err on an expansion or
 * configuration error (Exim's wording). */
bool log_setup_from_config(enum log_echo echo, const char **spool, xbuf *err);

#endif
