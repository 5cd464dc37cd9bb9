/* Reports to senders (Exim 4.96 "Customizing bounce and warning messages" and RFC 3464):
 * failure reports (bounces) in Exim's multipart/report format with "<n>-eximdsn-<m>" boundaries,
 * DSN extra information per failed recipient (facts §7), delay warnings (delay_warning,
 * delay_warning_condition, warn_message_file), and success/delay DSNs for NOTIFY=SUCCESS/DELAY.
 * Honour bounce_message_file/_text, bounce_return_message/_body/_size_limit/_linesize_limit,
 * bounce_sender_authentication, dsn_from, errors_reply_to, and RET=HDRS/FULL.
 */
#ifndef POSTERN_CORE_BOUNCE_H
#define POSTERN_CORE_BOUNCE_H

#include <stdbool.h>

#include "core/addr.h"
#include "core/message.h"
#include "core/spool.h"
#include "lib/str.h"

/* A failure report for the failed addresses (linked by next) of m, sent to `to` (the sender or
 * an errors_to address). Pure: the whole message text (headers, blank line, body) into out.
 * data_fd: the -D file (for the returned message; -1: return nothing). */
bool bounce_format_failure(const message *m, int data_fd, const address_item *failed, sv to,
	xbuf *out, xbuf *err);
/* Format and submit it (src/core/submit.h). false: the caller freezes the message, as Exim does
 * when a bounce cannot be sent. *new_id: the bounce's id, for the "<id> Error message sent to"
 * style log lines; may be NULL. */
bool bounce_send_failure(const spool_config *sc, const message *m, int data_fd,
	const address_item *failed, sv to, char new_id[MSG_ID_LEN + 1], xbuf *err);

/* A delay warning when delay_warning says one is due for m (m->warning_count updated by the
 * caller from *sent_count). deferred: the still-deferred addresses. true also when none was
 * due. */
bool bounce_maybe_warn(const spool_config *sc, message *m, int data_fd,
	const address_item *deferred, time_t now, xbuf *err);

/* Success DSNs for delivered addresses that asked NOTIFY=SUCCESS (relayed to a host that does
 * not do DSN, or delivered locally). */
bool bounce_send_success_dsn(const spool_config *sc, const message *m, int data_fd,
	const address_item *delivered, xbuf *err);

#endif
