/* What a queue runner finishes after its workers (queue_commit.c): the removal of completed
 * messages' -D, -J and msglog, and the group commit of Maildir directories (core/dirsync.h):
 * a completed message whose new/ directory is not synced yet has its -H in the runner's
 * commit directory (<spool>/commit/<runner pid>, locked by the runner while it lives); the
 * runner syncs each recorded directory once, then removes those -H files and the rest. */
#ifndef POSTERN_CORE_QUEUE_COMMIT_H
#define POSTERN_CORE_QUEUE_COMMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/dirsync.h"
#include "core/hintsdb.h"
#include "core/message.h"
#include "core/spool.h"

typedef struct qcommit_item {
	char id[MSG_ID_LEN + 1];
	bool committing;              /* its -H is in the commit directory */
} qcommit_item;

typedef struct qcommit {
	char dir[1024];               /* "": no commit directory (syncs stay in the transport) */
	int lock_fd;
	qcommit_item *items;
	size_t n, cap;
	dirsync_set dirs;             /* to sync before the committing items' -H go */
	int pipe_fd;                  /* to the committer process (-1: the runner does it) */
	int committer;                /* its pid */
} qcommit;

/* Create and lock this runner's commit directory (c->dir stays "" when that fails) and start
 * the committer: a child of the runner that receives what qcommit_add is given and does the
 * syncs and removals, so the runner goes on handing out messages meanwhile; whatever arrives
 * while it syncs is committed together by its next sync. */
void qcommit_open(const spool_config *sc, qcommit *c);
/* A reported completed message: rest to remove; committing with the directories (one per
 * line) to sync first. */
void qcommit_add(const spool_config *sc, qcommit *c, const char *id, bool committing, sv dirs);
/* Sync, then remove everything added so far. */
void qcommit_flush(const spool_config *sc, qcommit *c);
/* Flush, remove the (empty) commit directory and unlock it. */
void qcommit_close(const spool_config *sc, qcommit *c);

/* Commit directories of runners that died (not locked): move each -H back into input/ and
 * note the message as due (idx, or the index itself when NULL). Its journal says what was
 * delivered; the next run finishes it. Returns how many such directories there were (each
 * a runner that may also have left files without -H: core/spool_tidy.h). */
size_t qcommit_recover(const spool_config *sc, hintsdb *idx);

/* The directory holding the runners' commit directories of sc's queue (<spool>[/<queue>]/commit). */
bool qcommit_base(const spool_config *sc, char *base, size_t size);

#endif
