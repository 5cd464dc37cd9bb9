/* Group commit for the spool: one file-system sync makes many sessions' messages durable.
 *
 * A session that has written its -D and -H files (and renamed -H into place) calls
 * spool_group_sync(); it returns once a syncfs() of the spool's file system that STARTED after
 * the call began has completed. Sessions (separate processes) share a small state file,
 * <spool_directory>/db/postern-commit, holding two round counters; whoever holds its flock is
 * the leader of the next round, runs syncfs() for everyone who arrived while the previous round
 * was running, and publishes the round as done. Everybody else finds its round already done when
 * it gets the lock, so N concurrent messages cost about one sync instead of 3 N.
 *
 * Why syncfs: sync(2) documents that on Linux syncfs() waits for the I/O and gives the same
 * guarantees as fsync() on every file of the file system (data, metadata, directory entries),
 * and since Linux 5.8 it reports write-back errors. See docs/spool.md (durability) for the whole
 * argument, the ordering that keeps "-H exists => -D complete", and how errors are reported.
 *
 * A killed leader releases the flock when it dies; the next waiter starts a new round, so nobody
 * waits for a round that will never finish. If the state file cannot be used (permissions, no
 * db/ directory) the caller syncs on its own: same durability, no sharing.
 */
#ifndef POSTERN_CORE_SPOOL_COMMIT_H
#define POSTERN_CORE_SPOOL_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/spool.h"
#include "lib/str.h"

/* fd: any file on the spool's file system that this process wrote (the -D file): syncfs()
 * reports the file system's write-back errors through it. False (message in err) if the round
 * that covers this call, or any later one up to its completion, failed. */
bool spool_group_sync(const spool_config *sc, int fd, xbuf *err);

/* Counters for tests and the benchmark: rounds this process led, and calls it made. */
typedef struct spool_commit_stats {
	uint64_t calls;    /* spool_group_sync calls */
	uint64_t led;      /* rounds this process ran (syncfs calls) */
	uint64_t shared;   /* calls covered by another process's round */
	uint64_t alone;    /* calls that synced without the shared state (fallback) */
} spool_commit_stats;
spool_commit_stats spool_commit_get_stats(void);

#endif
