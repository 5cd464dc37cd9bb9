/* Queue runs (Exim 4.96 "-q" family and "Queue runner processes") and the schedule index.
 *
 * Beyond Exim: the cost of a queue run grows with the number of messages due, not with the size
 * of the queue. The schedule index (<spool>/db/schedule.lmdb: message id -> next due time, plus a
 * time-ordered key) is kept next to the spool: the delivery process notes each message's next
 * due time after every attempt, reception notes new messages, removal forgets them. A run reads
 * only the due part. When the index is missing or older than the spool's input directory
 * changes it cannot account for, it is rebuilt from the spool (every message due at once, as
 * Exim would treat it).
 */
#ifndef POSTERN_CORE_QUEUE_H
#define POSTERN_CORE_QUEUE_H

#include <stdbool.h>
#include <time.h>

#include "core/spool.h"
#include "lib/str.h"

/* Note when a message is next due (0: now; frozen: only with -qff / auto_thaw). Errors are
 * logged; the index is a hint, the spool is the truth. */
void queue_schedule_note(const spool_config *sc, const char *id, time_t due, bool frozen);
/* The same with the lines a queue run logs for the message while it is not due
 * (deliver_outcome.skip_log; NULL: none), so a plain -q after -odi logs them as Exim does. */
void queue_schedule_note_skip(const spool_config *sc, const char *id, time_t due, bool frozen, const char *skip_log);
void queue_schedule_forget(const spool_config *sc, const char *id);

typedef struct queue_run_opts {
	bool force;                   /* -qf: ignore retry times */
	bool force_frozen;            /* -qff: frozen messages too */
	bool two_stage;               /* -qq */
	bool initial_only;            /* -qi: only messages never tried */
	bool local_only;              /* -ql */
	const char *queue_name;       /* -qG<name> ("" default queue) */
	const char *start_id, *stop_id; /* -q id [id] */
	const char *select_recipient; /* -R string (with rsflags below) */
	const char *select_sender;    /* -S string */
	bool select_regex;            /* -Rr / -Sr */
	bool select_force, select_force_frozen; /* -Rf / -Rff */
	bool in_order;                /* queue_run_in_order (or -q with start/stop ids) */
	bool use_index;               /* read the schedule index (default); false: scan the spool */
} queue_run_opts;

/* One queue run in this process (forking a delivery process per message, as Exim does, at most
 * remote_max_parallel/queue_run_max as configured). Returns the number of messages tried. */
long queue_run(const spool_config *sc, const queue_run_opts *o);

/* Added (acceptperf): keep the schedule index open in this process from its first use until
 * exit, for processes that receive many messages (SMTP sessions); then every note/forget of
 * this process goes through that one environment. */
void queue_schedule_keep_open(void);
/* Keep it open and open it now (a process prepared before its first message). */
void queue_schedule_prepare(const spool_config *sc);
/* Note a message just received (due now, not frozen): through the kept index when enabled. */
void queue_schedule_note_received(const spool_config *sc, const char *id);

#endif
