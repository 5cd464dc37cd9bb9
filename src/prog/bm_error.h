/* Errors found while a local (non-SMTP) message is being received, reported as Exim 4.96's
 * -oe options say: by mail to the sender (-oem, the default, and -oee, the default for rmail) or
 * on stderr (-oep, -oeq). */
#ifndef POSTERN_PROG_BM_ERROR_H
#define POSTERN_PROG_BM_ERROR_H

#include "lib/str.h"
#include "prog/cmdline.h"

/* A malformed recipient on the command line. sender is the envelope sender (empty: <>, which
 * gets nothing, as with Exim); the message is read from input_fd for the copy. Returns the exit
 * status: 0 only under -oee when the error message was spooled, else 1. */
int bm_bad_recipient(const cmdline *cl, sv sender, const char *address, const char *why, int input_fd);

/* -t found no recipients (Exim 4.96, observed): under -oem/-oew/-oee a "Mail failure - no
 * recipient addresses" message goes to the sender, with References: naming the message's
 * Message-Id and a copy of the message as received (header fix-ups included, our Received: not);
 * its arrival line has R=<id>. Nothing is printed; status 1 (0 with -oee once it is spooled).
 * Under -oep/-oeq, or for a <> sender, "exim: no recipients in message" on stderr, status 1.
 * m: the message (its headers after receive_prepare_headers); body: its -D contents. */
struct message;
int bm_no_recipients(const cmdline *cl, const struct message *m, sv body);

/* acl_not_smtp refused the message (deny or defer; Exim 4.96, observed): under -oem/-oew/-oee
 * "Mail failure - rejected by local scanning code" goes to the sender with the ACL's message
 * and a copy of the message including our Received: header; nothing on stderr; status 1 (0
 * with -oee once spooled). Under -oep/-oeq (or for a <> sender) "exim: message rejected by
 * non-SMTP ACL: <text>" on stderr, status 1. user_text: the ACL's message, or Exim's "local
 * configuration problem". body: the -D contents. */
int bm_acl_refused(const cmdline *cl, const struct message *m, sv body, const char *user_text);

/* The message passed message_size_limit (Exim 4.96, observed): by mail "Mail failure - message
 * too big" with the message as read (header fix-ups included, no Received:) and the line "No
 * more than <smaller of the two limits> characters of the body are included"; or on stderr
 * "exim: message rejected: message too big (max=<limit>)". Status as bm_acl_refused. */
int bm_too_big(const cmdline *cl, const struct message *m, sv body, long long size_read, long long size_limit);

/* The header section passed header_maxsize (Exim 4.96, observed): by mail "Mail failure -
 * overlong header section" (no References:, no R=: Exim sends it before the message has an
 * id) with the first header_maxsize bytes of the header section as the copy; or on stderr
 * "exim: message header longer than <n> characters received: message not accepted". Status as
 * bm_acl_refused. */
int bm_header_too_big(const cmdline *cl, const struct message *m, sv headers, long long maxsize);

/* A header line passed header_line_maxsize (Exim 4.96, observed): as bm_header_too_big, with
 * "Mail failure - overlong header line" and, as the copy, the header lines up to the end of the
 * long one (with its continuations); on stderr "exim: message header line longer than <n>
 * characters received: message not accepted". The error message must itself keep to the limit
 * (Exim reads it back with the same configuration): when one of its header lines does not,
 * nothing is spooled, the refusal is logged and the status is 1.
 *
 * For all of these: a message from <> gets no error message; under -oem/-oew/-oee Exim logs
 * "Error while reading message with no usable sender address: <why>" and prints nothing.
 * When the error message cannot be spooled, "Child mail process returned status 1" is logged
 * and the status is 1. */
int bm_header_line_too_long(const cmdline *cl, const struct message *m, sv headers, long long max);

/* -t found To/Cc/Bcc items that do not parse (Exim 4.96, observed; receive_bad_recipients
 * gives report, nbad and first). The message still goes to the others. To a sender, "Mail
 * failure - malformed recipient address" listing the items, saying whether the others were
 * passed on, with a copy of the message as received (header fix-ups, no Received:); for a <>
 * sender the line "Error while reading message with no usable sender address: at least one
 * malformed recipient address: <first>". Under -oep/-oeq (whatever the sender) the message is
 * not accepted at all: "exim: invalid address:  <item>: <why>" (or "exim: invalid addresses:"
 * and one line per item) on stderr, and *refused is set. Returns the exit status: 1 when
 * refused or when there are no other recipients (0 under -oee when the report was sent), else
 * 0. */
int bm_bad_header_recipients(const cmdline *cl, const struct message *m, sv body, sv report, size_t nbad,
	sv first, bool *refused);

#endif
