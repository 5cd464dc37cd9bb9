/* The daemon pid file (-oP, pid_file_path): written whole or not at all, removed only by its owner. */
#ifndef POSTERN_PROG_PID_FILE_H
#define POSTERN_PROG_PID_FILE_H

#include <stdbool.h>

/* Write "<pid>\n" to a temporary beside `path` and rename it into place, so a reader never sees
 * an empty or partial file. False (errno set) on failure; nothing is left behind. */
bool pid_file_write(const char *path);

/* Exim refuses a relative pid file path (its daemons work from the spool directory): the panic
 * log says so and the process exits 1. NULL (no pid file) passes. */
void pid_file_require_absolute(const char *path);

/* Remove `path` if it still names this process (a newer daemon may have replaced it). */
void pid_file_remove(const char *path);

#endif
