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
 * core/dirsync.h) is sealed as pending: "#J <hash> <boot id>". Until the next boot it counts
 * (a kill -9 loses nothing from the page cache, where the directory entry is too, and a reader
 * that counts it first syncs everything); after a reboot it does not (the entry may have been
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

/* Call add(ctx, address) for every address text counts for message id; returns how many.
 * *pending (when not NULL) says whether a pending batch counted. */
size_t journal_parse(sv text, const char *id, void (*add)(void *ctx, sv address), void *ctx, bool *pending);

#endif
