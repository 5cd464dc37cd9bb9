/* The spool's integrity line: what lets a message's -H get its name before its content is on
 * disk, so that one device flush instead of two stands between the end of DATA and the 250
 * (docs/spool.md, "Durability").
 *
 * Exim's order is: -D and -H content durable, then the rename of -H, then the directory durable:
 * two flushes one after the other, because after a crash a named -H must never stand for
 * content that did not reach the disk. Postern renames first and makes all three durable at once;
 * the 250 still waits for all of them. A crash in that window can leave a named -H whose -D or
 * own content is incomplete (zeros, shorter, or a recycled file's older content) — of a message
 * that was never acknowledged. The line tells such a file from a good one:
 *
 *   -postern_sum <boot id> <-D size> <CRC-64 of -D> <CRC-64 of -H without this line>
 *
 * It is the fifth line, the first option line (Exim's reader ignores option lines it does not
 * know, facts §1). The boot id is the kernel's (/proc/sys/kernel/random/boot_id): a reader in the
 * same boot sees what was written (the page cache survives any process's death), so only a
 * reader after a restart checks the sums, once per delivery attempt, until a delivery rewrites
 * -H (a rewrite is durable before its rename, as Exim's, and carries no line).
 */
#ifndef POSTERN_CORE_SPOOL_INTEGRITY_H
#define POSTERN_CORE_SPOOL_INTEGRITY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/spool.h"
#include "lib/str.h"

/* This boot's id (36 characters), or NULL when it cannot be read: then nothing may be renamed
 * before it is durable, and the spool commits in Exim's order. */
const char *spool_boot_id(void);

/* Insert the line into h (the -H text from spool_format_header) after its fourth line. dsize and
 * dcrc describe the -D file as written. False when h has no fourth line or there is no boot id. */
bool spool_integrity_insert(xbuf *h, uint64_t dsize, uint64_t dcrc);

typedef enum {
	SPOOL_INTEGRITY_NONE,  /* no line: written by Exim, by a rewrite, or in Exim's order */
	SPOOL_INTEGRITY_SAME,  /* written in this boot: nothing to check */
	SPOOL_INTEGRITY_OK,    /* written before a restart, and both files are as they were written */
	SPOOL_INTEGRITY_BAD,   /* written before a restart and not as written: never acknowledged */
} spool_integrity;

/* Check a -H text read with spool_read_header_ex (info has the line's place) against the -D
 * file open at dfd (read with pread: its offset is not moved). BAD sets why. */
spool_integrity spool_integrity_check(const spool_parse_info *info, int dfd, xbuf *why);

/* Move a BAD message's -H, -D and msglog out of the queue into <spool>[/<queue>]/unacked/ and
 * make it durable there; false with err when a file could not be moved (it stays where it is). */
bool spool_integrity_quarantine(const spool_config *sc, const char *id, xbuf *err);

#endif
