/* Bounded waits of the delivery process for its transport children (deliver_wait.c). */
#ifndef POSTERN_CORE_DELIVER_WAIT_H
#define POSTERN_CORE_DELIVER_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* How long a transport child (other than the commands of pipe and lmtp, which have their own
 * `timeout`) may run before the delivery process kills it. Exim has no such limit: its smtp
 * transport ends itself through its own timeouts and appendfile through its lock timeouts; this
 * is the safety net for a child wedged where none of those apply (a hung file system, a stuck
 * lock). Killed, it is logged as Exim logs a transport process that died ("failed to read
 * delivery status ...", "... terminated by signal 9") and its addresses are deferred. */
#define DELIVER_CHILD_LIMIT_SECS (4 * 3600)

/* Deadlines are monotonic_ms() values (lib/clock.h). */
/* Wait until fd is readable (or at end of file) or deadline_ms passes: 1 readable, 0 deadline
 * passed, -1 error. */
int dwait_readable(int fd, int64_t deadline_ms);
/* Wait for pid to exit until deadline_ms; past it, kill it (SIGKILL) and reap it. *status is
 * its wait status. Returns false when it had to be killed. */
bool dwait_reap(pid_t pid, int64_t deadline_ms, int *status);
/* The same with the child's pidfd when the caller has one (clone's CLONE_PIDFD; -1: none, one
 * is opened here). It is closed here. */
bool dwait_reap_pidfd(pid_t pid, int pidfd, int64_t deadline_ms, int *status);

#endif
