/* queue_fast_ramp (fast_ramp.c): in the first phase of a two-phase queue run (-qq), each time
 * the wait-<transport> record of a host overflows into a continuation record (50 messages
 * routed to it: core/wait_records.h), the daemon is asked through its notifier socket to deliver
 * the message being routed now, so that the connection it opens carries the waiting messages
 * while the scan goes on. Observed with strace on Exim 4.96: no request for 50 messages for one
 * host, one for 51..100, two for 110; the datagram is "\x01" <id> "\0" (18 bytes, also for a
 * named queue), sent to the abstract name "\0" + expanded notifier_socket; only with
 * queue_fast_ramp set and queue_run_in_order unset. */
#ifndef POSTERN_CORE_FAST_RAMP_H
#define POSTERN_CORE_FAST_RAMP_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Set by the queue runner for the first phase of a -qq run when fast ramping applies; the
 * delivery processes it forks inherit it. */
extern bool fast_ramp_active;

/* A continuation was started for a host while routing message id: the daemon is to deliver it
 * (nothing when fast_ramp_active is false). The request is sent by fast_ramp_flush, once the
 * delivery process has let go of the message: a run started while it is still locked would
 * skip it. */
void fast_ramp_notify(const char *id);
/* Send the request fast_ramp_notify noted, if any (no daemon is not an error). */
void fast_ramp_flush(void);

/* The daemon's notifier socket address: "\0" + expanded notifier_socket. false when the
 * option expands empty (logged when it fails to expand) or the name is too long. *name (may be
 * NULL) gets the expanded name. */
bool notifier_address(struct sockaddr_un *sa, socklen_t *len, const char **name);

#endif
