/* Internals shared by the message writer's files (tp_write.c, tp_write_headers.c,
 * tp_write_filter.c). Not for other modules: they use core/tp_write.h. */
#ifndef POSTERN_CORE_TP_WRITE_INTERNAL_H
#define POSTERN_CORE_TP_WRITE_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/tp_write.h"

/* The per-line output rules, applied as bytes stream through: CR before LF, dot-stuffing, and
 * check_string -> escape_string at the start of a line. A check_string match may straddle two
 * chunks, so a partial match at the end of a chunk is held back until the next one decides. */
typedef struct tpw_xform {
	bool crlf, dot;
	const char *check, *escape;   /* NULL or "": no check */
	size_t check_len, escape_len;
	bool check_on;                /* check_string applies now (body; filter output) */
	bool bol;                     /* at the start of a line */
	size_t partial;               /* bytes of check matched at the end of the previous chunk */
} tpw_xform;

void tpw_xform_init(tpw_xform *x, const tp_write_opts *o, bool crlf, bool dot);
/* Start a new section: start of line; check applies if check_on. */
void tpw_xform_section(tpw_xform *x, bool check_on);
void tpw_xform_feed(tpw_xform *x, const char *p, size_t n, xbuf *out);
/* End of the stream: emit a held-back partial match. */
void tpw_xform_flush(tpw_xform *x, xbuf *out);

/* Build the header section as Exim's transports write it before the line rules: Return-path:,
 * Envelope-to:, Delivery-date: (as asked), the message's headers that are not deleted or removed
 * (rewritten by headers_rewrite), the routers' headers_add, the transport's headers_add, then
 * the blank line. false: err holds Exim's text, *errnum its error number. */
bool tpw_build_headers(arena *a, const tp_write_opts *o, unsigned flags, xbuf *out, xbuf *err,
	int *errnum);

/* A running transport_filter: the command reads the raw message from a feeder process and
 * its stdout (and stderr) is read through fd. */
typedef struct tpw_filter {
	pid_t filter_pid, feeder_pid;
	int fd;                       /* read end of the filter's output */
	int timeout;                  /* seconds per read; <= 0: none */
} tpw_filter;

/* The transport's transport_filter, split and expanded; *argv NULL (true) when there is none. */
bool tpw_filter_argv(arena *a, const tp_write_opts *o, char ***argv, xbuf *err, int *errnum);
/* Start the filter and the feeder that writes the raw message (headers and body without the
 * line rules) into it. */
bool tpw_filter_start(arena *a, const tp_write_opts *o, char **argv, sv headers, unsigned flags,
	tpw_filter *f, xbuf *err, int *errnum);
/* Read the next piece of the filter's output: > 0 bytes, 0 at the end, -1 error (timeout: errno
 * ETIMEDOUT). */
ssize_t tpw_filter_read(tpw_filter *f, char *buf, size_t n);
/* Reap both processes after the end of the output; false with Exim's text when the filter
 * failed. */
bool tpw_filter_finish(tpw_filter *f, const tp_write_opts *o, xbuf *err, int *errnum);
/* Kill and reap whatever is still running (error paths, close). */
void tpw_filter_abort(tpw_filter *f);

/* Exim's wording for a failure, with "while writing to <dest>" where the destination is
 * named (o->dest_name). */
void tpw_error(const tp_write_opts *o, xbuf *err, const char *head, const char *tail);

#endif
