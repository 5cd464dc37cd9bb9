/* The delivery launcher's pool of delivery workers (deliver_start.c's helper process): long-lived
 * children that each deliver one message after another, so a message received by the daemon
 * does not cost a fork and an exit of its own (deliver_launch_pool.c says what is kept equal). */
#ifndef POSTERN_CORE_DELIVER_LAUNCH_POOL_H
#define POSTERN_CORE_DELIVER_LAUNCH_POOL_H

#include <stdbool.h>

#include "core/deliver.h"

/* Wait until the launcher's input pipe is readable, looking after the workers meanwhile
 * (their reports, their ends, idle ones to let go). false: poll failed. */
bool lpool_wait_input(int input_fd);

/* Deliver id: now in an idle worker or a new one; with all LPOOL_MAX busy, in the first worker
 * that becomes idle within LPOOL_WAIT_MS (lpool_wait_input hands it over), else (or when a fork
 * failed) in a delivery process of its own. input_fd is closed in every child. */
void lpool_deliver(int input_fd, const spool_config *sc, const char *id, const deliver_opts *o);

/* The launcher is ending: every message still waiting for a worker to a process of its own. */
void lpool_launch_pending(int input_fd);

#endif
