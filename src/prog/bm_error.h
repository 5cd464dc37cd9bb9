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

/* -t found no recipients (Exim 4.96, observed): under -oem/-oew/-oee a "Mail failure - no
 * recipient addresses" message goes to the sender, with References: naming the message's
 * Message-Id and a copy of the message as received (header fix-ups included, our Received: not);
 * its arrival line has R=<id>. Nothing is printed; status 1 (0 with -oee once it is spooled).
 * Under -oep/-oeq, or for a <> sender, "exim: no recipients in message" on stderr, status 1.
 * m: the message (its headers after receive_prepare_headers); body: its -D contents. */
struct message;
int bm_no_recipients(const cmdline *cl, const struct message *m, sv body);

#endif
