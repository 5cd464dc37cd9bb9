/* The byte-level reader of a message: line endings, dot-stuffing, the end of the message, the
 * split between header block and body, and the counts Exim keeps while reading (size, body lines,
 * binary zeros, longest line). It knows nothing about the spool: the header block collects in a
 * buffer, body bytes go to a sink. receive.c drives it; unit tests drive it directly.
 *
 * Line endings, as Exim 4.96 (Debian build, with the 2023 SMTP-smuggling fix) treats them — all
 * observed with `exim -bs`:
 *   - CRLF and bare LF end a line; a bare CR ends a line too.
 *   - A bare CR inside the header block becomes "\n " (the header continues).
 *   - When the first line ended with CRLF, a later bare LF is not a line end: in the header block
 *     it becomes "\n " like a bare CR (one at the start of a line ends the block and the body
 *     starts with a space), in the body a space for SMTP DATA, a line end for BDAT.
 *   - SMTP DATA: a line "." ends the message (".\r\n", or ".\n" when the message uses bare LF);
 *     otherwise a leading dot is removed. The reader stops right after the end line.
 *   - Local input: no dot removal; with RECV_LOCAL_DOT a line "." ends the message.
 *   - A last line without a line end gets one.
 *   - Wire format (BDAT with spool_wireformat): once the header block has ended, body bytes are
 *     passed on untouched and no line end is added; a non-header line that ended the header
 *     block has already been converted (Exim does the same).
 * A NUL in the header block becomes '?'. The header block ends at an empty line (not kept) or
 * at the first line that is neither a header ("name:", the name possibly empty) nor a
 * continuation; that line starts the body.
 * header_line_maxsize is checked, as Exim 4.96 does (observed), when a logical header (a line and
 * its continuations, with their line ends) is complete; header_maxsize is checked per byte, so a
 * long header line that also passes header_maxsize is refused as a header section too long.
 */
#ifndef POSTERN_CORE_RECEIVE_DATA_H
#define POSTERN_CORE_RECEIVE_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/receive.h"
#include "lib/str.h"

/* Where body bytes go (LF line ends); false stops the reader with RECV_IO_ERROR. */
typedef bool (*rx_body_sink)(void *ctx, const char *p, size_t n);

typedef struct rx_limits {
	long long size_limit;       /* message_size_limit; 0: none */
	long long header_maxsize;   /* header_maxsize; 0: none */
	long long header_line_max;  /* header_line_maxsize; 0: none */
} rx_limits;

typedef struct rx_reader {
	receive_input how;
	rx_limits lim;
	bool wire;                  /* BDAT with spool_wireformat: body bytes go to the sink exactly
	                             * as received (CRLF kept), as Exim 4.96 writes them */
	rx_body_sink sink;
	void *sink_ctx;
	/* Output */
	xbuf headers;               /* the header block, LF line ends, each header ends with "\n" */
	long long size;             /* bytes read in LF form (headers, blank line, body) */
	long long body_size;        /* body bytes written */
	long long body_linecount, body_zerocount, max_linelength;
	long long lines;            /* line ends counted in size: Exim's $message_linecount while
	                             * receiving (header lines, the blank line, body lines) */
	size_t hfield_start;        /* offset in headers of the current logical header (its first
	                             * line and continuations), for header_line_maxsize */
	bool too_big, header_too_big, header_line_too_long, io_error, ended;
	long long header_read;       /* header bytes read, kept or not (header_maxsize) */
	bool cr_counted;             /* the pending CR is in size already (BDAT past the limit) */
	/* State */
	bool in_header;             /* still in the header block */
	bool line_start;            /* next byte starts a line */
	bool first_line_done, crlf; /* the first line ended, and with CRLF */
	bool pending_cr;            /* a CR was read; what follows decides */
	bool pending_dot;           /* DATA: a leading '.' was read */
	bool dot_cr;                /* DATA: ".\r" read */
	bool cont_space;            /* the current line is only the space of a bare-LF continuation */
	long long linelen;
	size_t hline_start;         /* offset in headers of the current physical line */
	char out[8192];             /* body bytes not yet given to the sink */
	size_t nout;
} rx_reader;

void rx_init(rx_reader *r, arena *a, receive_input how, const rx_limits *lim, rx_body_sink sink, void *ctx);
/* Consume bytes up to and including the end of the message (DATA "." line / LOCAL_DOT "." line);
 * returns RECV_END when it was seen (*consumed stops just after it), RECV_MORE otherwise, or
 * RECV_TOO_BIG at once for local input over message_size_limit, RECV_IO_ERROR when the sink
 * failed. For SMTP the limits are reported at the end (the client must be read to the end). */
receive_status rx_feed(rx_reader *r, const char *p, size_t n, size_t *consumed);
/* A first line the caller removed (the UUCP From line): it counts for the longest line and,
 * when it ended with CRLF, makes the message a CRLF one, as in Exim. */
void rx_skipped_first_line(rx_reader *r, size_t len, bool crlf);
/* The input ended (local EOF, BDAT LAST): finish the last line and flush. */
receive_status rx_finish(rx_reader *r);
/* Status once the end was reached: RECV_END, or the limit that was exceeded. */
receive_status rx_final_status(const rx_reader *r);

#endif
