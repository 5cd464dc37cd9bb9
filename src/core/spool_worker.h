/* One helper thread per receiving process, for the spool work that need not hold up the SMTP
 * dialogue (docs/spool.md, "Spare files"; bench/accept/README.md for the measurements):
 *
 * - fdatasync of a message's -D file while the session prepares and syncs -H (spool_write.c
 *   waits for it before -H is named, so durability is unchanged);
 * - "spare" files: creating an inode costs this file system 0.3-1.5 ms, three times per
 *   message (-D, the -H temporary, msglog/<id>). A daemon's session asks for a set when a
 *   message has ended (after its 250, for the next one) and when a transaction starts (MAIL
 *   accepted; nothing to do when the set is there); the thread creates them, each as an
 *   unnamed O_TMPFILE inode linked to its name (the allocation outside the directory's lock), (or takes recycled ones that
 *   may hold old bytes, cut by the session: core/spool_recycle.h) under private names
 *   (<spool>/input/.postern-spare.<pid>.D and .H, <spool>/msglog/.postern-spare.<pid>.M) while
 *   the client sends RCPT and DATA; the session then renames each into place, which costs a
 *   directory entry and no inode allocation. The message id (and so its time) is still made
 *   when DATA arrives.
 *
 * A spare is nothing to any queue reader: its name is not a message id's. The session removes
 * unused spares when it ends (spool_spares_release), the daemon removes those of a session
 * that died (spool_spares_remove_for), and a later process with the same pid replaces a leftover.
 * A child forked meanwhile has no thread: everything there is done in line, as before.
 */
#ifndef POSTERN_CORE_SPOOL_WORKER_H
#define POSTERN_CORE_SPOOL_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/spool.h"

typedef enum { SPARE_DATA, SPARE_HEADER, SPARE_MSGLOG, SPARE_KINDS } spare_kind;

/* This process receives messages into sc's spool (a daemon's session process): spares may be
 * made for it. Not with split_spool_directory (the final directory depends on the id). */
void spool_spares_enable(const spool_config *sc);
/* A transaction started: have a set of spares made in the background (no-op unless enabled or
 * when a set is ready already). */
void spool_spares_prepare(void);
/* The same, made now by the caller instead of the thread: for a pre-forked process while it
 * waits for its connection, which then needs no thread unless a message comes. Before each
 * file stop(ctx) (if given) is asked whether to leave the rest (a connection has arrived: the
 * session's MAIL asks the thread for what is missing). */
void spool_spares_make_now(bool (*stop)(void *ctx), void *ctx);
/* A ready spare of that kind for directory dir: its descriptor (opened read-write, or write-only
 * for msglog, never append; mode and owner set) and its name in path. -1 when there is none (not
 * asked for, not made yet, or for another directory): the caller creates the file itself. The
 * caller owns the file from here: rename it into place or unlink it. *stale > 0: a recycled file
 * that still holds that many old bytes; the caller writes from offset 0 and cuts it to its length
 * (spool_recycle_cut) before any reader can see it (core/spool_recycle.h). */
int spool_spare_take(spare_kind k, const char *dir, char *path, size_t size, off_t *stale);
/* The end of the receiving process: stop the thread, remove spares never used. */
void spool_spares_release(void);
/* In the daemon, for a session process that ended abnormally: remove what it may have left. */
void spool_spares_remove_for(const spool_config *sc, pid_t pid);
/* How many spares this process made as unnamed O_TMPFILE inodes linked to their names (the
 * usual way, spool_worker.c) rather than by a named create (tests, measurements). */
unsigned long spool_spares_made_unnamed(void);

/* fdatasync(fd) in the helper thread. False: not started (no thread); the caller syncs itself.
 * Only one at a time; the caller keeps fd open until spool_worker_sync_wait has returned. */
bool spool_worker_sync_start(int fd, unsigned *ticket);
/* Wait for it: 0 or the errno of fdatasync; -1 when it does not belong to this process (a
 * forked child: sync again here). */
int spool_worker_sync_wait(unsigned ticket);
/* The same in one of two slots (0 is the one above): two fdatasyncs run at the same time, each in
 * its own thread; the slot-1 thread starts at its first job. */
bool spool_worker_sync_start_in(int slot, int fd, unsigned *ticket);
int spool_worker_sync_wait_in(int slot, unsigned ticket);

#endif
