/* The orphan sweep: spool files that provably belong to no message and no live process.
 *
 * What it removes (docs/spool.md, "Orphan sweep"):
 *   - a message's -D, -J and msglog/<id> when no -H exists for the id anywhere (input/, its
 *     split subdirectories, any runner's commit directory), the -D is locked by nobody (neither
 *     the spool lock of a receiver or delivery nor the transport children's lock), and the files
 *     were last changed (ctime) longer ago than the margin. A -D without -H was never
 *     acknowledged (the -H rename is the acknowledgement), or its message is completely
 *     delivered (-H goes first at "Completed"); either way no reader will ever use it;
 *   - spare files (.postern-spare.<pid>.*) and -H temporaries (.<id>-H.tmp.<pid>.<n>) of a
 *     process that is dead, or whose pid now belongs to a process started after the file.
 * Each removal is logged to the main log: "spool tidy: removed <path> (<reason>)".
 *
 * When: a daemon sweeps every queue at start; a queue run sweeps at its start only when one is due (the
 * last sweep is more than an hour old, or a process died in a way that can leave orphans:
 * spool_tidy_request). Deciding costs one stat(); the sweep itself runs in a detached child
 * process, so neither the daemon nor the queue run waits for it. */
#ifndef POSTERN_CORE_SPOOL_TIDY_H
#define POSTERN_CORE_SPOOL_TIDY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/spool.h"

/* Files younger than this (by ctime) are never removed as orphans. */
#define SPOOL_TIDY_MARGIN 900
/* A queue run sweeps when the last sweep began longer ago than this. */
#define SPOOL_TIDY_INTERVAL 3600

/* The margin in force: SPOOL_TIDY_MARGIN, or for a process whose real uid is root the value
 * of POSTERN_TIDY_MARGIN (seconds) when set (tests; an administrator clearing up by hand). */
time_t spool_tidy_margin(void);

/* Sweep sc's queue now, in this process. Returns the number of files removed. */
size_t spool_tidy_sweep(const spool_config *sc, time_t margin);

/* If a sweep is due (always when force), start one in a detached child: the stamp file
 * <spool>/db/postern-tidy[-<queue>] is brought up to date here, so a second caller meanwhile does not start
 * another, and the child holds its flock while it works. */
void spool_tidy_start(const spool_config *sc, bool force);

/* A daemon's start: sweep the default queue and then every named queue (each directory
 * <spool>/<name> holding input/ or msglog/), all in one detached child, which holds the default
 * queue's stamp lock until it has done them all. A named queue whose own stamp is locked (its
 * queue run is sweeping it) is skipped. */
void spool_tidy_start_all(const spool_config *sc);

/* Make the next spool_tidy_start sweep (something died that may have left orphans). */
void spool_tidy_request(const spool_config *sc);

#endif
