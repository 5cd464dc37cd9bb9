/* Retry rules and retry records (Exim 4.96 "Retry configuration"): the "begin retry" rules
 * (patterns, error types incl. rcpt_4xx, mail_4xx, data_4xx, auth_failed, refused_MX,
 * timeout_connect_A/MX, lost_connection, tls_required, quota[_<time>]; F/G/H items;
 * senders=), retry_data_expire, retry_interval_max, delay_after_cutoff, and the records in the
 * "retry" hints database (src/core/hintsdb.h), keyed as Exim keys them:
 *   host:    "T:<host name>:<ip>" or "T:<host name>:<ip>+<port>" (port when not 25) and, for a
 *            message-specific host error, "T:<host name>:<ip>:<message id>"
 *   address: "R:<domain>" (routing), "R:<local part>@<domain>" (retry_use_local_part) ...
 * The record layout is Postern's own (Exim's hints files are binary and version-specific).
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
} retry_record;

/* Keys (in arena a). */
sv retry_host_key(arena *a, sv host_name, sv host_address, int port, const char *message_id);
sv retry_address_key(arena *a, const address_item *addr, bool use_local_part);
sv retry_domain_key(arena *a, sv domain);

/* The first rule matching key_subject (a host name, domain or address) and error, per Exim's
 * matching rules; NULL: none (no retrying: the item fails at once, as Exim does). */
const conf_retry_rule *retry_find_rule(sv subject, sv domain, int basic_errno, int more_errno,
	sv sender);

/* Read a record (1 found, 0 not, -1 error: treated as not found and logged). */
int retry_read(const char *spool_directory, sv key, retry_record *out, arena *a);

typedef enum retry_due {
	RETRY_DUE,                    /* no record, or its next_try has passed (or forced) */
	RETRY_NOT_DUE,                /* skip: "retry time not reached" */
	RETRY_TIMED_OUT,              /* the cutoff passed: fail (subject to delay_after_cutoff) */
} retry_due;
/* Should key be tried now (now: current time; forced: -M/-qf ignore the wait)? */
retry_due retry_check(const char *spool_directory, sv key, time_t now, bool forced,
	retry_record *rec_out, arena *a);

/* Apply an address's retry items after a delivery attempt (addr->retries; a success deletes its
 * records): computes next_try from the matching rule, retry_interval_max and the cutoff, and
 * marks addr->retry_timedout when the cutoff has passed. Returns the earliest next_try written
 * (0: none). */
time_t retry_update(const char *spool_directory, address_item *addrs, const char *message_id,
	sv sender, time_t now);

#endif
