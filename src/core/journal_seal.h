/* Sealed batches in the -J journal.
 *
 * Postern appends the addresses a transport batch delivered to <id>-J and does not sync them:
 * a kill -9 needs only the page cache. What a sync used to guard against is a power loss on a
 * file system without a journal bringing the file back with a stale block of some freed file in
 * it (a -H lists addresses one per line), which would mark an undelivered recipient delivered.
 * So each batch is followed by a seal line, "#J <16 hex digits>": a 64-bit hash of the message
 * id and the batch's bytes. A reader counts only sealed batches; a stale block cannot carry a
 * seal for this message's id. Files without any seal are Exim's format (Exim syncs its -J) and
 * count line by line, unless a line cannot be an address (a stale block of a -H, -D or
 * msglog). Exim reading a sealed file takes the seal line for one more non-recipient, which
 * matches nothing.
 *
 * A batch written before its Maildir directory was synced (the sync left to the queue runner:
 * core/dirsync.h) is sealed as pending: "#J <hash> <boot id>", and the batch names those
 * directories ("#D <dir>" lines before the seal). Until the next boot it counts (a kill -9
 * loses nothing from the page cache, where the directory entry is too, and a reader that counts
 * it first fsyncs the directories it names: journal_sync_pending); after a reboot it does not (the entry may have been
 * lost with the power while the journal was written back): a duplicate, never a loss.
 * docs/architecture.md, "Delivery durability". */
#ifndef POSTERN_CORE_JOURNAL_SEAL_H
#define POSTERN_CORE_JOURNAL_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

#define JOURNAL_SEAL_PREFIX "#J "

/* Append the seal of batch (the lines just written, newlines included) for message id. */
void journal_seal(xbuf *out, const char *id, sv batch);
/* The same, sealed as pending (valid during this boot only). */
void journal_seal_pending(xbuf *out, const char *id, sv batch);
/* This boot's id (/proc/sys/kernel/random/boot_id), read once; "" when unknown. */
const char *journal_boot_id(void);

/* Before sealing a pending batch: one "#D <dir>" line per directory its delivery left
 * unsynced, part of the batch (so covered by the seal). Readers skip these lines as
 * addresses; Exim reading them takes each for a non-recipient that matches nothing. */
void journal_seal_pending_dirs(xbuf *out, const char *const *dirs, size_t n);
/* For a reader that counted a pending batch (journal_parse said *pending) and will act on it:
 * make what the batch relies on durable: an fsync of each directory the valid pending batches
 * name, or sync() when one names none (an older writer) or a directory cannot be synced.
 * Returns how many directories were synced, -1 when it fell back to sync(). */
int journal_sync_pending(sv text, const char *id);

/* Call add(ctx, address) for every address text counts for message id; returns how many.
 * *pending (when not NULL) says whether a pending batch counted. */
size_t journal_parse(sv text, const char *id, void (*add)(void *ctx, sv address), void *ctx, bool *pending);

#endif
