/* Deferred directory syncs: the group commit of Maildir new/ directories in queue runs.
 *
 * On a file system without a journal a Maildir delivery syncs its file, links it into new/ and
 * syncs new/ before -H may go (docs/architecture.md, "Delivery durability"). In a queue worker
 * the second sync is left to the runner: the transport child records the directory here
 * instead (the child shares this process's memory), the -J batch it then writes is sealed as
 * pending (valid only until the next boot: journal_seal.h), the worker moves the completed
 * message's -H into the runner's commit directory instead of removing it, and the runner syncs
 * every recorded directory once, then removes those -H files (queue_pool.c). A directory
 * written by several deliveries in the meantime is synced once for all of them. */
#ifndef POSTERN_CORE_DIRSYNC_H
#define POSTERN_CORE_DIRSYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

#define DIRSYNC_MAX 16
#define DIRSYNC_PATH_MAX 1024

typedef struct dirsync_set {
	size_t n;
	char path[DIRSYNC_MAX][DIRSYNC_PATH_MAX];
} dirsync_set;

/* Set by the delivery process around an in-process transport child of a queue worker. */
extern bool dirsync_enabled;
/* The directories the current delivery left unsynced. */
extern dirsync_set dirsync_pending;

/* In the transport, after a link() into dir: true when the sync is left to the runner (the
 * caller then skips its own fsync), false when the caller must sync now. */
bool dirsync_defer(const char *dir);

/* Add dir to s (no duplicates); false when s is full or the name too long. */
bool dirsync_add(dirsync_set *s, const char *dir);
/* fsync every directory of s, then empty it; false (err says which) when one failed. */
bool dirsync_flush(dirsync_set *s, xbuf *err);

#endif
