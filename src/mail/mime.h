/* MIME structure of a message, walked part by part as Exim's MIME ACL sees it (Exim 4.96
 * "Scanning MIME parts"; values checked with logwrite in acl_not_smtp_mime):
 *
 *   - the message itself is the first part (part count 0, always a cover letter); each part of
 *     a multipart follows in order, nested multiparts depth first, the part count rising by one
 *     for each; multipart containers are parts too;
 *   - an attached message (a message/rfc822 part) is walked as a message of its own after the
 *     message containing it has been walked completely (attached messages in the order they
 *     were met): its parts have is_rfc822 set and their own count from 0;
 *   - cover letters: the outermost part is one; the parts of a multipart/alternative or
 *     multipart/related cover letter are; of any other multipart cover letter only the first
 *     part is; nothing inside an attachment is;
 *   - header values are "normalised" as Exim does: white space and (comments) removed, the
 *     value up to the first ';' (Content-Type, Content-Disposition and Content-Transfer-Encoding
 *     lower-cased); parameters (charset, boundary, name, filename) are taken from the raw text,
 *     quotes removed; the file name comes from Content-Disposition's filename (RFC 2231
 *     filename* allowed) or else Content-Type's name, with RFC 2047 encoded words decoded.
 *
 * Pure and bounded: no recursion (an explicit stack of MIME_MAX_DEPTH containers; deeper
 * nesting is not entered), at most MIME_MAX_PARTS parts, views into the caller's text.
 */
#ifndef POSTERN_MAIL_MIME_H
#define POSTERN_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"
#include "lib/str.h"

enum { MIME_MAX_DEPTH = 20, MIME_MAX_PARTS = 10000, MIME_MAX_ATTACHED = 64 };

typedef struct mime_part {
	sv headers;            /* the part's header lines (for the top part: the message's) */
	sv body;               /* its content, still encoded */
	sv content_type;       /* "text/plain": lower case, no parameters; empty: no header */
	sv charset, boundary, filename;
	sv disposition, transfer_encoding, content_id, description;
	bool is_multipart, is_rfc822, is_coverletter;
	int part_count;
	int depth;             /* containers around it */
} mime_part;

typedef struct mime_frame {
	sv body;               /* multipart: the text holding the parts */
	sv boundary;
	size_t pos;            /* where to look for the next part */
	bool started, done;
	bool coverletter, alternative;
	int index;             /* parts returned from this multipart */
	bool rfc822;
} mime_frame;

typedef struct mime_iter {
	arena *a;
	mime_frame stack[MIME_MAX_DEPTH];
	int depth;
	bool top;              /* the message itself is still to be returned */
	sv top_headers;
	bool pending;          /* an entity waits to be returned */
	sv pending_text;       /* its text (headers, blank line, body) */
	bool pending_cover, pending_rfc822;
	sv attached[MIME_MAX_ATTACHED]; /* attached messages still to walk (a queue) */
	int attached_head, attached_n;
	int count;             /* last part count given */
	int total;
} mime_iter;

/* Start on a message: its header block and body (as received, LF line ends). */
void mime_begin(mime_iter *it, arena *a, sv headers, sv body);
/* The next part; false when there are no more. Values are views into the message or copies in
 * the iterator's arena. */
bool mime_next(mime_iter *it, mime_part *out);

/* The normalised form of a header value (white space and comments removed, up to ';'). */
void mime_normalise(sv value, bool lower, xbuf *out);
/* A parameter ("charset", "boundary"...) of a structured header value; false if absent. */
bool mime_param(sv value, const char *name, xbuf *out);

#endif
