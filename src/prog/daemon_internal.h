/* Shared between the daemon's files: the table of session children and the per-connection
 * accept logic (daemon_accept.c), used by the main loop (daemon.c). */
#ifndef POSTERN_PROG_DAEMON_INTERNAL_H
#define POSTERN_PROG_DAEMON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/listen.h"
#include "lib/ip.h"

/* Listening sockets handed from a daemon to its re-executed self (SIGHUP): "fd,fd,...". */
#define DAEMON_LISTEN_FDS_ENV "POSTERN_DAEMON_LISTEN_FDS"

/* One running session child and the address it serves (for smtp_accept_max_per_host). */
typedef struct daemon_child {
	pid_t pid;
	ip_addr addr;
} daemon_child;

typedef struct daemon_children {
	daemon_child *v;
	size_t n, cap;
} daemon_children;

/* Remove a reaped child; false if it was not ours (e.g. started by a daemon before SIGHUP). */
bool daemon_children_remove(daemon_children *c, pid_t pid);

/* Accept the pending connections on listener fd (it is non-blocking) and handle each: limits,
 * fork, session. Returns at EAGAIN or after a bounded batch. */
void daemon_accept_ready(int fd, daemon_children *c, const listen_set *listeners);

/* In every child the daemon forks: close what belongs to the daemon (listeners, self-pipe,
 * the pool's channels), default signals, and keep the schedule index open (a session). */
void daemon_child_setup(const listen_set *listeners);

/* Pre-forked session processes (daemon_pool.c). enable: from now on fill/handout work;
 * fill: fork idle processes up to the target (call after a batch of accepts); handout: pass
 * an accepted connection to one (its pid, which now counts as the connection's child), or -1
 * when none is ready (fork as before); short: below the target; reaped: an idle one died (true if it was one);
 * discard: before a re-exec; close_in_child: in any other child of the daemon. */
void daemon_pool_enable(const listen_set *listeners);
void daemon_pool_fill(size_t max_forks); /* 0: up to the target */
int daemon_pool_backoff_ms(void);         /* -1, or when a refill held back may start (or a surplus be retired) */
bool daemon_pool_short(void);            /* below the target (and forking works) */
pid_t daemon_pool_handout(int fd, int others, bool queue_only_load, bool accept_queue);
/* reaped: true for an idle process (nothing more to do); a busy one is forgotten and false
 * returned, so the caller uncounts its session as for any child. */
bool daemon_pool_reaped(pid_t pid);
/* The channels of processes serving a connection, looked at without waiting (once per turn of
 * the daemon's loop): a "done" uncounts the session in c and makes the process idle again (or
 * retires it). */
void daemon_pool_collect(daemon_children *c);
void daemon_pool_discard(void);
/* The same, then wait up to max_ms for those processes to have exited (daemon shutdown). */
void daemon_pool_discard_wait(int max_ms);
void daemon_pool_close_in_child(void);

/* In a pre-forked process (daemon_accept.c): the set-up before a connection (delivery helper
 * if needed, privilege drop; chan is closed in any helper), then serving one connection with
 * the daemon's counts; _serve closes fd and returns the session's exit code (0: it may serve
 * another). */
void daemon_worker_prepare(int chan);
int daemon_worker_serve(int fd, int others, bool queue_only_load, bool accept_queue);
/* Between two connections of one process (daemon_reuse.c): how many connections a process may
 * serve (smtp_accept_process_reuse, or 1 when the configuration uses something that cannot be
 * reset), and the reset of every per-connection state before the next. */
unsigned daemon_reuse_limit(void);
bool daemon_reuse_reset(void);   /* false: this process must not serve another */
/* daemon_accept.c's own per-connection state (the reserve-host name). */
void daemon_accept_reset(void);
/* _exit for a session process (pre-forked or not), removing its unused spare spool files. */
_Noreturn void daemon_session_exit(int rc);

/* The self-pipe the signal handlers write to (both ends close-on-exec; closed in children). */
extern int daemon_wake_pipe[2];

/* The load average times 1000 (Exim's fixed-point form), or -1 if unavailable. */
int daemon_load_average(void);

#endif
