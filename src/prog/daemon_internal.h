/* Shared between the daemon's files: the table of session children and the per-connection
 * accept logic (daemon_accept.c), used by the main loop (daemon.c). */
#ifndef POSTERN_PROG_DAEMON_INTERNAL_H
#define POSTERN_PROG_DAEMON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/listen.h"
#include "lib/ip.h"

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

/* The self-pipe the signal handlers write to (both ends close-on-exec; closed in children). */
extern int daemon_wake_pipe[2];

/* The load average times 1000 (Exim's fixed-point form), or -1 if unavailable. */
int daemon_load_average(void);

#endif
