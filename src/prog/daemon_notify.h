/* The daemon's notifier socket, as Exim 4.96 runs it (observed with `ss -xlp` and strace):
 * a Unix datagram socket with the abstract name "\0" + expanded notifier_socket (default
 * "$spool_directory/exim_daemon_notify"), on which the daemon takes two requests:
 *   \x01 <message id> \0 <queue name> \0   start a queue run for that one message now, when the
 *                                          daemon runs queues (-q<time>; the name is not
 *                                          checked, as in Exim 4.96); logged
 *                                          "notify triggered queue run";
 *   \x02                                   reply (to the sender's address) with the number of
 *                                          messages on the queue, decimal, counted at most once
 *                                          a minute: what $queue_size shows.
 * Anything else is ignored. No socket when notifier_socket expands empty, with -oY, or when
 * -oX is given without -oP (as Exim). */
#ifndef POSTERN_PROG_DAEMON_NOTIFY_H
#define POSTERN_PROG_DAEMON_NOTIFY_H

#include <stdbool.h>

#include "lib/str.h"
#include "prog/cmdline.h"
#include "prog/daemon_qrun.h"

/* Create and bind the socket (daemon start-up, as root); failures are logged and the daemon
 * goes on without it. Returns the descriptor, or -1. */
int daemon_notify_open(const cmdline *cl);
/* The socket is readable: take every queued request. */
void daemon_notify_ready(qrun_sched *q);
/* In a child of the daemon, and when it stops: the name is free again once every copy is shut. */
void daemon_notify_close(void);

/* Client side, for $queue_size: ask the daemon of this configuration for the queue size.
 * Appends nothing when there is no daemon (or it does not answer within a second). */
void daemon_notify_queue_size(xbuf *out);

/* Client side: ask the daemon to run the queue for one message now (queue_name "" default). */
bool daemon_notify_queue_run(const char *id, const char *queue_name);

#endif
