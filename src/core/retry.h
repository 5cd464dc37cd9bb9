/* Retry rules and retry records (Exim 4.96 "Retry configuration"): the "begin retry" rules
 * (patterns, error types incl. rcpt_4xx, mail_4xx, data_4xx, auth_failed, refused_MX,
 * timeout_connect_A/MX, lost_connection, tls_required, quota[_<time>]; F/G/H items;
 * senders=), retry_data_expire, retry_interval_max, delay_after_cutoff, and the records in the
 * "retry" hints database (src/core/hintsdb.h), keyed as Exim keys them:
 *   host:    "T:<host name>:<ip>" or "T:<host name>:<ip>:<port>" (port when not 25) and, for a
 *            message-specific host error (4xx to MAIL or DATA), "T:<host name>:<ip>[:<port>]:<id>"
 *   routing: "R:<domain>", or "R:<local part>@<domain>" (the router's retry_use_local_part)
 *   remote 4xx to RCPT: "R:<local part>@<domain>:<sender>" (address_retry_include_sender)
 *   local delivery: "T:<local part>@<domain>", or "T:<domain>" (transport's retry_use_local_part)
 * (observed with Exim 4.96's exim_dumpdb). The record layout is Postern's own (Exim's hints files
 * are binary and version-specific); docs/retry.md describes both.
 *
 * Error numbers and more_errno follow Exim so that dumps and rule matching agree with it:
 * basic_errno is an errno (ECONNREFUSED, ETIMEDOUT ...) or one of Exim's negative numbers
 * (SMTPC_ERRNO_* in src/smtp/client.h, RETRY_ERRNO_* below); for host errors the low byte of
 * more_errno is 'M' (host from an MX record) or 'A', a connect timeout adds RETRY_MORE_CONNECT,
 * and a 4xx reply to RCPT/MAIL/DATA puts (code - 400) in the bits above the low byte
 * (Exim's dump shows 13121 for a 451 from an A host). Use the helpers below to build them.
 */
#ifndef POSTERN_CORE_RETRY_H
#define POSTERN_CORE_RETRY_H

#include <stdbool.h>
#include <time.h>

#include "conf/conf_dump.h"
#include "core/addr.h"
#include "lib/str.h"

typedef struct retry_record {
	int basic_errno, more_errno;
	sv text;
	time_t first_failed, last_try, next_try;
	bool expired;                 /* the rules' cutoff has passed */
	time_t written;               /* when the record was last written (retry_data_expire,
	                               * exim_tidydb); 0 when not read from the database */
} retry_record;

/* Exim 4.96's numbers for errors the retry rules name (besides SMTPC_ERRNO_*). */
enum {
	RETRY_ERRNO_QUOTA = -22,        /* quota: more_errno = seconds since the mailbox was last read
	                                 * (quota_<time> rules), -1 when that is unknown */
	RETRY_ERRNO_UNKNOWNHOST = -32,  /* "lookup": a host's addresses could not be found */
	RETRY_ERRNO_DNSDEFER = -36,     /* "timeout_DNS" */
	RETRY_ERRNO_TLSREQUIRED = -38,  /* "tls_required" */
};
enum { RETRY_MORE_CONNECT = 0x100 };   /* a timeout happened while connecting */
/* more_errno for a host-level error (refused, timeout, lost connection ...). */
int retry_more_errno_host(bool from_mx, bool connect_timeout);
/* more_errno for a 4xx reply (code 400..499) to RCPT, MAIL or DATA. */
int retry_more_errno_smtp(int code, bool from_mx);

/* Does a rule's error field ("*", "refused_MX", "rcpt_45x", "quota_4d" ...) match? */
bool retry_error_matches(const char *error, int basic_errno, int more_errno);

/* The pure next-try computation (table-tested): rule items, the previous record (NULL: first
 * failure, or it is older than retry_data_expire), the time the failure clock starts for scanning
 * the items (first_failed, or the message's arrival when that is earlier for message-related
 * errors), now, retry_interval_max. Fills first_failed/last_try/next_try/expired of out. */
void retry_compute(const conf_retry_rule *rule, const retry_record *old, time_t clock_start,
	time_t now, int interval_max, retry_record *out);

/* Postern's stored form (version byte first); decode false: not a record of this layout. */
void retry_record_encode(const retry_record *r, xbuf *out);
bool retry_record_decode(sv value, retry_record *out, arena *a);

/* Keys (in arena a). */
sv retry_host_key(arena *a, sv host_name, sv host_address, int port, const char *message_id);
sv retry_address_key(arena *a, const address_item *addr, bool use_local_part);
sv retry_domain_key(arena *a, sv domain);
/* "R:<lp>@<domain>:<sender>" for a 4xx to RCPT (sender as given, without <>). */
sv retry_address_sender_key(arena *a, const address_item *addr, sv sender);
/* "T:<lp>@<domain>" (use_local_part) or "T:<domain>" for a local transport's deferral. */
sv retry_local_key(arena *a, const address_item *addr, bool use_local_part);

/* The first rule matching subject (a host name, domain or address) and error, per Exim's
 * matching rules: each rule's pattern is expanded and tried against subject, then against domain
 * (host errors: the host's name first, then the address's domain; SV_NULL: no second try).
 * senders= rules match only when sender is not SV_NULL. NULL: none (no retrying: the item fails
 * at once, as Exim does); a rule without items also means "fail at once". */
const conf_retry_rule *retry_find_rule(sv subject, sv domain, int basic_errno, int more_errno,
	sv sender);

/* Read a record (1 found, 0 not, -1 error: treated as not found and logged). */
int retry_read(const char *spool_directory, sv key, retry_record *out, arena *a);

/* Between these two, retry_read and retry_check in this process share one read-only open of
 * the database instead of opening it per key (the smtp transport checks a host's record and
 * the message's record at that host in a row). Nothing may open the database for writing in
 * between: LMDB allows one environment per file in a process. */
void retry_reads_begin(void);
void retry_reads_end(void);

typedef enum retry_due {
	RETRY_DUE,                    /* no record, or its next_try has passed (or forced) */
	RETRY_NOT_DUE,                /* skip: "retry time not reached" */
	RETRY_TIMED_OUT,              /* the cutoff passed: fail (subject to delay_after_cutoff) */
} retry_due;
/* Should key be tried now (now: current time; forced: -M/-qf ignore the wait)? A record older
 * than retry_data_expire counts as none. RETRY_TIMED_OUT: the record is past its cutoff and
 * its next_try is still ahead (the smtp transport's delay_after_cutoff decides what to do);
 * once next_try passes an expired item is DUE again for one more attempt. */
retry_due retry_check(const char *spool_directory, sv key, time_t now, bool forced,
	retry_record *rec_out, arena *a);

/* Apply an address's retry items after a delivery attempt (addr->retries; a success deletes its
 * records): computes next_try from the matching rule, retry_interval_max and the cutoff, and
 * marks addr->retry_timedout when the cutoff has passed (for host items: when every host item
 * of the address has), when no rule matches, or when the message is older than the rule's
 * final cutoff. Returns the earliest next_try written (0: none). */
time_t retry_update(const char *spool_directory, address_item *addrs, const char *message_id,
	sv sender, time_t now);

#endif
