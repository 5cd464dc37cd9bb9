/* The delivery process (Exim 4.96 "How Exim delivers mail" and "Message processing"; facts §1):
 * for one message, load and lock the spool files, replay the -J journal, run the system filter,
 * route every undelivered recipient, batch addresses per transport and run the transports in
 * child processes with the right uid/gid, collect each address's outcome over a pipe, write the
 * msglog and the main log lines ("=>", "->", "*>", "**", "==", Completed, Frozen), update -H (each
 * finished address is first appended to -J so an interrupted delivery never delivers twice),
 * apply retry records, send bounces, warnings and DSNs, raise events, and remove the message
 * when nothing is left.
 *
 * Who calls it: local submission with -odi/-odb (prog/bm.c), the SMTP server after a message is
 * accepted (unless queue_only...), queue runners (src/core/queue.h), -M (prog/msgctl.c), the
 * smtp transport to carry another message over an open connection (cont).
 */
#ifndef POSTERN_CORE_DELIVER_H
#define POSTERN_CORE_DELIVER_H

#include <stdbool.h>
#include <time.h>

#include "core/spool.h"
#include "lib/str.h"

/* An open SMTP connection a transport offers to the next message for the same host (Exim's
 * "continued" delivery; the wait-<transport> hints database lists the candidates). */
typedef struct deliver_continue {
	const char *transport;        /* instance name */
	sv host_name, host_address;
	int port;
	void *conn;                   /* the smtp transport's connection object */
	int messages;                 /* messages carried so far (connection_max_messages) */
} deliver_continue;

typedef struct deliver_opts {
	bool forced;                  /* -M, -qf, -R...: ignore retry times */
	bool thaw;                    /* -qff, -Mt then -M: deliver a frozen message */
	bool manual;                  /* admin command (-M family): logs as Exim does for them */
	bool local_only;              /* -ql: only local deliveries */
	bool queue_smtp;              /* -odqs, queue_smtp_domains, the first phase of -qq: route
	                               * everything, deliver locally, leave remote addresses queued */
	bool dont_deliver;            /* -N */
	bool queue_run;               /* called by a queue runner (Exim skips what is not due) */
	deliver_continue *cont;       /* offered connection (NULL: none) */
	bool caller_keeps_schedule;   /* a queue runner holds the schedule index open and records
	                               * deliver_last_outcome() itself; this call leaves it alone */
	bool caller_removes_rest;     /* a queue worker: a completed message's -H is removed here,
	                               * its -D, -J and msglog by the caller (deliver_remove_rest)
	                               * while the next delivery runs (outcome.remove_rest) */
	const char *commit_dir;       /* a queue worker: Maildir directory syncs are left to the
	                               * runner, and a completed message's -H goes here until then
	                               * (core/dirsync.h); NULL: not */
} deliver_opts;

typedef enum deliver_rc {
	DELIVER_NOT_ATTEMPTED,        /* locked by another process, frozen, missing, not due */
	DELIVER_ATTEMPTED,            /* ran; the message may still be queued (defers) */
	DELIVER_FAILED_SETUP,         /* could not start (spool unreadable ...): logged */
} deliver_rc;

/* Deliver one message now, in this process (forking for the transports). */
deliver_rc deliver_message(const spool_config *sc, const char *id, const deliver_opts *o);

/* Start a delivery of a just-received message in a detached background process (Exim's
 * behaviour after reception without -odi / queue_only), and return at once. */
void deliver_start_background(const spool_config *sc, const char *id, const deliver_opts *o);
/* A background delivery's standard descriptors: /dev/null, nothing of its starter's. */
void deliver_stdio_to_null(void);

/* ---- starting deliveries after reception (deliver_start.c) ---- */

/* What the receiving process does with each message it accepts (Exim's -od* options); set once
 * by the mode that receives (-bs, -bS, the daemon). explicit_od: an -od option was given (it
 * overrides queue_only etc. unless queue_only_override is false). */
typedef enum deliver_after {
	DELIVER_AFTER_BACKGROUND,     /* default, -odb */
	DELIVER_AFTER_FOREGROUND,     /* -odi / -odf (the daemon treats it as -odb) */
	DELIVER_AFTER_QUEUE,          /* -odq */
	DELIVER_AFTER_QUEUE_SMTP,     /* -odqs */
} deliver_after;
void deliver_set_after_reception(deliver_after how, bool explicit_od);

/* A message was just accepted (spool committed, lock released). queue_condition: the receiving
 * side's own reasons to queue (control = queue, smtp_accept_queue, smtp_accept_queue_per_connection,
 * queue_only_load); queue_only and queue_only_file are checked here. Starts the delivery as
 * the mode says, or leaves the message for a queue runner. */
void deliver_after_reception(const spool_config *sc, const char *id, bool queue_condition);

/* Daemon sessions run as the exim user, which cannot become the local users deliveries need.
 * Before dropping privilege a session starts a small root helper with deliver_launcher_start():
 * deliver_after_reception then hands each id to it over a pipe, and the helper starts the
 * background delivery as root. close_fd: a descriptor the helper must not keep (the client
 * connection); -1 for none. false: no helper (deliveries then start from the session itself). */
bool deliver_launcher_start(int close_fd);

#include <sys/types.h>

/* Added (acceptperf): one launcher for a whole daemon instead of one per connection.
 * deliver_launcher_start_shared() forks the helper (child_setup runs in it first, e.g. to close
 * the listeners) and keeps the pipe's write end as this process's launcher, inherited by every
 * session forked afterwards; it returns the helper's pid, or -1 when none is needed (queue_only,
 * -odq, not root) or possible. The daemon keeps the read end too, so records written while a
 * dead helper is replaced wait in the pipe: call it again when the pid is reaped. In a forked
 * session, deliver_launcher_in_session() drops the read end and is true when a shared helper
 * serves this process (then deliver_launcher_start is not needed). */
pid_t deliver_launcher_start_shared(void (*child_setup)(void *), void *ctx);
bool deliver_launcher_in_session(void);

/* The earliest time the message's undelivered addresses are due again, from the retry records
 * consulted in the last deliver_message of this process (for the queue schedule index);
 * 0: due at once / unknown. */
time_t deliver_next_due(void);

/* What the last deliver_message of this process did to the message, for a caller that keeps
 * the queue schedule index itself (deliver_opts.caller_keeps_schedule). */
typedef enum deliver_outcome_kind {
	DELIVER_OUTCOME_NONE,         /* nothing to record (locked elsewhere, unreadable) */
	DELIVER_OUTCOME_GONE,         /* the message is no longer in the spool */
	DELIVER_OUTCOME_QUEUED,       /* still queued: next_due (0: at once), frozen */
} deliver_outcome_kind;
typedef struct deliver_outcome {
	deliver_outcome_kind kind;
	time_t next_due;
	bool frozen;
	/* The lines (each ending "\n", no id) a queue run that skips the message because it is not
	 * due logs for it, as Exim's delivery process would ("== ... retry time not reached",
	 * "Message is frozen"); NULL: none. In pool_msg. */
	const char *skip_log;
	bool remove_rest;             /* GONE with caller_removes_rest: -D, -J, msglog are left */
	const char *commit_dirs;      /* GONE into commit_dir: the directories to sync before its
	                               * -H there may go, one per line; NULL: none */
} deliver_outcome;
deliver_outcome deliver_last_outcome(void);
/* For a caller of deliver_message whose message is still on the spool (-M, a continued
 * delivery): record the last outcome in the schedule index as the delivery itself does, with
 * the lines a plain queue run logs while the message is not due (a bare due time lost them:
 * the run then logged nothing for a message Exim's would show "retry time not reached" for). */
void deliver_note_schedule(const spool_config *sc, const char *id);
/* Remove what is left of a completed message after its -H (-D, -J, msglog), without a sync:
 * into the recycled-file pool (core/spool_recycle.h), the -J emptied, the others with their
 * content (dspool_remove_rest says why). */
void deliver_remove_rest(const spool_config *sc, const char *id);

#endif
