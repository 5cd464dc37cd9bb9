/* Recycled spool files: the files of ended messages are kept as empty-to-be files and reused
 * as new messages' files instead of being unlinked and created again.
 *
 * Why: a message costs four inodes here (-D, -H, msglog, and the delivery's -J), each made and
 * freed once. On an ext4 file system without a journal (the benchmark machine's) every inode
 * allocation skips, one by one, the inodes of its group freed in the last minutes, so the cost
 * of a create grew with the mail flow (a quarter of the receiving processes' CPU went there
 * at a few hundred messages a second). A file renamed into the pool and renamed out again
 * keeps its inode: no allocation, no free.
 *
 * The pool is <spool>/input/.postern-free/ (a dot name: no queue reader, Exim's or ours, takes
 * it for a message), files named by slot number (SPOOL_RECYCLE_SLOTS, or SPOOL_RECYCLE_SMALL_SLOTS
 * for files of one block) and emptied ones named e<slot> (spool_recycle_remove_emptied). A file goes in
 * with its content (a power loss that loses the rename must bring back the message file as it
 * was, exactly as a lost unlink would) and is emptied when it is taken, by the process that
 * gives it its next name, before anything is written into it (or, for spares, overwritten and
 * cut to its new length before anything reads it: spool_recycle_take_stale); a file some process still holds
 * locked (a delivery keeps its -D locked until it exits) is not taken. Both moves are renames without
 * replacement, so two processes never get the same file. Only for the default queue without
 * split_spool_directory (where spare files exist, core/spool_worker.h).
 */
#ifndef POSTERN_CORE_SPOOL_RECYCLE_H
#define POSTERN_CORE_SPOOL_RECYCLE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "core/spool.h"

/* Slots for files with content of any size ("<n>", n below this). */
#define SPOOL_RECYCLE_SLOTS 64
/* Files with content of at most one block (st_blksize) take the slots from SPOOL_RECYCLE_SLOTS up
 * to this (not the 64 below, which they would otherwise crowd out of larger files), and
 * emptied files ("e<n>") as many. Why so many: a queue run's committer puts every file of a
 * delivered message (-H, -D, msglog with their content, -J emptied) and nothing but its workers'
 * journals takes any back while it runs; with room for 64, the rest were unlinked, and on a file
 * system mounted with discard each unlink of a file with a block on disk waits for a discard
 * (0.6-0.7 ms each here, three per message, one after the other in the committer: the run could
 * not go faster than ~400 messages a second whatever queue_run_parallel said; bench/deliver/
 * README.md, session 15). A small file keeps its one block, which the spare that takes it
 * overwrites (spool_recycle_take_stale): no block is freed, no inode. 4096 hold the files of a
 * run of about 1,300 messages (16 MB at most); the orphan sweep removes what has waited
 * SPOOL_RECYCLE_MAX_AGE, and a taker reads at most SPOOL_RECYCLE_LIST names of each kind at a
 * time, each reading going on where its last one stopped. */
#define SPOOL_RECYCLE_SMALL_SLOTS 4096
#define SPOOL_RECYCLE_EMPTIED_SLOTS 4096
#define SPOOL_RECYCLE_LIST 256

/* Remove path, a file of an ended message (or an unused spare) in sc's spool: into the pool
 * when there is room, else unlinked. 0, or -1 with errno as unlink(2) sets it (ENOENT: it was
 * not there). */
int spool_recycle_remove(const spool_config *sc, const char *path);
/* The same for a spool whose (unsplit, default-queue) input directory is input_dir. */
int spool_recycle_remove_in(const char *input_dir, const char *path);
/* spool_recycle_remove for a -J journal: emptied first, under its own name, by the process that
 * ends with it, so that the next journal (which must start empty: its writers append) takes it
 * without freeing blocks on its delivery's path (core/deliver_journal.c). Only for a file no
 * reader needs any more: -H is gone, or rewritten with the journal's addresses. */
int spool_recycle_remove_emptied(const spool_config *sc, const char *path);

/* An emptied file from the pool of the spool whose input directory is input_dir, renamed to dest
 * (which must not exist) and opened with flags (O_WRONLY/O_RDWR, O_APPEND...); owned by uid
 * (when not -1) and with the given mode. -1 when the pool has no emptied file or nothing usable
 * was found (the caller creates the file as before: a new inode costs less than emptying a file
 * with content, whose freed block would be discarded on the caller's path). */
int spool_recycle_take(const char *input_dir, const char *dest, int flags, mode_t mode, uid_t uid, gid_t gid);

/* The same for a file the caller overwrites from offset 0 and cuts to its final length before
 * any reader can see it (spool_recycle_cut): a pool file of at most one block keeps its old
 * bytes, since emptying it would free its block, which costs 1-4 ms here (a discard-mounted
 * file system discards freed blocks at once); a longer one is emptied as above. *stale: how many
 * old bytes the file still holds (0 when it was emptied or none was taken). Opened without
 * O_APPEND whatever flags says (an append would go after the old bytes).
 *
 * Why no byte of an old message can be read as part of a new one: the file keeps the name it
 * was taken under (a private spare name, or a -D that no reader looks at until its -H exists)
 * until the caller's cut; every reader of a message's files reads them only after the -H
 * exists, and the -H is named after the cut of its own temporary and of its -D. A process killed
 * before its cut leaves a private file or a -D without -H: no message to Exim or to Postern, and
 * removed by the session's daemon or the orphan sweep. After a power loss the integrity line
 * (core/spool_integrity.h) finds a -D or -H whose cut did not reach the disk (size or sum). */
int spool_recycle_take_stale(const char *input_dir, const char *dest, int flags, mode_t mode, uid_t uid, gid_t gid,
	off_t *stale);
/* The final cut: the file fd, written from offset 0 up to len, is made exactly len bytes long
 * when old bytes lie beyond (*stale > len); *stale becomes 0. False with errno when ftruncate
 * fails (the caller then fails as for a write error). */
bool spool_recycle_cut(int fd, off_t *stale, off_t len);

/* Remove what has waited in the pool for max_age seconds or more: a quiet server does not keep
 * the content of old messages there (the orphan sweep calls this). */
#define SPOOL_RECYCLE_MAX_AGE (15 * 60)
void spool_recycle_expire(const spool_config *sc, time_t max_age);

/* Counters for tests and the benchmark. */
typedef struct spool_recycle_stats {
	unsigned long put, put_full, taken, take_empty;
	unsigned long listed; /* times the pool directory was read (by take) */
} spool_recycle_stats;
spool_recycle_stats spool_recycle_get_stats(void);

#endif
