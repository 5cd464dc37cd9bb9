/* This process's command line, read back from /proc/self/cmdline: for running this program again
 * with the arguments it was started with (the daemon's SIGHUP re-exec, a delivery process's
 * retry-record helper). */
#ifndef POSTERN_LIB_PROC_ARGV_H
#define POSTERN_LIB_PROC_ARGV_H

/* The arguments as a NULL-terminated vector in one malloc'd block (free() the vector to release
 * it all). NULL when the file cannot be read, is empty, or is longer than 64 KiB (a truncated
 * command line is never returned). */
char **proc_self_argv(void);

#endif
