/* Periodic queue runs for the daemons (-bd -q<time> and the queue-runner daemon -q<time>): start
 * a queue run in a child process every interval, at most queue_run_max at once, and reap them. */
#ifndef POSTERN_PROG_DAEMON_QRUN_H
#define POSTERN_PROG_DAEMON_QRUN_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "core/queue.h"
#include "core/spool.h"
#include "lib/str.h"
#include "prog/cmdline.h"

typedef struct qrun_sched {
	int interval;                 /* seconds; 0: no periodic runs */
	int max;                      /* queue_run_max (0: no limit) */
	time_t next;                  /* when the next run is due */
	pid_t *kids;
	int nkids, cap;
	spool_config sc;
	queue_run_opts opts;
	void (*child_setup)(void *ctx); /* in each runner child before the run (close listeners) */
	void *child_ctx;
} qrun_sched;

/* Exim's time syntax ("30m", "1h30m", "90", "2d", "1w"); false when malformed. */
bool qrun_parse_time(const char *s, int *secs);

/* The queue run options a command line asks for (-q flags, -R/-S, start/stop ids). */
void qrun_opts_from_cmdline(const cmdline *cl, queue_run_opts *o);

/* Set up from the command line (cl->queue_interval) and the loaded configuration. */
bool qrun_sched_init(qrun_sched *s, const cmdline *cl, const spool_config *sc, xbuf *err);
/* Milliseconds until the next run is due (for poll); -1 when there are no periodic runs. */
int qrun_sched_timeout_ms(const qrun_sched *s, time_t now);
/* Start a run when one is due and fewer than queue_run_max are running. */
void qrun_sched_tick(qrun_sched *s, time_t now);
/* Added (rcvleft): start one run with these options now, counted among the runners (the
 * notifier's one-message runs). */
void qrun_sched_spawn(qrun_sched *s, const queue_run_opts *opts);
/* A child was reaped: true if it was one of the runners. */
bool qrun_sched_reaped(qrun_sched *s, pid_t pid);
/* "-q30m" (or "-qq1h" listening, "-qGname/5m" not) for the daemon's start line. */
void qrun_describe(const cmdline *cl, bool listening, xbuf *out);

#endif
