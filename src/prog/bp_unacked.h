/* Whether the queue listing (-bp, -bpc and the other variants) leaves a message out because it
 * was never acknowledged: its -H was named before its files were durable, a restart came since
 * (another boot id in its integrity line), and its files are not what was written
 * (core/spool_integrity.h, docs/spool.md "Durability"). A delivery attempt would move it to
 * unacked/; the listing only leaves it out (it does not take the message's lock). */
#ifndef POSTERN_PROG_BP_UNACKED_H
#define POSTERN_PROG_BP_UNACKED_H

#include <stdbool.h>

#include "core/spool.h"

/* For a message whose -H has been read into info (-bp): only a line of another boot costs a
 * read of -D. */
bool bp_unacked_read(const spool_config *sc, const char *id, const spool_parse_info *info);

/* For a message known by its id only (-bpc): the first bytes of -H say whether its line is of
 * another boot; only then is -H read whole and -D checked. */
bool bp_unacked(const spool_config *sc, const char *id);

#endif
