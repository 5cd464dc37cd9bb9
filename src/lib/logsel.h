/* log_selector: which optional items Exim 4.96 logs.
 *
 * The setting is a sequence of +name / -name items (whitespace between items is optional),
 * applied in order to the default set; "all" names every selector. Names are case-sensitive.
 * The obsolete numeric form "=<number>" (C strtoul syntax, base 0) is accepted when it is the
 * whole setting; its bits select from our selector list in enum order (Exim's internal bit
 * numbering is not documented, so configurations relying on it will differ).
 *
 * Errors are worded exactly as Exim's (the caller prefixes "Exim configuration error"):
 *   unknown log_selector setting: +nonsense
 *   malformed log_selector setting: + or - expected but found "nonsense"
 *   malformed numeric log_selector setting: =pid
 *
 * -bP prints the configured string itself, not a canonical form; logsel_format is for debugging
 * and for writing a set back as a setting that reproduces it.
 */
#ifndef POSTERN_LIB_LOGSEL_H
#define POSTERN_LIB_LOGSEL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/str.h"

typedef enum logsel_id {
	LS_8BITMIME, LS_ACL_WARN_SKIPPED, LS_ADDRESS_REWRITE, LS_ALL_PARENTS, LS_ARGUMENTS,
	LS_CONNECTION_REJECT, LS_DELAY_DELIVERY, LS_DELIVER_TIME, LS_DELIVERY_SIZE, LS_DKIM,
	LS_DKIM_VERBOSE, LS_DNSLIST_DEFER, LS_DNSSEC, LS_ETRN, LS_HOST_LOOKUP_FAILED, LS_IDENT_TIMEOUT,
	LS_INCOMING_INTERFACE, LS_INCOMING_PORT, LS_LOST_INCOMING_CONNECTION, LS_MILLISEC, LS_MSG_ID,
	LS_MSG_ID_CREATED, LS_OUTGOING_INTERFACE, LS_OUTGOING_PORT, LS_PID, LS_PIPELINING, LS_PROTOCOL_DETAIL, LS_PROXY,
	LS_QUEUE_RUN, LS_QUEUE_TIME, LS_QUEUE_TIME_EXCLUSIVE, LS_QUEUE_TIME_OVERALL, LS_RECEIVE_TIME,
	LS_RECEIVED_RECIPIENTS, LS_RECEIVED_SENDER, LS_REJECTED_HEADER, LS_REJECTED_HEADERS, LS_RETRY_DEFER,
	LS_RETURN_PATH_ON_DELIVERY, LS_SENDER_ON_DELIVERY, LS_SENDER_VERIFY_FAIL, LS_SIZE_REJECT,
	LS_SKIP_DELIVERY, LS_SMTP_CONFIRMATION, LS_SMTP_CONNECTION, LS_SMTP_INCOMPLETE_TRANSACTION,
	LS_SMTP_MAILAUTH, LS_SMTP_NO_MAIL, LS_SMTP_PROTOCOL_ERROR, LS_SMTP_SYNTAX_ERROR, LS_SUBJECT,
	LS_TLS_CERTIFICATE_VERIFIED, LS_TLS_CIPHER, LS_TLS_PEERDN, LS_TLS_RESUMPTION, LS_TLS_SNI,
	LS_UNKNOWN_IN_LIST,
	LS__COUNT
} logsel_id;

typedef struct logsel {
	uint64_t bits;
} logsel;

_Static_assert(LS__COUNT <= 64, "log selectors fit one word");

logsel logsel_default(void);
static inline bool logsel_has(const logsel *s, logsel_id id) { return (s->bits >> id) & 1; }
static inline void logsel_set(logsel *s, logsel_id id, bool on)
{
	if (on) s->bits |= (uint64_t)1 << id;
	else s->bits &= ~((uint64_t)1 << id);
}

const char *logsel_name(logsel_id id);
/* The id of a selector name, or -1 (exact, case-sensitive; "all" is not an id). */
int logsel_lookup(sv name);

/* Apply a log_selector setting to the default set. On error returns false, *out is unchanged and
 * err (if not NULL) gets Exim's message. */
bool logsel_parse(sv setting, logsel *out, xbuf *err);
/* A setting that reproduces s from the default: "+name ..." for additions then "-name ..." for
 * removals, in selector order; "" when s is the default. */
void logsel_format(const logsel *s, xbuf *out);

#endif
