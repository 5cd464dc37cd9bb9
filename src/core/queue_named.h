/* Named queues (Exim 4.96): a message may live in <spool>/<name>/input and <name>/msglog instead
 * of the default queue's input/ and msglog/.
 *
 * As in Exim, a process works in one queue at a time, kept here as a process-wide current name:
 * "-qG<name>" on the command line sets it for everything the process does (-bp, -M..., queue
 * runs, a daemon and the sessions it forks), the ACL "queue =" modifier sets it while a message
 * is received (and, as in Exim, it stays set for later messages of the same connection), and a
 * delivery sets it from the queue its message is in. spool_config_from_main() starts every spool
 * configuration in the current queue, so what a delivery creates (a bounce, a filter's reply)
 * goes to the queue of the message it came from, as Exim 4.96 does. $queue_name shows it.
 */
#ifndef POSTERN_CORE_QUEUE_NAMED_H
#define POSTERN_CORE_QUEUE_NAMED_H

#include <stdbool.h>

#include "core/acl.h"
#include "lib/str.h"

/* The longest name taken: a name is one directory name on the spool's file system, and part of
 * its schedule index's file name (core/queue.h), which must stay within NAME_MAX. */
#define QUEUE_NAME_MAX 200

/* The current queue's name; "" for the default queue. */
const char *queue_named_current(void);
/* Make name (NULL or "": the default queue) the current queue. The caller has checked it. */
void queue_named_set(const char *name);

/* Whether name may be a queue name: false with the reason in err. Exim's texts for a tainted
 * name ("Tainted name 'x' for queue not permitted") and one with a '/' ("Directory separator not
 * permitted in queue name: 'x'"). Beyond Exim, "." and ".." (which Exim takes, putting the
 * message in the spool directory itself or its parent), a NUL byte and names longer than
 * QUEUE_NAME_MAX are refused too ("Queue name 'x' not permitted"). An empty name is valid. */
bool queue_named_check(sv name, xbuf *err);

/* The ACL "queue =" modifier with its expanded argument: checks and sets the current queue;
 * ACL_ERROR with the reason as the log text (a 451 for the command, as Exim answers). */
acl_result queue_named_acl(acl_ctx *c, sv name);

/* " Q=<name>" when the current queue is named (the <= line and the delivery lines). */
void queue_named_log_field(xbuf *out);
/* The same for a given queue (NULL or "": nothing). */
void queue_named_log_field_of(const char *name, xbuf *out);

#endif
