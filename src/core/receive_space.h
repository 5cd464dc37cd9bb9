/* Room on the disks before a message is received: Exim 4.96's check_spool_space,
 * check_spool_inodes, check_log_space and check_log_inodes (docs/spool.md "Free space").
 *
 * Where Exim makes the check (observed): at every SMTP MAIL command (-bs, -bS, -bh, the daemon's
 * sessions; smtp_check_spool_space does not turn it off), which is then refused with
 * "452 Space shortage, please try later"; and before a local submission (-bm, -t) or a batched
 * SMTP run (-bS) reads its input, which then ends with "exim: insufficient disk space" on stderr
 * and status 1. */
#ifndef POSTERN_CORE_RECEIVE_SPACE_H
#define POSTERN_CORE_RECEIVE_SPACE_H

#include <stdbool.h>

#include "lib/arena.h"

/* Whether the spool directory and the log directory have the room the options ask for. When
 * one has not, writes Exim's main log line ("spool directory space check failed: space=<K>
 * inodes=<n>", or "log directory ...") and returns false. */
bool receive_space_ok(void);

/* The directory check_log_space looks at for a log_file_path (expanded) and spool directory: the
 * part before the last '/' of the first item that is not "syslog" (an empty item, or no item
 * at all, is "<spool>/log/%slog"), taken as written: a "%s" or "%D" in it is not replaced, so
 * such a directory does not exist and is not checked, as in Exim. NULL when the logs go only
 * to syslog. In arena a. */
const char *receive_space_log_dir(arena *a, const char *log_file_path, const char *spool);

#endif
