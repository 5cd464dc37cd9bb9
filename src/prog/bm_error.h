/* Errors found while a local (non-SMTP) message is being received, reported as Exim 4.96's
 * -oe options say: by mail to the sender (-oem, the default, and -oee, the default for rmail) or
 * on stderr (-oep, -oeq). */
#ifndef POSTERN_PROG_BM_ERROR_H
#define POSTERN_PROG_BM_ERROR_H

#include "lib/str.h"
#include "prog/cmdline.h"

/* A malformed recipient on the command line. sender is the envelope sender (empty: <>, which
 * gets nothing, as with Exim); the message is read from input_fd for the copy. Returns the exit
 * status: 0 only under -oee when the error message was spooled, else 1. */
int bm_bad_recipient(const cmdline *cl, sv sender, const char *address, const char *why, int input_fd);

#endif
