/* Moving a message between queues (-MG <queue> <id>..., Exim 4.96). */
#ifndef POSTERN_CORE_QUEUE_NAMED_MOVE_H
#define POSTERN_CORE_QUEUE_NAMED_MOVE_H

#include "core/spool.h"

typedef enum {
	QMOVE_MOVED,      /* moved, or the attempt failed after the message was found and locked
	                   * (logged; the message stays whole where it was) */
	QMOVE_LOCKED,     /* another process holds it */
	QMOVE_MISSING,    /* no such message in from's queue (logged as Exim logs it) */
} qmove_rc;

/* Move message id from from's queue to the queue named to ("" the default), keeping from's
 * spool directory and layout. The message is locked for the whole move and exists at every
 * moment in one queue at least (never in none): each file is hard-linked into the target
 * queue, the target directories are synced, and only then are the old names removed. A
 * failure undoes the links made and is logged (main and panic log) with Exim's text
 * ("link(<old>, <new>) failed while moving message: <error>"). Success logs "moved from
 * [(<queue>) ]input, msglog to [(<queue>) ]input, msglog". Beyond Exim, an interrupted
 * delivery's -J journal travels with the message (Exim leaves it behind). The schedule index
 * forgets the message in the old queue and has it due at once in the new one. The caller sets
 * the log id. */
qmove_rc queue_named_move(const spool_config *from, const char *to, const char *id);

#endif
