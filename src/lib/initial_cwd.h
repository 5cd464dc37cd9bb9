/* The directory the process started in. Exim works from its spool directory (else "/"), so
 * relative lookup file names resolve there as they do for Exim, but reports where it was started as $initial_cwd and builds $config_dir
 * from it; both need the directory as it was before the change. */
#ifndef POSTERN_LIB_INITIAL_CWD_H
#define POSTERN_LIB_INITIAL_CWD_H

#include <stdbool.h>

#include "lib/arena.h"

/* Record the current directory; call once at startup, before any chdir. */
void initial_cwd_save(void);
/* The recorded directory, or "" if it could not be determined. */
const char *initial_cwd(void);

/* Processes that work from the spool directory (daemon, queue runners, sessions) and run this
 * program again must give it the caller's paths (argv[0], -C) as the caller meant them. */
/* path as seen from the recorded directory: an absolute path as it is, a relative one prefixed
 * with the directory (as it is when there is none). Allocated from a. */
const char *initial_cwd_resolve(arena *a, const char *path);
/* Change back to the recorded directory (before re-executing with the original command line).
 * False when there is none or the change failed (errno set). */
bool initial_cwd_return(void);

#endif
