/* Shared between the queue modules: the schedule index (queue_index.c) and queue runs
 * (queue_run.c). See docs/queue.md for the index's layout and its rebuild rules. */
#ifndef POSTERN_CORE_QUEUE_INTERNAL_H
#define POSTERN_CORE_QUEUE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/hintsdb.h"
#include "core/message.h"
#include "core/spool.h"

/* A growable list of message ids. */
typedef struct queue_list {
	char (*v)[MSG_ID_LEN + 1];
	size_t n, cap;
} queue_list;
void queue_list_add(queue_list *l, const char *id);
void queue_list_free(queue_list *l);

/* The index holds no entry for a message that is frozen and has nothing to wake it. */
#define QUEUE_DUE_NEVER UINT64_MAX

/* Seconds between reconciliations of the index with the spool directory (messages that other
 * programs put into the spool are found by them). */
#define QUEUE_INDEX_RECONCILE_SECS 3600

/* The hints database name of sc's queue index ("schedule-<boot id>[.<queue name>]"). */
const char *queue_index_name(const spool_config *sc, char *buf, size_t len);

/* Open the index, first making it valid (rebuilt from the spool when it has never been built in
 * this boot, reconciled when the last reconciliation is older than QUEUE_INDEX_RECONCILE_SECS).
 * NULL when there is no usable index: the caller scans the spool. */
hintsdb *queue_index_open_valid(const spool_config *sc, time_t now);

/* Reconcile the index with a listing of the spool taken at `listed` (ids sorted or not): ids
 * missing from the index become due now; index entries whose message is not in the listing are
 * dropped (unless their id is younger than the listing, so a reception racing the listing is
 * kept). Records the reconciliation time. */
bool queue_index_reconcile(hintsdb *db, char (*ids)[MSG_ID_LEN + 1], size_t n, time_t listed);

/* Messages due at `now` (frozen ones only when something wakes them by then), in due order. */
bool queue_index_due(hintsdb *db, time_t now, queue_list *out);

/* queue_schedule_note / _forget through an index the caller holds open (a queue run opens it
 * once for all its messages). */
void queue_index_note(hintsdb *db, const char *id, time_t due, bool frozen, sv skip_log);
void queue_index_forget(hintsdb *db, const char *id);

/* A note may carry the lines a run logs for the message while it is not due
 * (deliver_outcome.skip_log); longer texts are not kept. */
#define QUEUE_SKIP_LOG_MAX 4000
/* Messages not due at `now` that have such lines, in due order. */
typedef void (*queue_skip_fn)(void *ctx, const char *id, sv lines);
bool queue_index_not_due(hintsdb *db, time_t now, queue_skip_fn fn, void *ctx);

/* The due time recorded for id: 1 found, 0 not, -1 error. */
int queue_index_lookup(hintsdb *db, const char *id, uint64_t *due, bool *frozen);

#endif
