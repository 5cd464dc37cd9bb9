/* Leaving the terminal, for the listening daemon (-bd) and the queue-runner daemon (-q<time>). */
#ifndef POSTERN_PROG_DETACH_H
#define POSTERN_PROG_DETACH_H

#include <stdbool.h>

/* Fork; the parent exits 0 and the child goes on in a new session with its standard files on
 * /dev/null. False (errno set, still in the calling process) when the fork failed. */
bool detach_from_terminal(void);

#endif
