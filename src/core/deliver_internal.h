/* Pieces of the delivery process shared by its files (src/core/deliver*.c); not an interface for
 * other modules. */
#ifndef POSTERN_CORE_DELIVER_INTERNAL_H
#define POSTERN_CORE_DELIVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/driver.h"
#include "core/addr.h"
#include "core/deliver.h"
#include "core/message.h"
#include "core/spool.h"
#include "lib/str.h"

/* ---- deliver_result.c: the child -> parent outcome records ----
 * One record per address: "DRES" | u32 payload length | payload | u32 FNV-1a of the payload.
 * The payload is a sequence of fields (u8 tag, u32 length, bytes); strings carry a taint byte
 * first. A record is accepted only when it is complete, its checksum matches, every field is
 * known and well-sized, it names an address of the batch that has no record yet, and its result
 * is a final one. The parser never reads past the buffer it is given. */
#define DRES_MAX_RECORD ((size_t)256 << 10)   /* one address's record */
#define DRES_MAX_TOTAL ((size_t)16 << 20)     /* everything one child may send */

/* Append addr's outcome as the record for batch position index. */
void dres_encode(xbuf *out, uint32_t index, const address_item *addr);
/* Apply the records in buf to addrs[0..n-1] (strings copied into a). got[i] is set for each
 * address that received a valid record. Stops at the first malformed record: returns false with
 * the reason in err (earlier valid records stay applied). */
bool dres_decode(arena *a, const void *buf, size_t len, address_item **addrs, bool *got, size_t n,
	xbuf *err);

/* ---- deliver_log.c: log lines and msglog ---- */
typedef struct dlog_ctx {
	const spool_config *sc;
	const message *m;
	bool dont_deliver;            /* -N: "*>" */
} dlog_ctx;
/* The address as Exim shows it first in a delivery line, then " <top ancestor>" when it differs
 * (local deliveries show the local part). */
void dlog_address(const address_item *a, bool local, xbuf *out);
/* "=>" / "->" / "*>" line text (without the flag) for a successful delivery. */
void dlog_format_success(const address_item *a, const driver_instance *t, bool local, xbuf *out);
/* "==" line text (no flag) for a deferred address (routing or transport). */
void dlog_format_defer(const address_item *a, xbuf *out);
/* The "==" line text (no flag) a later queue run logs for a deferred address it skips because
 * the retry time is not reached: for a routing deferral, or (routing false) a remote one. */
void dlog_format_retry_skip(const address_item *a, bool routing, xbuf *out);
void dlog_format_local_retry_skip(const address_item *a, xbuf *out);
/* "**" line text (no flag) for a failed address. */
void dlog_format_fail(const address_item *a, xbuf *out);
void dlog_success(const dlog_ctx *c, const address_item *a, const driver_instance *t, bool local, bool first);
void dlog_defer(const dlog_ctx *c, const address_item *a);
/* The same line in the main log only. */
void dlog_defer_main(const address_item *a);
/* An address a queue run leaves alone because its routing retry record is not due: Exim 4.96's
 * "== a@x routing defer (-52): retry time not reached", in the main log only (not the msglog). */
void dlog_routing_retry_skip(const address_item *a);
void dlog_fail(const dlog_ctx *c, const address_item *a);
void dlog_discard(const dlog_ctx *c, const address_item *a);
/* A failure that sends no report (ignore_error, or a failure report's own failure past
 * ignore_bounce_errors_after or by retry timeout): Exim's "<addr> [<parent>]: error ignored". */
void dlog_error_ignored(const address_item *a);

typedef struct dctx dctx;

/* ---- deliver_journal.c ---- */
/* Append finished addresses (their top-level recipient addresses, one a line) to <id>-J as
 * one sealed batch (not synced: deliver_journal.c). */
bool djournal_append(const spool_config *sc, const char *id, const sv *addrs, size_t n, xbuf *err);
void djournal_remove(const spool_config *sc, const char *id);
/* A finished message's remaining files (-D, -J, msglog) after -H was unlinked, without a
 * directory sync (docs/architecture.md, "Delivery durability"). */
void dspool_remove_rest(const spool_config *sc, const char *id);
/* The journal opened for appending (-1 + err on failure), and writes through it: the transport
 * child journals what it delivered itself, before it reports, so a delivery process killed
 * while its child finishes cannot lead to a second delivery. djournal_write_fd: the session-6
 * form (plain lines, fdatasync), no longer used by Postern's own deliveries. */
int djournal_open(const spool_config *sc, const char *id, xbuf *err);
bool djournal_write_fd(int fd, const sv *addrs, size_t n, xbuf *err);
/* One batch and its seal (core/journal_seal.h) in one write(), not synced (deliver_journal.c). */
bool djournal_write_sealed(int fd, const char *id, const sv *addrs, size_t n, xbuf *err);

/* ---- deliver_filter.c: the system filter ----
 * Runs system_filter for the message (once per attempt). New deliveries it sets up are
 * returned in *extra (to be routed / delivered like recipients, with no recipient index);
 * fail/freeze/defer and "significant" deliveries set d->originals_stop so the original
 * recipients are not routed. Failed originals are put on d's failed list. */
void dfilter_run(dctx *d, address_item **extra_route, address_item **extra_local);

/* ---- deliver_local.c / deliver_remote.c ---- */
typedef struct dbatch {
	struct dbatch *next;
	const driver_instance *t;
	address_item *addrs;          /* linked by next */
	size_t n;
	pid_t pid;
	int fd;                       /* read end of the result pipe */
	xbuf buf;                     /* what the child sent so far */
	bool journal_child;           /* the child was given the journal to write */
	bool journaled;               /* ... and said (exit status 0) that it journaled what it
	                               * delivered: the delivery process need not write it again */
	bool inproc;                  /* ran in the delivery process (deliver_inproc.c): no child */
	bool inproc_records;          /* ... and left result records in buf, as a forked child sends
	                               * them (remote transports): dbatch_finish applies them */
	int inproc_status;            /* ... and its exit status (0 or DCHILD_EXIT_UNJOURNALED) */
	bool remote;                  /* a remote transport's batch (set by dbatch_start) */
	bool alone;                   /* nothing else of the delivery runs while it does (no other
	                               * remote batch in parallel): it may run in a shared-memory child */
	int64_t deadline_ms;          /* when the child is killed (deliver_wait.h; INT64_MAX: never) */
} dbatch;
/* The exit status of a transport child whose journal write failed (the delivery process then
 * journals the batch's deliveries itself). */
#define DCHILD_EXIT_UNJOURNALED 3

/* One delivery's state. */
struct dctx {
	const spool_config *sc;
	message *m;
	int data_fd;                  /* the locked -D file */
	const deliver_opts *o;
	xp_env *env;                  /* message variables */
	arena *a;
	dlog_ctx log;
	bool dont_deliver;            /* -N (command line or the message's -N flag) */
	/* What the attempt found, for the end of the delivery. */
	address_item **failed, **deferred, **succeeded;
	size_t nfailed, ndeferred, nsucceeded, cap_failed, cap_deferred, cap_succeeded;
	/* recipients left alone because their routing retry record is not due (recipient order) */
	address_item **rskipped;
	size_t nrskipped, cap_rskipped;
	bool *top_pending;            /* per recipient: something under it is not finished */
	time_t next_due;
	bool freeze;
	const char *freeze_reason;
	bool freeze_logged;           /* the reason was logged already (system filter) */
	bool extra_pending;           /* an address the system filter added is not finished */
	bool child_died;              /* a transport process died: what it journaled goes into -H */
	bool originals_stop;          /* the system filter said fail/freeze/defer or delivered */
	int journal_fd;               /* -J open for appending, for transport children; -1: not yet */
	address_item **onetime;       /* deferred children of one_time routers: new recipients */
	size_t nonetime, cap_onetime;
	/* Deferrals past their retry rules' cutoff: they fail after the last transport. */
	address_item **timedout;
	size_t ntimedout, cap_timedout;
};
/* Run a batch's transport in a forked child; false: could not start (addresses deferred). */
bool dbatch_start(dctx *d, dbatch *b, bool remote);
/* Wait for the child and collect its records; every address ends with a final result. */
void dbatch_finish(dctx *d, dbatch *b);
/* Read what the child sent so far; false at end of file. */
bool dbatch_read(dbatch *b);
/* deliver_inproc.c: whether a batch's transport runs in a child that shares the delivery
 * process's memory, and running it there as uid/gid in dir (results in the addresses and the
 * journal written when it returns true; false: it could not start, fork instead). */
bool dinproc_eligible(const dctx *d, const dbatch *b, bool remote);
bool dinproc_run(dctx *d, dbatch *b, bool remote, uid_t uid, gid_t gid, const char *name, const char *dir);
/* End the appendfile child a queue worker keeps between batches of one user (deliver_inproc.c), if
 * any: before the worker exits or forks a process that must not share it. */
void dinproc_release(void);
/* The delivery process's exit status after such a child died abnormally. */
#define DELIVER_EXIT_TRANSPORT_DIED 70

/* deliver_remote.c: group remote addresses by transport and host list and run the groups, at
 * most remote_max_parallel at once; each finished batch goes to dpost_batch. */
void dremote_run(dctx *d, address_item *list);
/* Local batches (deliver.c). */
void dlocal_run(dctx *d, address_item *list);
/* deliver.c: everything after a batch's child has finished (logs, journal, retry, events). */
void dpost_batch(dctx *d, dbatch *b, bool remote);

/* deliver_route_retry.c: the routing retry record for an address a router deferred (written at
 * once; d->next_due learns its next try), and removing a top-level address's routing records
 * (keys[0..n-1]) once it routes again. */
void droute_retry_defer(dctx *d, address_item *a);
void droute_retry_clear(dctx *d, address_item *top, const sv *keys, size_t n);

/* ---- deliver_local_retry.c: local deliveries' retry records (Exim's "T:<lp>@<domain>") ----
 * dlocal_retry_skip: a queue run that is not forced leaves a local address alone while its
 * record is not due (the address is posted as "defer (-53): Retry time not yet reached"; true).
 * dlocal_retry_items: a finished local batch's retry items (deferrals; deletions after a success
 * when a record existed), before retry_update. dretry_timedout_add: an address whose deferral
 * is past its rules' cutoff, to fail after every transport has run. */
bool dlocal_retry_skip(dctx *d, address_item *a);
void dlocal_retry_items(dctx *d, dbatch *b);
void dretry_timedout_add(dctx *d, address_item *a);
/* The "T:" key of a's local retry record (SV_NULL: none kept for it), added for deliver_died.c. */
sv dlocal_retry_key(const address_item *a);

#endif
