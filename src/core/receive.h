/* Message reception: turns the bytes of a message (SMTP DATA, BDAT chunks, or a local
 * submission on stdin) into a spooled message — header parsing, size and line limits, the body
 * into the -D file, header fix-ups (Received, Message-ID, Date, From/Sender for local
 * submissions, Return-Path/Envelope-To/Delivery-Date removal), ACL-added headers — and commits it
 * durably. The SMTP session calls this; so does the sendmail interface.
 *
 * It is a push parser: receive_feed() takes whatever bytes the caller has and returns how many
 * it consumed, stopping exactly after the terminating "." line for DATA, so pipelined commands
 * that follow stay in the caller's buffer.
 */
#ifndef POSTERN_CORE_RECEIVE_H
#define POSTERN_CORE_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/acl.h"
#include "core/message.h"
#include "core/spool.h"

typedef enum receive_input {
	RECV_SMTP_DATA,     /* CRLF (or bare LF) lines, dot-stuffed, ends with "." */
	RECV_SMTP_BDAT,     /* raw chunks; the caller says which is LAST */
	RECV_LOCAL_DOT,     /* local submission without -oi: a line with only "." ends it */
	RECV_LOCAL_EOF,     /* -oi / -i: only end of input ends it */
} receive_input;

typedef enum receive_status {
	RECV_MORE,          /* feed more */
	RECV_END,           /* the end of the message was seen (DATA "." / LAST chunk / EOF) */
	RECV_TOO_BIG,       /* message_size_limit exceeded: the caller keeps reading to the end, then 552 */
	RECV_HEADER_TOO_BIG,/* header_maxsize / header_line_maxsize: 552 after the end */
	RECV_BAD,           /* e.g. NUL in headers where not allowed, bare CR; err says which */
	RECV_IO_ERROR,      /* spool write failed: 451 */
} receive_status;

typedef struct receive_ctx receive_ctx;

/* Begin receiving into message m (id assigned here, -D opened). */
receive_ctx *receive_begin(message *m, const spool_config *sc, receive_input how, xbuf *err);
/* Feed bytes; *consumed says how many were used. For BDAT, feed exactly the chunk's bytes and
 * pass last=true with the final chunk. */
receive_status receive_feed(receive_ctx *r, const char *p, size_t n, size_t *consumed, bool last);
/* At end of input for the local modes (EOF). */
receive_status receive_eof(receive_ctx *r);

/* After RECV_END: parse the headers into m, add the Received header and the fix-ups. Called
 * before the DATA / non-SMTP ACL so that ACL sees the headers Exim shows it. */
bool receive_prepare_headers(receive_ctx *r, xbuf *err);
/* Apply an ACL's add_header/remove_header results to the message. */
void receive_apply_acl_headers(receive_ctx *r, const acl_ctx *acl);
/* The body as received so far (for regex/mime ACL conditions and $message_body): a read-only
 * view of the -D file's contents after its first line (mmap'd or read; bounded). */
bool receive_body(receive_ctx *r, sv *body);
/* Write -H and make everything durable. True: the caller may now send 250 and log "<=". */
bool receive_commit(receive_ctx *r, xbuf *err);
/* Remove the partly received message (on rejection or error). */
void receive_abort(receive_ctx *r);
/* The "<=" main log line for a committed message (fields per log_selector). */
void receive_log_arrival(receive_ctx *r);

#endif
