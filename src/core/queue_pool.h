/* The delivery workers of one queue-run pass (queue_pool.c); internal to queue_run.c. */
#ifndef POSTERN_CORE_QUEUE_POOL_H
#define POSTERN_CORE_QUEUE_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/deliver.h"
#include "core/hintsdb.h"
#include "core/message.h"
#include "core/spool.h"

/* Messages a worker process delivers before it exits and a fresh one is forked. */
#define QUEUE_WORKER_MESSAGES 64
/* Upper bound of queue_run_parallel (beyond Exim): deliveries of one pass in flight at once,
 * each in its own worker process. The option's default, 1, is Exim's serial runner. */
#define QUEUE_RUN_PARALLEL_MAX 32

typedef struct qjob {
	char id[MSG_ID_LEN + 1];
	bool alone;                   /* must not overlap any other delivery of this pass (a message
	                               * waiting for a host, an ordered run): see queue_pool.c */
	deliver_opts o;
} qjob;

/* Deliver jobs[0..n-1] in worker processes, in that order of starting: up to queue_run_parallel
 * at once, a job marked alone with nothing else in flight. Each outcome is recorded in idx
 * (when not NULL). false: the run was abandoned (deliver_queue_load_max). */
bool qpool_deliver(const spool_config *sc, const qjob *jobs, size_t n, hintsdb *idx);

#endif
