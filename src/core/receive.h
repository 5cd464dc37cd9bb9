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
#include "lib/logsel.h"

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

/* How the message came in and which fix-ups apply (Exim "Message processing"). The SMTP
 * session leaves everything false (TCP/IP input); -bs sets local; the sendmail interface fills
 * all of it. ACL controls (submission, suppress_local_fixups) come through
 * receive_apply_controls. */
typedef struct receive_opts {
	bool local;               /* locally originated (stdin, -bs): the local fix-ups apply */
	bool trusted;             /* the caller is trusted: no Sender:/From: checks */
	bool sender_local;        /* the envelope sender is the caller's own address (no -f) */
	bool extract_recipients;  /* -t: recipients from To/Cc/Bcc (or Resent-*), Bcc removed */
	const char *const *t_exclude; /* -t: command-line addresses removed from the extracted set */
	size_t nt_exclude;
	sv login;                 /* caller's login (local part of the constructed address) */
	sv fullname;              /* -F, or the gecos name; empty: none */
	xp_env *env;              /* variables for received_header_text etc.; NULL: one is built */
	sv reference_id;          /* a message Postern makes about another one (Exim's -E<id>): the
	                           * arrival line's R= field; empty: none */
	int body_type;            /* SMTP BODY= for the M8S= field: 0 none, 7 7BIT, 8 8BITMIME */
	const char *pipelining;   /* the L field ("L", "L-", "L.", "L.-", "L*"); NULL: none */
	bool fake_reject;         /* control = fakereject: the arrival line starts "(=" */
} receive_opts;

/* Begin receiving into message m (id assigned here, -D opened). */
receive_ctx *receive_begin(message *m, const spool_config *sc, receive_input how, xbuf *err);
/* Set before receive_prepare_headers. Defaults from receive_begin: local when the origin has
 * no host address (-bs), trusted, login from the origin; the rest false/empty, env NULL. */
void receive_set_opts(receive_ctx *r, const receive_opts *o);
/* The controls the MAIL/RCPT/predata (or non-SMTP) ACLs set that change the fix-ups:
 * submission (with domain=/name=), suppress_local_fixups. */
void receive_apply_controls(receive_ctx *r, const acl_controls *c);
/* Feed bytes; *consumed says how many were used. For BDAT, feed exactly the chunk's bytes and
 * pass last=true with the final chunk. */
receive_status receive_feed(receive_ctx *r, const char *p, size_t n, size_t *consumed, bool last);
/* A first line the caller took out before feeding (the UUCP "From " line of local input): it
 * counts for max_received_linelength, and its line end (CRLF or not) sets the message's line
 * ending mode, as in Exim. len excludes the line end. */
void receive_note_skipped_line(receive_ctx *r, size_t len, bool crlf);
/* At end of input for the local modes (EOF). */
receive_status receive_eof(receive_ctx *r);
/* After RECV_TOO_BIG / RECV_HEADER_TOO_BIG / RECV_BAD / RECV_IO_ERROR: writes Exim's log lines
 * ("rejected from <s> H=... U=...: message too big: read=N max=M" to the main log and, with the
 * envelope and headers, to the reject log; "overlong message header line received from ..." /
 * "ridiculously long message header received from ..." to the main log), puts the SMTP reply
 * text into reply ("Message size exceeds maximum permitted", "A message header line is too
 * long", "Message header is ridiculously long") and returns its code (552, or 451). host is
 * the log's "H=name (helo) [ip]" text ("" for local input). */
int receive_reject(receive_ctx *r, receive_status st, const char *host, xbuf *reply);
/* What a local submission tells its caller on stderr after "exim: " for the same cases
 * ("message rejected: message too big (max=M)", ...). */
void receive_reject_local_text(receive_ctx *r, receive_status st, xbuf *out);
/* The reject log's lines after a rejection line: "Envelope-from: <s>", "Envelope-to: <r>" (more
 * recipients indented), then each header line prefixed with its type letter and a space. No
 * final newline. For the SMTP session's rejections after DATA. */
void receive_reject_details(receive_ctx *r, xbuf *out);
/* The parser's counts, for the caller's own checks. */
long long receive_size(const receive_ctx *r);
long long receive_size_limit(const receive_ctx *r);   /* message_size_limit in force; 0: none */
long long receive_lines(const receive_ctx *r);        /* line ends in receive_size's count */
bool receive_in_body(const receive_ctx *r);           /* the header block has ended */

/* After RECV_END: parse the headers into m, add the Received header and the fix-ups. Called
 * before the DATA / non-SMTP ACL so that ACL sees the headers Exim shows it. */
bool receive_prepare_headers(receive_ctx *r, xbuf *err);
/* Whether submission mode replaced the envelope sender with the authenticated client's address
 * (then the message's sender is $sender_address for the DATA ACL). */
bool receive_sender_replaced(const receive_ctx *r);
/* Apply an ACL's add_header/remove_header results to the message. */
void receive_apply_acl_headers(receive_ctx *r, const acl_ctx *acl);
/* The MIME ACL: `spec` (acl_smtp_mime / acl_not_smtp_mime, unexpanded: the engine expands
 * it) once per MIME part through acl_mime_check, only when the message has a Content-Type:
 * header. c is the caller's context, set up with acl_ctx_init (its ops, log prefix and engine
 * state are used; env is c->env). Call after receive_prepare_headers, before the DATA /
 * non-SMTP ACL. Returns the first result that is not ACL_OK (c then holds that run's messages),
 * else ACL_OK; the caller applies c's added/removed headers (receive_apply_acl_headers). */
acl_result receive_mime_acl(receive_ctx *r, sv spec, xp_env *env, acl_ctx *c);
/* The body as received so far (for regex/mime ACL conditions and $message_body): a read-only
 * view of the -D file's contents after its first line (mmap'd or read; bounded). */
bool receive_body(receive_ctx *r, sv *body);
/* Write -H and make everything durable. True: the caller may now send 250 and log "<=". */
bool receive_commit(receive_ctx *r, xbuf *err);
/* Remove the partly received message (on rejection or error). After a commit it only releases
 * the spool lock (like receive_end). */
void receive_abort(receive_ctx *r);
/* After commit (and logging): release the -D lock and close the spool files. */
void receive_end(receive_ctx *r);
/* The client used PRDR for this message (MAIL ... PRDR with more than one recipient): the
 * "<=" line gets Exim's " PRDR" field. */
void receive_note_prdr(receive_ctx *r);
/* The "<=" main log line for a committed message (fields per log_selector). */
void receive_log_arrival(receive_ctx *r);
/* A message discarded by an ACL after it was read: Exim logs its arrival, then
 * "=> blackhole (<why>)" and "Completed"; nothing stays in the spool. */
void receive_discard(receive_ctx *r, const char *why);
/* The message being received. */
message *receive_message(receive_ctx *r);
/* Added (rcvleft): the header section as read so far (LF line ends; after RECV_HEADER_TOO_BIG
 * the first header_maxsize bytes), for the copy in an -oe error message (prog/bm_error.c). */
sv receive_header_text(const receive_ctx *r);
/* Added (rcvleft): RECV_HEADER_TOO_BIG was for the whole section (header_maxsize, not a line):
 * then *maxsize is the limit. */
bool receive_header_section_too_big(const receive_ctx *r, long long *maxsize);
/* Added (bhleft): RECV_HEADER_TOO_BIG was for one header line (header_line_maxsize): then *max
 * is the limit. The header text keeps every header up to the end of the long one. */
bool receive_header_line_too_long(const receive_ctx *r, long long *max);
/* Added (bhleft): why a local message from <> was refused, as Exim 4.96 logs it after "Error
 * while reading message with no usable sender address: " (observed): "message too big (limit
 * set to N)", "excessively long message header line read (more than N characters)",
 * "excessively long message header section read (more than N characters)". */
void receive_reject_nosender_text(receive_ctx *r, receive_status st, xbuf *out);

/* -t: how many To/Cc/Bcc items did not parse (Exim 4.96 logs "<id> bad addresses found in
 * headers" to the main and panic logs, delivers to the others and tells the sender: see
 * prog/bm_error.c, core/submit.c). report: "  <item>: <why>\n" for each; first: the first as
 * "<item> - <why>". An item is shown from where it starts to the end of its header, as Exim
 * shows it. Either pointer may be NULL. */
size_t receive_bad_recipients(receive_ctx *r, sv *report, sv *first);

/* The TLS fields of an arrival line as log_selector ls wants them (" X=.. CV=.. DN=".." SNI=.."),
 * nothing without TLS; the SMTP session's "no MAIL" line has them too. */
void receive_log_tls(const msg_origin *o, const logsel *ls, xbuf *out);

#endif
