/* Group commit for the spool: one directory sync makes many sessions' messages durable.
 *
 * A session that has made its -D and -H temporary durable (fdatasync) and renamed -H into its
 * input directory calls spool_group_sync(); it returns once an fsync() of that directory that
 * STARTED after the call began has completed, which makes the new name durable. Sessions
 * (separate processes) share a small state file per input directory,
 * <spool_directory>/db/postern-dircommit-<dir>, holding the round counters; whoever takes its
 * flock (without waiting) is the leader of the next round, runs the fsync for everyone who
 * arrived while the previous round was running, and publishes the round as done. Everybody else
 * sleeps on a futex in the shared page, all woken together when a round ends, and finds its
 * round done (or leads the next one), so N concurrent messages cost about one directory sync.
 * (Waiting in flock instead handed the lock to one waiter at a time: the k-th could answer only
 * after k-1 others had been scheduled one after another.)
 *
 * Why the directory and not syncfs(): fsync() of a directory makes its entries durable (what
 * Exim does after its rename); syncfs() would also write back every other writer's dirty data on
 * the file system (logs, other programs), which made each round several times slower than one
 * fsync on a shared file system (bench/accept/RESULTS.md). See docs/spool.md (durability) for
 * the whole argument and the ordering that keeps "-H exists => -D complete".
 *
 * A killed leader releases the flock when it dies; a sleeper looks again after 5 ms at most and
 * starts a new round, so nobody waits for a round that will never finish. If the state file cannot be used (permissions, no
 * db/ directory) the caller syncs the directory on its own: same durability, no sharing.
 */
#ifndef POSTERN_CORE_SPOOL_COMMIT_H
#define POSTERN_CORE_SPOOL_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/spool.h"
#include "lib/str.h"

/* dir: the input directory this process renamed an -H file into. False (message in err) if
 * the directory cannot be opened, or the round that covers this call, or any later one up to
 * its completion, failed. */
bool spool_group_sync(const spool_config *sc, const char *dir, xbuf *err);

/* Counters for tests and the benchmark: rounds this process led, and calls it made. */
typedef struct spool_commit_stats {
	uint64_t calls;    /* spool_group_sync calls */
	uint64_t led;      /* rounds this process ran (directory fsyncs) */
	uint64_t shared;   /* calls covered by another process's round */
	uint64_t alone;    /* calls that synced without the shared state (fallback) */
} spool_commit_stats;
spool_commit_stats spool_commit_get_stats(void);

/* The body of the message in t is complete: start making -D durable in the background (a
 * helper thread's fdatasync), so that its device flush overlaps with the DATA-time work and the
 * -H file's own sync. spool_commit waits for it (and syncs again if -D was written since);
 * spool_abort and spool_end wait for it too. Optional: without it spool_commit starts it. */
void spool_data_sync_start(spool_txn *t);

#endif
