/* Reading SMTP replies on the client side: the line parser (pure, fuzzed) and the bounded,
 * deadline-limited reader that joins a multi-line reply the way Exim shows it in messages
 * ("550-first\n550 second"). */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "smtp/client.h"
#include "lib/clock.h"

bool smtpc_parse_reply_line(sv line, int *code, bool *last)
{
	/* Exim accepts three digits followed by a space, a hyphen or nothing. */
	if (line.len < 3)
		return false;
	for (int i = 0; i < 3; i++)
		if (!isdigit((unsigned char)line.p[i]))
			return false;
	if (line.len > 3 && line.p[3] != ' ' && line.p[3] != '-')
		return false;
	*code = (line.p[0] - '0') * 100 + (line.p[1] - '0') * 10 + (line.p[2] - '0');
	*last = line.len == 3 || line.p[3] == ' ';
	return true;
}

smtpc_read_rc smtpc_read_reply(bio *io, smtpc_reply *r, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
	xbuf line;
	xbuf_init(&line, r->text.a);
	xbuf_reset(&r->text);
	r->text.taint = 1;
	r->code = 0;
	for (int n = 0;; n++) {
		int left = -1;
		if (deadline >= 0) {
			long long l = deadline - monotonic_ms();
			left = l < 0 ? 0 : (int)l;
		}
		bio_rc rc = bio_read_line(io, &line, SMTPC_LINE_MAX, left);
		switch (rc) {
		case BIO_OK: break;
		case BIO_TIMEOUT: return SMTPC_READ_TIMEOUT;
		case BIO_EOF: return SMTPC_READ_CLOSED;
		case BIO_TOOLONG:
			xbuf_reset(&r->text);
			xbuf_puts(&r->text, "(a line longer than the limit)");
			return SMTPC_READ_MALFORMED;
		default:
			return SMTPC_READ_ERROR;
		}
		int code;
		bool last;
		if (!smtpc_parse_reply_line(xbuf_sv(&line), &code, &last) || n >= SMTPC_REPLY_LINES_MAX) {
			xbuf_reset(&r->text);
			xbuf_putsv(&r->text, xbuf_sv(&line));
			return SMTPC_READ_MALFORMED;
		}
		if (n > 0)
			xbuf_putc(&r->text, '\n');
		xbuf_putsv(&r->text, xbuf_sv(&line));
		r->text.taint = 1;
		/* A reply whose lines disagree counts by its first line, as Exim judges the reply by
		 * the first digit of its buffer. */
		if (n == 0)
			r->code = code;
		if (last)
			return SMTPC_READ_OK;
	}
}

void smtpc_first_line(sv reply, size_t max, xbuf *out)
{
	const char *nl = memchr(reply.p, '\n', reply.len);
	size_t n = nl ? (size_t)(nl - reply.p) : reply.len;
	if (n > max)
		n = max;
	sv first = sv_make(reply.p, n);
	first.taint = reply.taint;
	xbuf_putsv(out, first);
}
