/* Loading the configuration for a command-line mode, with Exim's error output for that mode. */
#ifndef POSTERN_PROG_CONF_LOAD_FOR_H
#define POSTERN_PROG_CONF_LOAD_FOR_H

#include <stdbool.h>

#include "prog/cmdline.h"

/* Load the configuration named by -C (or the default search path) with the -D macros.
 * On failure prints Exim's message on stderr ("LOG: PANIC DIE" block for -bP, a time-stamped
 * line for the other modes) and returns false; the caller exits with status 1. */
bool conf_load_for(const cmdline *cl);
/* Whether a configuration has been loaded successfully in this process. */
bool conf_is_loaded(void);

#endif
