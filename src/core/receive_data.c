/* The byte-level message reader; see receive_data.h for the rules it follows. */
#include "core/receive_data.h"

#include <stddef.h>

#include "mail/header.h"

void rx_init(rx_reader *r, arena *a, receive_input how, const rx_limits *lim, rx_body_sink sink, void *ctx)
{
	/* All but the 8 KB output buffer (nout says how much of it is used). */
	memset(r, 0, offsetof(rx_reader, out));
	r->nout = 0;
	r->how = how;
	if (lim)
		r->lim = *lim;
	r->sink = sink;
	r->sink_ctx = ctx;
	xbuf_init(&r->headers, a);
	r->in_header = true;
	r->line_start = true;
}

/* Local input stops at the first byte over message_size_limit; what was read up to there
 * (limit + 1 bytes, as Exim's read= shows) still goes to -D for the copy in the -oe error
 * message (prog/bm_error.c). SMTP input goes on being read and is dropped. */
static bool local_overflow(const rx_reader *r)
{
	return r->too_big && (r->how == RECV_LOCAL_DOT || r->how == RECV_LOCAL_EOF)
		&& !r->header_too_big && !r->header_line_too_long && !r->io_error;
}

static bool discarding(const rx_reader *r)
{
	return (r->too_big && !local_overflow(r)) || r->header_too_big || r->header_line_too_long || r->io_error;
}

static void flush_body(rx_reader *r)
{
	if (r->nout && !r->io_error && !discarding(r) && r->sink && !r->sink(r->sink_ctx, r->out, r->nout))
		r->io_error = true;
	r->nout = 0;
}

/* Count one byte of the message in LF form against message_size_limit. */
static void count(rx_reader *r)
{
	r->size++;
	if (r->lim.size_limit > 0 && r->size > r->lim.size_limit)
		r->too_big = true;
}

static void body_byte(rx_reader *r, char c)
{
	count(r);
	r->body_size++;
	if (c == '\n') {
		r->body_linecount++;
		r->lines++;
	}
	else if (c == '\0')
		r->body_zerocount++;
	if (discarding(r))
		return;
	r->out[r->nout++] = c;
	if (r->nout == sizeof r->out || local_overflow(r))
		flush_body(r);
}

/* Bytes in the middle of a body line (no CR or LF among them). */
static void body_run(rx_reader *r, const char *p, size_t n)
{
	r->size += (long long)n;
	r->body_size += (long long)n;
	r->linelen += (long long)n;
	if (r->lim.size_limit > 0 && r->size > r->lim.size_limit) {
		/* Local input stops at the first byte over the limit, as Exim's read=limit+1 shows.
		 * Not when a header error is already discarding the message: reading goes on to
		 * the end then, and every byte counts whichever run it came in (as body_byte). */
		if ((r->how == RECV_LOCAL_DOT || r->how == RECV_LOCAL_EOF) && !r->too_big && !discarding(r)) {
			long long over = r->size - (r->lim.size_limit + 1);
			n -= (size_t)over;
			r->body_size -= over;
			r->linelen -= over;
			r->size = r->lim.size_limit + 1;
		}
		r->too_big = true;
	}
	for (const char *z = memchr(p, '\0', n); z; z = memchr(z + 1, '\0', n - (size_t)(z + 1 - p)))
		r->body_zerocount++;
	if (discarding(r))
		return;
	while (n) {
		size_t k = sizeof r->out - r->nout;
		if (k > n)
			k = n;
		memcpy(r->out + r->nout, p, k);
		r->nout += k;
		p += k;
		n -= k;
		if (r->nout == sizeof r->out)
			flush_body(r);
	}
	if (local_overflow(r))
		flush_body(r);
}

/* The logical header that started at hfield_start ends at offset end (a line that is not its
 * continuation begins there, or the header block ends). Over header_line_maxsize, the headers
 * keep what was read up to its end (the copy in a local error message) and reading discards
 * the rest. Returns true when it was too long. */
static bool header_field_done(rx_reader *r, size_t end)
{
	if (discarding(r) || r->lim.header_line_max <= 0 || end < r->hfield_start
		|| (long long)(end - r->hfield_start) <= r->lim.header_line_max) {
		r->hfield_start = end;
		return false;
	}
	xbuf_truncate(&r->headers, end);
	r->header_line_too_long = true;
	return true;
}

static void header_byte(rx_reader *r, char c)
{
	/* The first byte of a line that does not continue the header before it completes that
	 * header: Exim checks header_line_maxsize here, before this line counts for anything. */
	if (r->headers.len == r->hline_start && r->hline_start > r->hfield_start && c != ' ' && c != '\t'
		&& header_field_done(r, r->hline_start))
		return;
	count(r);
	if (c == '\n')
		r->lines++;
	/* Counted even once message_size_limit is passed and bytes are no longer kept: a header
	 * over header_maxsize is what Exim reports then ("ridiculously long"; 4.96, observed). */
	r->header_read++;
	if (r->lim.header_maxsize > 0 && r->header_read > r->lim.header_maxsize && !r->header_line_too_long)
		r->header_too_big = true;
	if (discarding(r))
		return;
	xbuf_putc(&r->headers, c);
}

/* An ordinary byte of the current line. */
static void text_byte(rx_reader *r, char c)
{
	r->line_start = false;
	r->cont_space = false;
	r->linelen++;
	if (r->in_header)
		header_byte(r, c == '\0' ? '?' : c); /* Exim turns a NUL in a header line into '?' */
	else
		body_byte(r, c);
}

/* The header block ends here; bytes from `from` in the header buffer (a line that is not a
 * header) move to the body. */
static void end_header_block(rx_reader *r, size_t from)
{
	r->in_header = false;
	r->lines++;   /* Exim counts the blank line it implies here (not in the size) */
	if (discarding(r) || from >= r->headers.len) {
		if (!discarding(r))
			xbuf_truncate(&r->headers, from);
		return;
	}
	size_t n = r->headers.len - from;
	/* These bytes were counted as header bytes; count them again as body bytes, so undo. */
	r->size -= (long long)n;
	long long before = r->body_linecount;
	for (size_t i = 0; i < n; i++)
		body_byte(r, r->headers.p[from + i]);
	/* Exim counts the moved line as one body line, whatever continuations it has (its
	 * line end is counted by the caller); $message_linecount keeps what the header block
	 * counted. */
	r->lines -= r->body_linecount - before;
	r->body_linecount = before;
	xbuf_truncate(&r->headers, from);
}

/* A line ends (CRLF, LF, or a bare CR outside the header block). */
static void line_end(rx_reader *r)
{
	if (r->linelen > r->max_linelength)
		r->max_linelength = r->linelen;
	r->linelen = 0;
	bool empty = r->line_start;
	r->line_start = true;
	r->cont_space = false;
	if (!r->in_header) {
		body_byte(r, '\n');
		return;
	}
	size_t start = r->hline_start;
	const char *line = r->headers.p ? r->headers.p + start : "";
	size_t len = r->headers.len - start;
	if (empty && !discarding(r)) {
		header_field_done(r, start);
		count(r); /* the blank line between header and body */
		r->lines++;
		r->in_header = false;
		return;
	}
	if (discarding(r)) {
		/* Nothing is stored any more; the header block ends at the first empty line. */
		count(r);
		r->lines++;
		if (empty)
			r->in_header = false;
		return;
	}
	bool continuation = start > 0 && len > 0 && (line[0] == ' ' || line[0] == '\t');
	if (!continuation && header_field_done(r, start)) {
		/* the line just read is not kept; the rest of the message is discarded */
		count(r);
		r->lines++;
		return;
	}
	if (!continuation && !hdr_is_field_start(line, len)) {
		end_header_block(r, start);
		body_byte(r, '\n');
		return;
	}
	header_byte(r, '\n');
	r->hline_start = r->headers.len;
}

/* Start a continuation within the header block: "\n " (for a bare CR, or a bare LF in a
 * message whose first line ended with CRLF). */
static void header_continue(rx_reader *r, bool counts_as_line_end)
{
	if (counts_as_line_end) {
		if (r->linelen > r->max_linelength)
			r->max_linelength = r->linelen;
		r->linelen = 0;
	} else
		r->linelen++;
	r->line_start = false;
	header_byte(r, '\n');
	if (!counts_as_line_end)
		r->lines--;   /* Exim does not count a bare CR's continuation as a line */
	header_byte(r, ' ');
	r->linelen++;
	r->cont_space = counts_as_line_end;
}

static void first_line(rx_reader *r, bool crlf)
{
	if (!r->first_line_done) {
		r->first_line_done = true;
		r->crlf = crlf;
	}
}

/* A body byte in wire format: counted, passed on as it is. */
static void wire_byte(rx_reader *r, char c)
{
	if (c == '\n') {
		if (r->linelen > r->max_linelength)
			r->max_linelength = r->linelen;
		r->linelen = 0;
		r->line_start = true;
	} else if (c != '\r') {
		r->linelen++;
		r->line_start = false;
	}
	body_byte(r, c);
}

/* A CR that was not followed by LF. */
static void bare_cr(rx_reader *r)
{
	first_line(r, false);
	if (r->in_header && !r->line_start)
		header_continue(r, false);
	else
		line_end(r);
}

receive_status rx_feed(rx_reader *r, const char *p, size_t n, size_t *consumed)
{
	size_t i = 0;
	bool smtp_data = r->how == RECV_SMTP_DATA, local_dot = r->how == RECV_LOCAL_DOT;
	while (i < n && !r->ended) {
		/* Fast path: the middle of a body line goes through in bulk up to the next CR or LF. */
		if (!r->in_header && !r->line_start && !r->pending_cr && !r->pending_dot && !r->wire) {
			const char *s = p + i, *lim = p + n;
			const char *lf = memchr(s, '\n', (size_t)(lim - s));
			if (lf)
				lim = lf;
			const char *cr = memchr(s, '\r', (size_t)(lim - s));
			if (cr)
				lim = cr;
			if (lim > s) {
				body_run(r, s, (size_t)(lim - s));
				i += (size_t)(lim - s);
				if (r->io_error)
					break;
				if (local_overflow(r)) {
					*consumed = i;
					return RECV_TOO_BIG;
				}
				continue;
			}
		}
		char c = p[i++];
		if (r->pending_cr) {
			r->pending_cr = false;
			if (r->cr_counted && c != '\n')
				r->size--;         /* a bare CR: bare_cr counts it */
			r->cr_counted = false;
			if (c == '\n') {
				first_line(r, true);
				if (r->dot_cr) {
					r->dot_cr = false;
					r->ended = true;
					break;
				}
				line_end(r);
				continue;
			}
			if (r->dot_cr) {
				/* ".\r" then something else: DATA drops the dot; local input keeps it. */
				r->dot_cr = false;
				if (local_dot)
					text_byte(r, '.');
			}
			bare_cr(r);
			/* c is processed below */
		}
		if (r->wire && !r->in_header) {
			wire_byte(r, c);
			continue;
		}
		if (r->pending_dot) {
			r->pending_dot = false;
			if (c == '\r') {
				r->dot_cr = true;
				r->pending_cr = true;
				continue;
			}
			if (c == '\n' && (!r->first_line_done || !r->crlf || local_dot)) {
				first_line(r, false);
				r->ended = true;
				break;
			}
			if (local_dot)
				text_byte(r, '.');
			/* SMTP DATA: the dot was stuffing; c is processed normally */
		}
		if (c == '\r') {
			r->pending_cr = true;
			/* A BDAT body past message_size_limit: Exim counts its CRs in read= too, one at
			 * the end of a chunk included (4.96, observed; DATA and the header do not). */
			if (r->how == RECV_SMTP_BDAT && r->too_big && !r->in_header) {
				r->size++;
				r->cr_counted = true;
			}
			continue;
		}
		if (c == '\n') {
			if (!r->first_line_done) {
				first_line(r, false);
				line_end(r);
			} else if (!r->crlf)
				line_end(r);
			else if (r->in_header && r->line_start) {
				/* An empty line ends the header block; Exim still puts the space that
				 * continues a line after a bare LF, so the body starts with it. */
				line_end(r);
				text_byte(r, ' ');
			} else if (r->in_header)
				header_continue(r, true);
			else if (r->how == RECV_SMTP_DATA)
				text_byte(r, ' ');   /* BDAT: a line end (below), as Exim */
			else
				line_end(r);
			continue;
		}
		if (r->line_start && c == '.' && (smtp_data || local_dot)) {
			r->pending_dot = true;
			r->line_start = false;
			continue;
		}
		text_byte(r, c);
		if (r->io_error)
			break;
		if (local_overflow(r)) {
			*consumed = i;
			return RECV_TOO_BIG;
		}
	}
	*consumed = i;
	if (r->io_error)
		return RECV_IO_ERROR;
	if (local_overflow(r))
		return RECV_TOO_BIG;
	if (r->ended) {
		/* The end line is not part of the message; every line before it was complete. */
		if (r->in_header)
			header_field_done(r, r->headers.len);
		r->line_start = true;
		flush_body(r);
		r->in_header = false;
		return rx_final_status(r);
	}
	return RECV_MORE;
}

void rx_skipped_first_line(rx_reader *r, size_t len, bool crlf)
{
	if ((long long)len > r->max_linelength)
		r->max_linelength = (long long)len;
	r->first_line_done = true;
	r->crlf = crlf;
}

receive_status rx_finish(rx_reader *r)
{
	if (!r->ended) {
		if (r->pending_cr) {
			r->pending_cr = false;
			if (r->dot_cr && r->how == RECV_LOCAL_DOT) {
				r->ended = true;
				goto done;
			}
			/* A CR as the very last byte ends a line that has text; on an empty line Exim
			 * drops it (a BDAT LAST chunk ending "\r\n\r" adds no empty line). */
			if (!r->line_start || r->pending_dot)
				bare_cr(r);
		}
		if (r->pending_dot) {
			r->pending_dot = false;
			if (r->how == RECV_LOCAL_DOT)
				text_byte(r, '.');
			/* SMTP: a lone "." at the very end without a line end: the dot was stuffing */
			r->line_start = false;
		}
		if (r->cont_space && r->in_header && !discarding(r) && r->headers.len >= 2) {
			/* The input ended right after a bare LF that began a continuation: that LF
			 * ends the header (Exim leaves no dangling space). Take the "\n " back and end
			 * the line normally, which also decides whether it was a header at all. */
			xbuf_truncate(&r->headers, r->headers.len - 2);
			r->size -= 2;
			r->cont_space = false;
			r->line_start = r->headers.len == r->hline_start;
		}
		if (!r->line_start && !(r->wire && !r->in_header))
			line_end(r);
		else if (r->linelen > r->max_linelength)
			r->max_linelength = r->linelen;
		r->ended = true;
	}
done:
	if (r->in_header)
		header_field_done(r, r->headers.len);
	r->in_header = false;
	flush_body(r);
	return rx_final_status(r);
}

receive_status rx_final_status(const rx_reader *r)
{
	if (r->io_error)
		return RECV_IO_ERROR;
	if (r->header_too_big || r->header_line_too_long)
		return RECV_HEADER_TOO_BIG;
	if (r->too_big)
		return RECV_TOO_BIG;
	return r->ended ? RECV_END : RECV_MORE;
}
