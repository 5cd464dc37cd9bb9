/* The wait-<transport> hints records: which messages wait for a host (wait_records.c).
 *
 * Layout, as Exim 4.96 keeps it (observed with exim_dumpdb/exim_fixdb after queueing 62 messages
 * for one host with -odqs): the record keyed by the host's name holds up to WAIT_NAME_MAX ids in
 * the order they were added. Adding to a full record moves its ids to a continuation record
 * keyed "<host>:<n>" (n = 0, 1, ...) and starts the main record again with the new id; the main
 * record's sequence is the number of the next continuation. A continued delivery takes ids from
 * the main record, newest first; when the main record is used up the highest continuation is
 * moved back into it. exim_tidydb drops ids of messages no longer on the spool and moves a
 * continuation into an emptied main record ("renamed <host>:<n>").
 *
 * Postern's value (its own LMDB file, never Exim's): "@<time stamp> +<sequence> id id ...";
 * the "@" and "+" tokens are optional (records written before they existed have neither). */
#ifndef POSTERN_CORE_WAIT_RECORDS_H
#define POSTERN_CORE_WAIT_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/hintsdb.h"
#include "lib/arena.h"
#include "lib/str.h"

enum {
	WAIT_NAME_MAX = 50,        /* ids in one record before a continuation is started */
	WAIT_RECORD_IDS_MAX = 1000 /* ids decoded from one record (older Postern records were longer) */
};

typedef struct wait_record {
	time_t stamp;           /* when written; 0: not recorded */
	int sequence;           /* main record: next continuation number */
	size_t n;
	sv ids[WAIT_RECORD_IDS_MAX]; /* point into the decoded value */
} wait_record;

/* Never fails: unknown tokens are taken as ids (exim_tidydb then drops them), except ones
 * starting with "@" or "+" that are not the leading metadata (dropped). A run of ids written back
 * to back is split into ids. */
void wait_record_decode(sv value, wait_record *r);
void wait_record_encode(const wait_record *r, xbuf *out);
/* "<host>:<n>" */
sv wait_record_cont_key(arena *a, sv host, int n);
/* True for a continuation key ("<host>:<digits>"); *host_len gets the length of its host part. */
bool wait_record_is_cont_key(sv key, size_t *host_len);

/* Record that message id waits for host (nothing when it already is, in the main record or a
 * continuation). False on a database error. *chained (may be NULL) is set when the main record
 * was full and a continuation was started (what queue_fast_ramp reacts to). */
bool wait_record_add(hintsdb *db, sv host, sv id, time_t now, bool *chained);

/* Take the next message waiting for host, newest first, skipping current (which stays: it may
 * be waiting for another of its hosts) and dropping ids for which usable() says false. id_out
 * gets the id (MSG_ID_LEN + 1 bytes). */
typedef bool (*wait_usable_fn)(void *ctx, sv id);
bool wait_record_take(hintsdb *db, sv host, sv current, wait_usable_fn usable, void *ctx, char *id_out);

#endif
