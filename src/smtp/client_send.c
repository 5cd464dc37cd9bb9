/* The SMTP client engine, message side: MAIL/RCPT/DATA (or BDAT) transactions with Exim's
 * pipelining (MAIL, every RCPT and DATA in one write), SIZE/BODY/SMTPUTF8/DSN/AUTH parameters,
 * max_rcpt batches, CRLF conversion and dot-stuffing of the spool's LF body, and per-recipient
 * results in Exim's words. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/codec.h"
#include "lib/printing.h"
#include "mail/punycode.h"
#include "smtp/client_int.h"

/* A message that fits in Exim's output buffer goes in one "BDAT <n> LAST"; a larger one as
 * headers and body (send_bdat_split). CHUNK_SIZE is for sources that cannot be re-read. */
enum { EXIM_BUFFER_SIZE = 8192, CHUNK_SIZE = 65536, READ_SIZE = 16384 };

static void set_rcpt(smtpc_conn *c, smtpc_rcpt *r, smtpc_status st, int err, int code, sv text)
{
	r->status = st;
	r->basic_errno = err;
	r->code = code;
	if (r->message.a == NULL && r->message.p == NULL)
		xbuf_init(&r->message, c->a);
	xbuf_reset(&r->message);
	xbuf_putsv(&r->message, text);
}

/* Every recipient of the batch still open gets the host's failure. */
static void fail_open(smtpc_conn *c, smtpc_rcpt *r, size_t n, const bool *accepted)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].status == SMTPC_PENDING || (accepted && accepted[i] && r[i].status != SMTPC_OK
			&& r[i].status != SMTPC_FAIL))
			set_rcpt(c, &r[i], c->status == SMTPC_FAIL ? SMTPC_FAIL : SMTPC_DEFER, c->basic_errno,
				c->code, c->basic_errno == SMTPC_ERRNO_EVENT ? SV_LIT("") : xbuf_sv(&c->message));
}

/* An error reply to a command: 5xx fails, anything else defers, with errno4xx for 4xx. */
static void reply_to_rcpt(smtpc_conn *c, smtpc_rcpt *r, sv after, int errno4xx)
{
	xbuf m;
	xbuf_init(&m, c->a);
	smtpc_error_text(c, after, &m);
	int code = c->reply.code;
	set_rcpt(c, r, code / 100 == 5 ? SMTPC_FAIL : SMTPC_DEFER, code / 100 == 4 ? errno4xx : 0, code,
		xbuf_sv(&m));
}

/* AUTH= is xtext with lower-case hex digits in Exim 4.96 (observed: "a+2bb@s.test"). */
static void auth_xtext(sv in, xbuf *out)
{
	size_t start = out->len;
	codec_xtext_encode(in, out);
	for (size_t i = start; i < out->len; i++)
		if (out->p[i] == '+') {
			for (size_t k = i + 1; k <= i + 2 && k < out->len; k++)
				if (out->p[k] >= 'A' && out->p[k] <= 'F')
					out->p[k] = (char)(out->p[k] - 'A' + 'a');
			i += 2;
		}
}

bool smtpc_address_to_alabel(sv address, xbuf *out)
{
	const char *at = NULL;
	for (size_t i = address.len; i-- > 0;)
		if (address.p[i] == '@') {
			at = address.p + i;
			break;
		}
	sv local = at ? sv_make(address.p, (size_t)(at - address.p)) : address;
	bool ascii = true;
	for (size_t i = 0; i < local.len && ascii; i++)
		ascii = (unsigned char)local.p[i] < 0x80;
	if (ascii)
		xbuf_putsv(out, local);
	else {
		xbuf_puts(out, "xn--");
		if (!punycode_encode(local, out))
			return false;
	}
	if (at == NULL)
		return true;
	xbuf_putc(out, '@');
	const char *why;
	return idna_domain_to_alabel(sv_make(at + 1, address.len - local.len - 1), out, &why);
}

/* The envelope address as it goes: A-labels when downconverting (an address that cannot be
 * converted goes as it is; the server then judges it). */
static void put_envelope_address(sv address, bool downcvt, xbuf *cmd)
{
	size_t mark = cmd->len;
	if (downcvt && !smtpc_address_to_alabel(address, cmd)) {
		xbuf_truncate(cmd, mark);
		xbuf_putsv(cmd, address);
	} else if (!downcvt)
		xbuf_putsv(cmd, address);
}

/* The parameters in Exim 4.96's order (observed): SIZE, BODY, PRDR, SMTPUTF8, RET, ENVID, AUTH. */
static void build_mail(smtpc_conn *c, const smtpc_message *m, bool prdr, bool downcvt, xbuf *cmd)
{
	xbuf_puts(cmd, "MAIL FROM:<");
	put_envelope_address(m->sender, downcvt, cmd);
	xbuf_putc(cmd, '>');
	if ((c->offered & SMTPC_OFFER_SIZE) && c->opt->size_addition >= 0)
		xbuf_printf(cmd, " SIZE=%lld", m->size + m->linecount + c->opt->size_addition);
	if ((c->offered & SMTPC_OFFER_8BITMIME) && m->body_8bitmime)
		xbuf_puts(cmd, " BODY=8BITMIME");
	if (prdr)
		xbuf_puts(cmd, " PRDR");
	if ((c->offered & SMTPC_OFFER_SMTPUTF8) && m->smtputf8 && !downcvt)
		xbuf_puts(cmd, " SMTPUTF8");
	if (c->offered & SMTPC_OFFER_DSN) {
		if (m->dsn_ret == MSG_DSN_RET_HDRS)
			xbuf_puts(cmd, " RET=HDRS");
		else if (m->dsn_ret == MSG_DSN_RET_FULL)
			xbuf_puts(cmd, " RET=FULL");
		if (m->envid.len) {
			xbuf_puts(cmd, " ENVID=");
			codec_xtext_encode(m->envid, cmd);
		}
	}
	if (!c->authenticator && c->opt->authenticated_sender_force && c->opt->authenticated_sender.len
		&& (c->offered & SMTPC_OFFER_AUTH)) {
		xbuf_puts(cmd, " AUTH=");
		auth_xtext(c->opt->authenticated_sender, cmd);
	} else if (c->authenticator) {
		sv as = c->opt->authenticated_sender.len ? c->opt->authenticated_sender : m->auth_sender;
		/* Exim 4.96 sends nothing (not AUTH=<>) when there is no authenticated sender. */
		if (as.len) {
			xbuf_puts(cmd, " AUTH=");
			auth_xtext(as, cmd);
		}
	}
}

static void build_rcpt(smtpc_conn *c, const smtpc_rcpt *r, bool downcvt, xbuf *cmd)
{
	xbuf_puts(cmd, "RCPT TO:<");
	put_envelope_address(r->address, downcvt, cmd);
	xbuf_putc(cmd, '>');
	if (!(c->offered & SMTPC_OFFER_DSN) || c->opt->lmtp)
		return;
	unsigned f = r->dsn_flags;
	if (f & MSG_DSN_NEVER)
		xbuf_puts(cmd, " NOTIFY=NEVER");
	else if (f & (MSG_DSN_SUCCESS | MSG_DSN_FAILURE | MSG_DSN_DELAY)) {
		const char *sep = " NOTIFY=";
		if (f & MSG_DSN_SUCCESS) { xbuf_puts(cmd, sep); xbuf_puts(cmd, "SUCCESS"); sep = ","; }
		if (f & MSG_DSN_FAILURE) { xbuf_puts(cmd, sep); xbuf_puts(cmd, "FAILURE"); sep = ","; }
		if (f & MSG_DSN_DELAY) { xbuf_puts(cmd, sep); xbuf_puts(cmd, "DELAY"); }
	}
	if (r->orcpt.len) {
		/* The address type is kept; the address itself is xtext (RFC 3461). */
		const char *semi = memchr(r->orcpt.p, ';', r->orcpt.len);
		xbuf_puts(cmd, " ORCPT=");
		if (semi) {
			size_t k = (size_t)(semi - r->orcpt.p) + 1;
			xbuf_put(cmd, r->orcpt.p, k);
			codec_xtext_encode(sv_make(r->orcpt.p + k, r->orcpt.len - k), cmd);
		} else
			codec_xtext_encode(r->orcpt, cmd);
	}
}

/* Flush the end of the data, with QUIT when it was decided to go along (quit_with_data). */
static bool flush_data(smtpc_conn *c, sv after)
{
	if (c->quit_with_data) {
		bio_write(&c->io, "QUIT\r\n", 6);
		c->quit_with_data = false;
		c->quit_sent = true;
	}
	return smtpc_flush(c, after);
}

/* Turn spool bytes into wire bytes: LF -> CRLF (unless the source is CRLF already) and, for
 * DATA, a '.' at the start of a line doubled. *bol tracks "at the beginning of a line". */
static void to_wire(const smtpc_message *m, const char *p, size_t n, bool dots, bool *bol, xbuf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '.' && *bol && dots) {
			xbuf_put(out, p + start, i - start);
			xbuf_putc(out, '.');
			start = i;
		} else if (ch == '\n' && !m->crlf) {
			xbuf_put(out, p + start, i - start);
			xbuf_put(out, "\r\n", 2);
			start = i + 1;
		}
		*bol = ch == '\n';
	}
	xbuf_put(out, p + start, n - start);
}

/* The sizes of Exim's two chunks for a CHUNKING message larger than its output buffer: the
headers up to and including the blank line, and the body, in wire bytes; hdr_end is the
headers' end in the source. A first pass over the message (rewind). */
typedef struct bdat_split {
	long long hdr_end, hdr_wire, body_wire;
} bdat_split;

static bool read_error(smtpc_conn *c)
{
	xbuf t;
	xbuf_init(&t, c->a);
	xbuf_printf(&t, "error reading the message: %s", strerror(errno));
	smtpc_host_fail(c, SMTPC_DEFER, errno, 0, xbuf_sv(&t));
	return false;
}

static bool bdat_sizes(smtpc_conn *c, const smtpc_message *m, char *buf, size_t bufsize, bdat_split *sp)
{
	long long off = 0, hdr_end = -1, hdr_lf = 0, lf = 0;
	bool prev_nl = true;  /* a message that starts with an empty line has no headers */
	if (!m->rewind(m->read_ctx))
		return read_error(c);
	for (;;) {
		ssize_t k = m->read(m->read_ctx, buf, bufsize);
		if (k < 0)
			return read_error(c);
		if (k == 0)
			break;
		for (ssize_t i = 0; i < k; i++) {
			char ch = buf[i];
			if (ch == '\n') {
				lf++;
				if (hdr_end < 0) {
					hdr_lf++;
					if (prev_nl)
						hdr_end = off + i + 1;
				}
				prev_nl = true;
			} else if (ch != '\r')
				prev_nl = false;
		}
		off += k;
	}
	if (hdr_end < 0) {
		hdr_end = off;
		hdr_lf = lf;
	}
	long long add = m->crlf ? 0 : 1;
	sp->hdr_end = hdr_end;
	sp->hdr_wire = hdr_end + hdr_lf * add;
	sp->body_wire = off + lf * add - sp->hdr_wire;
	return true;
}

/* Write the wire form of the source's bytes [from, to) (to < 0: to the end), reading it again
 * from the start. */
static bool bdat_write_range(smtpc_conn *c, const smtpc_message *m, char *buf, size_t bufsize,
	long long from, long long to)
{
	if (!m->rewind(m->read_ctx))
		return read_error(c);
	xbuf wire;
	xbuf_init(&wire, c->a);
	bool bol = true;
	long long off = 0;
	for (;;) {
		ssize_t k = m->read(m->read_ctx, buf, bufsize);
		if (k < 0)
			return read_error(c);
		if (k == 0)
			return true;
		long long lo = from > off ? from : off, hi = to >= 0 && to < off + k ? to : off + k;
		if (hi > lo) {
			xbuf_reset(&wire);
			to_wire(m, buf + (lo - off), (size_t)(hi - lo), false, &bol, &wire);
			bio_write(&c->io, wire.p, wire.len);
		}
		off += k;
		if ((to >= 0 && off >= to) || c->io.write_failed)
			return true;
	}
}

/* The last chunk of a split message: "BDAT <body> LAST" and the body. */
static bool bdat_write_last(smtpc_conn *c, const smtpc_message *m, const bdat_split *sp, char *buf,
	size_t bufsize)
{
	snprintf(c->data_cmd, sizeof c->data_cmd, "BDAT %lld LAST", sp->body_wire);
	bio_printf(&c->io, "%s\r\n", c->data_cmd);
	c->data_written = sp->hdr_wire + sp->body_wire;
	return bdat_write_range(c, m, buf, bufsize, sp->hdr_end, -1);
}

/* The reply to the headers' chunk, which Exim 4.96 reads before it sends the body's (observed,
 * with and without PIPELINING: a refusal there, "SMTP error from remote mail server after
 * [pipelined ]sending data block: 554 ...", ends the transaction without the body), then
 * "BDAT <n> LAST" and the body. Returns 1 (the last chunk's reply to read), -2 (refused: the
 * reply is in c->reply) or -1. */
static int bdat_after_headers(smtpc_conn *c, const smtpc_message *m, const bdat_split *sp, sv hdr_after)
{
	char buf[READ_SIZE];
	if (!smtpc_get_reply(c, hdr_after, false))
		return -1;
	if (c->reply.code / 100 != 2)
		return -2;
	int saved = c->io.write_timeout_ms;
	c->io.write_timeout_ms = c->opt->data_timeout > 0 ? c->opt->data_timeout * 1000 : 0x7fffffff;
	bool ok = bdat_write_last(c, m, sp, buf, sizeof buf) && flush_data(c, SV_LIT("end of data"));
	c->io.write_timeout_ms = saved;
	return ok ? 1 : -1;
}

/* Exim's layout for a CHUNKING message larger than its output buffer: "BDAT <n>" with the
 * headers up to and including the blank line, then "BDAT <n> LAST" with the body (after the
 * headers' reply, bdat_after_headers). Returns as that. */
static int send_bdat_split(smtpc_conn *c, const smtpc_message *m, char *buf, size_t bufsize)
{
	bdat_split sp;
	if (!bdat_sizes(c, m, buf, bufsize, &sp))
		return -1;
	bio_printf(&c->io, "BDAT %lld\r\n", sp.hdr_wire);
	if (!bdat_write_range(c, m, buf, bufsize, 0, sp.hdr_end) || !smtpc_flush(c, SV_LIT("sending data block")))
		return -1;
	return bdat_after_headers(c, m, &sp, SV_LIT("sending data block"));
}

/* Pipelined CHUNKING, as Exim 4.96 (observed): the first BDAT goes in the batch with MAIL and
 * the RCPTs. A message of up to EXIM_BUFFER_SIZE wire bytes goes whole ("BDAT <n> LAST" and its
 * bytes); a larger one sends its headers' chunk there and the body's ("BDAT <n> LAST") only after
 * the RCPT replies, when a recipient was accepted. Returns 1 (whole message), 2 (headers; *sp
 * has the sizes), 0 (a source that cannot be read twice: the body goes after the replies) or -1
 * (connection or source failed). */
static int bdat_early(smtpc_conn *c, const smtpc_message *m, bdat_split *sp)
{
	char buf[READ_SIZE];
	if (!m->rewind || !m->rewind(m->read_ctx))
		return 0;
	xbuf wire;
	xbuf_init(&wire, c->a);
	bool bol = true, small = true;
	for (;;) {
		ssize_t k = m->read(m->read_ctx, buf, sizeof buf);
		if (k < 0)
			return read_error(c), -1;
		if (k == 0)
			break;
		to_wire(m, buf, (size_t)k, false, &bol, &wire);
		if (wire.len > EXIM_BUFFER_SIZE) {
			small = false;
			break;
		}
	}
	int saved = c->io.write_timeout_ms;
	c->io.write_timeout_ms = c->opt->data_timeout > 0 ? c->opt->data_timeout * 1000 : 0x7fffffff;
	int ret;
	if (small) {
		snprintf(c->data_cmd, sizeof c->data_cmd, "BDAT %zu LAST", wire.len);
		bio_printf(&c->io, "%s\r\n", c->data_cmd);
		bio_write(&c->io, wire.p, wire.len);
		c->data_written = (long long)wire.len;
		ret = 1;
	} else {
		ret = bdat_sizes(c, m, buf, sizeof buf, sp) ? 2 : -1;
		if (ret == 2) {
			bio_printf(&c->io, "BDAT %lld\r\n", sp->hdr_wire);
			if (!bdat_write_range(c, m, buf, sizeof buf, 0, sp->hdr_end))
				ret = -1;
		}
	}
	c->io.write_timeout_ms = saved;
	return ret;
}

/* Send the content. DATA: stuffed and ended with ".". BDAT: chunks of CHUNK_SIZE, the last one
 * flagged LAST; returns the number of BDAT commands sent (each has a reply) or -1. */
static int send_body(smtpc_conn *c, const smtpc_message *m, bool bdat)
{
	char buf[READ_SIZE];
	xbuf wire, cmd;
	xbuf_init(&wire, c->a);
	xbuf_init(&cmd, c->a);
	bool bol = true, ended_nl = true;
	c->data_written = 0;
	snprintf(c->data_cmd, sizeof c->data_cmd, "DATA");
	/* Whether the source can be read twice (Exim's BDAT layout needs the sizes first). */
	bool can_rewind = bdat && m->rewind && m->rewind(m->read_ctx);
	int chunks = 0;
	int saved = c->io.write_timeout_ms;
	c->io.write_timeout_ms = c->opt->data_timeout > 0 ? c->opt->data_timeout * 1000 : 0x7fffffff;
	for (;;) {
		ssize_t k = m->read(m->read_ctx, buf, sizeof buf);
		if (k < 0) {
			xbuf t;
			xbuf_init(&t, c->a);
			xbuf_printf(&t, "error reading the message: %s", strerror(errno));
			smtpc_host_fail(c, SMTPC_DEFER, errno, 0, xbuf_sv(&t));
			return -1;
		}
		if (k == 0)
			break;
		size_t before = wire.len;
		to_wire(m, buf, (size_t)k, !bdat, &bol, &wire);
		c->data_written += (long long)(wire.len - before);
		ended_nl = buf[k - 1] == '\n';
		if (bdat && wire.len > EXIM_BUFFER_SIZE && can_rewind && chunks == 0) {
			c->io.write_timeout_ms = c->opt->data_timeout > 0 ? c->opt->data_timeout * 1000 : 0x7fffffff;
			int r = send_bdat_split(c, m, buf, sizeof buf);
			c->io.write_timeout_ms = saved;
			return r;
		}
		if (bdat) {
			while (wire.len > CHUNK_SIZE) {
				xbuf_reset(&cmd);
				xbuf_printf(&cmd, "BDAT %d", CHUNK_SIZE);
				bio_write(&c->io, cmd.p, cmd.len);
				bio_write(&c->io, "\r\n", 2);
				bio_write(&c->io, wire.p, CHUNK_SIZE);
				memmove(wire.p, wire.p + CHUNK_SIZE, wire.len - CHUNK_SIZE);
				xbuf_truncate(&wire, wire.len - CHUNK_SIZE);
				chunks++;
			}
		} else {
			bio_write(&c->io, wire.p, wire.len);
			xbuf_reset(&wire);
		}
		if (c->io.write_failed)
			break;
	}
	if (bdat) {
		xbuf_reset(&cmd);
		xbuf_printf(&cmd, "BDAT %zu LAST", wire.len);
		snprintf(c->data_cmd, sizeof c->data_cmd, "%.*s", (int)cmd.len, cmd.p);
		bio_write(&c->io, cmd.p, cmd.len);
		bio_write(&c->io, "\r\n", 2);
		bio_write(&c->io, wire.p, wire.len);
		chunks++;
	} else {
		if (!ended_nl) {
			bio_write(&c->io, "\r\n", 2);
			c->data_written += 2;
		}
		bio_write(&c->io, ".\r\n", 3);
		c->data_written += 3;
	}
	bool ok = flush_data(c, SV_LIT("end of data"));
	c->io.write_timeout_ms = saved;
	return ok ? chunks : -1;
}

/* PRDR, after the server's 353 to the end of data: one reply per accepted recipient, then the
 * overall reply. As Exim 4.96 (observed): a recipient's 2xx delivers it (its text, then the
 * overall reply after a '\n'); 5xx fails and 4xx defers it with "PRDR error after DATA: ..."
 * (or the BDAT command) and no error number. An overall 5xx fails every accepted recipient,
 * an overall 4xx defers the ones that had a 2xx, both with the ordinary error after the end
 * of data. A 2xx overall reply is added to the delivered recipients of the message's earlier
 * transactions on this connection too (max_rcpt), once per transaction (observed with 4.96:
 * three PRDR transactions log the first one's C="250 ok one\n250 OK done\n250 OK done\n250 OK
 * done"). before: how many recipients of this message precede r[0] in its array. false when the
 * connection is gone. */
static bool prdr_replies(smtpc_conn *c, smtpc_rcpt *r, size_t before, size_t n, const bool *accepted,
	sv eod_after)
{
	for (size_t i = 0; i < n; i++) {
		if (!accepted[i])
			continue;
		if (!smtpc_get_reply(c, eod_after, true))
			return false;
		r[i].prdr = true;
		int code = c->reply.code;
		if (code / 100 == 2) {
			set_rcpt(c, &r[i], SMTPC_OK, 0, code, xbuf_sv(&c->reply.text));
			continue;
		}
		xbuf t;
		xbuf_init(&t, c->a);
		xbuf_printf(&t, "PRDR error after %s: ", c->data_cmd);
		printing_escape(xbuf_sv(&c->reply.text), PRINT_TAB_LITERAL, &t);
		set_rcpt(c, &r[i], code / 100 == 5 ? SMTPC_FAIL : SMTPC_DEFER, 0, code, xbuf_sv(&t));
	}
	if (!smtpc_get_reply(c, eod_after, true))
		return false;
	int code = c->reply.code;
	for (smtpc_rcpt *e = r - before; code / 100 == 2 && e < r; e++) {
		if (e->status == SMTPC_OK) {
			xbuf_putc(&e->message, '\n');
			xbuf_putsv(&e->message, xbuf_sv(&c->reply.text));
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!accepted[i])
			continue;
		if (code / 100 == 2) {
			if (r[i].status == SMTPC_OK) {
				xbuf_putc(&r[i].message, '\n');
				xbuf_putsv(&r[i].message, xbuf_sv(&c->reply.text));
			}
		} else if (code / 100 == 5 || r[i].status == SMTPC_OK)
			reply_to_rcpt(c, &r[i], eod_after, SMTPC_ERRNO_DATA4XX);
	}
	return true;
}

/* utf8_downconvert: whether this message's envelope goes as A-labels. */
static bool downconvert(const smtpc_conn *c, const smtpc_message *m)
{
	if (!m->smtputf8)
		return false;
	return c->opt->utf8_downconvert == SMTPC_UTF8_ALWAYS
		|| (c->opt->utf8_downconvert == SMTPC_UTF8_IF_NEEDED && !(c->offered & SMTPC_OFFER_SMTPUTF8));
}

/* A failed end of data (the overall reply, not LMTP's) ends the message's transactions on this
 * connection (max_rcpt): as Exim 4.96 (observed), the recipients of the later ones, not sent,
 * get the same error ("== r5 ... defer (-46) H=... SMTP error from remote mail server after end
 * of data: 451 ...", or "**" for a 5xx). The earlier transactions' recipients keep their
 * results. Exim 4.96, after PRDR, applies the failure to them too (a 5xx fails the ones the
 * server had accepted, a 4xx defers them and they are sent again): that bounces mail the server
 * took responsibility for (RFC 5321 4.1.1.4) and duplicates it, so it is not copied. */
static void data_failed(smtpc_conn *c, smtpc_rcpt *r, size_t n, size_t after, sv eod_after, bool *stop)
{
	*stop = true;
	for (smtpc_rcpt *e = r + n; e < r + n + after; e++)
		reply_to_rcpt(c, e, eod_after, SMTPC_ERRNO_DATA4XX);
}

/* One transaction for r[0..n-1], after before recipients of the same message (r[-before..-1])
 * and before after more (r[n..n+after-1]); *stop when the message's transactions end here
 * (data_failed). Returns false when the connection is gone. */
static bool transaction(smtpc_conn *c, const smtpc_message *m, smtpc_rcpt *r, size_t before, size_t n,
	size_t after, bool *stop)
{
	bool downcvt = downconvert(c, m);
	c->quit_with_data = false;
	if (c->need_rset) {
		if (!smtpc_write_cmd(c, SV_LIT("RSET"), true) || !smtpc_get_reply(c, SV_LIT("RSET"), false))
			return false;
		c->need_rset = false;
	}
	bool pipe = (c->offered & SMTPC_OFFER_PIPELINING) != 0;
	bool bdat = (c->offered & SMTPC_OFFER_CHUNKING) != 0;
	/* Exim asks for PRDR only when the transaction has more than one recipient. */
	bool prdr = (c->offered & SMTPC_OFFER_PRDR) && c->opt->try_prdr && !c->opt->lmtp && n > 1;
	bool *accepted = arena_alloc(c->a, n ? n : 1);
	memset(accepted, 0, n ? n : 1);
	xbuf mail;
	xbuf_init(&mail, c->a);
	build_mail(c, m, prdr, downcvt, &mail);
	xbuf *rcmd = arena_alloc(c->a, sizeof *rcmd * (n ? n : 1));
	/* Exim's error texts name the recipient as it is, not the A-label form that was sent
	 * (observed: "after RCPT TO:<r\303\251cip@r.test>"). */
	xbuf *rafter = downcvt ? arena_alloc(c->a, sizeof *rafter * (n ? n : 1)) : rcmd;
	for (size_t i = 0; i < n; i++) {
		xbuf_init(&rcmd[i], c->a);
		build_rcpt(c, &r[i], downcvt, &rcmd[i]);
		r[i].downconverted = downcvt;
		if (downcvt) {
			xbuf_init(&rafter[i], c->a);
			build_rcpt(c, &r[i], false, &rafter[i]);
		}
	}
	/* Exim names the MAIL command "pipelined" in its errors when it was sent in a batch. */
	xbuf mail_after;
	xbuf_init(&mail_after, c->a);
	xbuf_printf(&mail_after, "%s" SV_FMT, pipe ? "pipelined " : "", SV_ARG(xbuf_sv(&mail)));

	/* Exim's wording: with PIPELINING, DATA's reply and the reply after BDAT LAST are
	 * "pipelined"; the reply after DATA's dot is not (observed with Exim 4.96). */
	sv data_after = pipe ? SV_LIT("pipelined DATA") : SV_LIT("DATA");
	sv eod_after = pipe && bdat ? SV_LIT("pipelined end of data") : SV_LIT("end of data");

	if (!smtpc_write_cmd(c, xbuf_sv(&mail), !pipe))
		goto lost;
	int early_bdat = 0;  /* bdat_early's result */
	bdat_split sp;
	bool mail_ok = true;
	if (!pipe) {
		if (!smtpc_get_reply(c, xbuf_sv(&mail_after), false))
			goto lost;
		if (c->first_reply_code < 0)
			c->first_reply_code = c->reply.code;
		mail_ok = c->reply.code / 100 == 2;
	}
	size_t naccepted = 0;
	if (pipe) {
		for (size_t i = 0; i < n; i++)
			if (!smtpc_write_cmd(c, xbuf_sv(&rcmd[i]), false))
				goto lost;
		if (!bdat && !smtpc_write_cmd(c, SV_LIT("DATA"), false))
			goto lost;
		if (bdat && (early_bdat = bdat_early(c, m, &sp)) < 0)
			goto lost;
		/* Exim 4.96 pipelines QUIT with the last message's data (observed): for a whole
		 * message in the first BDAT that is this write, even when every RCPT is refused. */
		c->quit_with_data = after == 0 && !c->opt->lmtp && m->quit_after && m->quit_after(m->quit_ctx);
		if (early_bdat == 1 ? !flush_data(c, xbuf_sv(&mail)) : !smtpc_flush(c, xbuf_sv(&mail)))
			goto lost;
		/* Exim 4.96 names the first BDAT, not MAIL, in the errors of a refused MAIL
		 * (observed: "after pipelined end of data: 550 ..." for a whole message, "after
		 * pipelined sending data block: ..." for the headers' chunk) and in a refusing
		 * PIPECONNECT banner's. */
		if (early_bdat) {
			xbuf_reset(&mail_after);
			xbuf_puts(&mail_after, early_bdat == 1 ? "pipelined end of data" : "pipelined sending data block");
		}
		if (c->early) {
			/* PIPECONNECT: the banner and the EHLO reply come first. Exim names its last
			 * pipelined command in a refusing banner's error. */
			sv early_after = early_bdat ? xbuf_sv(&mail_after) : bdat ? SV_LIT("pipelined end of data")
				: SV_LIT("pipelined DATA");
			if (!smtpc_early_finish(c, early_after))
				goto lost;
		}
		if (!smtpc_get_reply(c, xbuf_sv(&mail_after), false))
			goto lost;
		if (c->first_reply_code < 0)
			c->first_reply_code = c->reply.code;
		mail_ok = c->reply.code / 100 == 2;
	}
	if (!mail_ok) {
		for (size_t i = 0; i < n; i++)
			reply_to_rcpt(c, &r[i], xbuf_sv(&mail_after), SMTPC_ERRNO_MAIL4XX);
	}
	for (size_t i = 0; i < n && (mail_ok || pipe); i++) {
		if (!pipe && !smtpc_write_cmd(c, xbuf_sv(&rcmd[i]), true))
			goto lost;
		if (!smtpc_get_reply(c, xbuf_sv(&rafter[i]), false))
			goto lost;
		if (!mail_ok)
			continue;  /* a pipelined RCPT after a refused MAIL: its reply means nothing */
		if (c->reply.code / 100 == 2) {
			accepted[i] = true;
			naccepted++;
		} else
			reply_to_rcpt(c, &r[i], xbuf_sv(&rafter[i]), SMTPC_ERRNO_RCPT4XX);
	}
	bool data_ok = false;
	if (!bdat && (pipe || naccepted > 0)) {
		if (!pipe && !smtpc_write_cmd(c, SV_LIT("DATA"), true))
			goto lost;
		if (!smtpc_get_reply(c, data_after, false))
			goto lost;
		data_ok = c->reply.code / 100 == 3;
		if (naccepted > 0 && !data_ok) {
			for (size_t i = 0; i < n; i++)
				if (accepted[i])
					reply_to_rcpt(c, &r[i], data_after, SMTPC_ERRNO_DATA4XX);
			naccepted = 0;
		} else if (naccepted == 0 && data_ok) {
			/* A server that says 354 with no recipient: end the empty message. */
			if (!smtpc_write_cmd(c, SV_LIT("."), true) || !smtpc_get_reply(c, SV_LIT("end of data"), true))
				goto lost;
		}
	}
	if (early_bdat && naccepted == 0) {
		/* The BDAT sent with the RCPTs gets a reply, which Exim ignores (observed: no log
		 * line for it). A headers' chunk leaves the transaction open. */
		if (!smtpc_get_reply(c, SV_LIT("BDAT"), false))
			goto lost;
		c->need_rset = mail_ok;
		return true;
	}
	if (naccepted > 0) {
		int replies = early_bdat;
		if (early_bdat == 2)
			replies = bdat_after_headers(c, m, &sp, SV_LIT("pipelined sending data block"));
		else if (!early_bdat)
			replies = send_body(c, m, bdat);
		if (replies == -2) {
			/* The headers' chunk refused: the body is not sent. */
			sv hdr_after = pipe ? SV_LIT("pipelined sending data block") : SV_LIT("sending data block");
			for (size_t i = 0; i < n; i++)
				if (accepted[i])
					reply_to_rcpt(c, &r[i], hdr_after, SMTPC_ERRNO_DATA4XX);
			c->need_rset = true;
			return true;
		}
		if (replies < 0)
			goto lost;
		/* BDAT: every non-last chunk has its own reply; a refusal there decides the message. */
		bool refused = false;
		for (int k = 0; k + 1 < replies; k++) {
			if (!smtpc_get_reply(c, SV_LIT("BDAT"), false))
				goto lost;
			if (c->reply.code / 100 != 2 && !refused) {
				refused = true;
				for (size_t i = 0; i < n; i++)
					if (accepted[i])
						reply_to_rcpt(c, &r[i], eod_after, SMTPC_ERRNO_DATA4XX);
			}
		}
		/* LMTP: one reply per accepted recipient; SMTP: one for all. */
		bool have = false;
		if (prdr && !refused) {
			if (!smtpc_get_reply(c, eod_after, true))
				goto lost;
			if (c->reply.code == 353) {
				if (!prdr_replies(c, r, before, n, accepted, eod_after))
					goto lost;
				c->messages_sent++;
				if (c->reply.code / 100 != 2 && after)
					data_failed(c, r, n, after, eod_after, stop);
				return true;
			}
			have = true;  /* the server did not start PRDR: an ordinary reply for all */
		}
		for (size_t i = 0; i < n; i++) {
			if (!accepted[i])
				continue;
			if (c->opt->lmtp || !have) {
				if (!smtpc_get_reply(c, eod_after, true))
					goto lost;
				have = true;
			}
			if (refused)
				continue;
			if (c->reply.code / 100 == 2)
				set_rcpt(c, &r[i], SMTPC_OK, 0, c->reply.code, xbuf_sv(&c->reply.text));
			else if (c->opt->lmtp) {
				/* Exim's wording (and no error number) for LMTP's per-recipient replies. */
				xbuf t;
				xbuf_init(&t, c->a);
				xbuf_puts(&t, "LMTP error after DATA: ");
				printing_escape(xbuf_sv(&c->reply.text), PRINT_TAB_LITERAL, &t);
				int code = c->reply.code;
				set_rcpt(c, &r[i], code / 100 == 5 ? SMTPC_FAIL : SMTPC_DEFER, 0, code, xbuf_sv(&t));
			} else
				reply_to_rcpt(c, &r[i], eod_after, SMTPC_ERRNO_DATA4XX);
		}
		c->messages_sent++;
		if (have && !refused && !c->opt->lmtp && c->reply.code / 100 != 2 && after)
			data_failed(c, r, n, after, eod_after, stop);
		return true;
	}
	/* The transaction was opened but not completed: the next one (if any) starts with RSET.
	 * Exim goes straight to QUIT when nothing follows. */
	c->need_rset = mail_ok;
	return true;
lost:
	fail_open(c, r, n, accepted);
	return false;
}

bool smtpc_send(smtpc_conn *c, const smtpc_message *m, smtpc_rcpt *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		xbuf_init(&r[i].message, c->a);
		r[i].status = SMTPC_PENDING;
		r[i].basic_errno = r[i].code = 0;
		r[i].prdr = r[i].downconverted = false;
	}
	c->first_reply_code = -1;
	if (c->fd < 0 || !c->usable) {
		fail_open(c, r, n, NULL);
		return false;
	}
	if (m->smtputf8 && !(c->offered & SMTPC_OFFER_SMTPUTF8) && !downconvert(c, m)) {
		for (size_t i = 0; i < n; i++)
			set_rcpt(c, &r[i], SMTPC_FAIL, SMTPC_ERRNO_UTF8, 0,
				SV_LIT("utf8 support required but not offered for forwarding"));
		return true;
	}
	if (c->messages_sent > 0 || c->need_rset) {
		c->need_rset = false;
		/* A reused connection: make sure it is still alive and in a clean state. */
		if (!smtpc_write_cmd(c, SV_LIT("RSET"), true) || !smtpc_get_reply(c, SV_LIT("RSET"), false)) {
			fail_open(c, r, n, NULL);
			return false;
		}
		c->first_reply_code = c->reply.code;
		if (c->reply.code / 100 != 2) {
			xbuf t;
			xbuf_init(&t, c->a);
			smtpc_error_text(c, SV_LIT("RSET"), &t);
			smtpc_host_fail(c, SMTPC_DEFER, 0, c->reply.code, xbuf_sv(&t));
			fail_open(c, r, n, NULL);
			return false;
		}
	}
	size_t batch = c->opt->max_rcpt > 0 ? (size_t)c->opt->max_rcpt : n;
	for (size_t off = 0; off < n; off += batch) {
		size_t k = n - off < batch ? n - off : batch;
		if (off > 0 && (m->rewind == NULL || !m->rewind(m->read_ctx))) {
			for (size_t i = off; i < n; i++)
				set_rcpt(c, &r[i], SMTPC_DEFER, EIO, 0, SV_LIT("cannot read the message again for another transaction"));
			break;
		}
		bool stop = false;
		if (!transaction(c, m, r + off, off, k, n - off - k, &stop)) {
			fail_open(c, r, n, NULL);
			return false;
		}
		if (stop)
			break;
		if (m->txn_done)
			m->txn_done(m->txn_ctx, r + off, k);
	}
	c->quit_with_data = false;
	if (c->quit_sent)
		c->usable = false;   /* it carries nothing more; smtpc_close reads the 221 */
	return c->usable;
}

/* ---- the spool as a message source ---- */

static ssize_t spool_read(void *ctx, char *buf, size_t n)
{
	smtpc_spool_source *s = ctx;
	size_t got = 0;
	while (got < n) {
		if (s->stage == 0) {
			while (s->h && s->h->type == '*')
				s->h = s->h->next;
			if (s->h == NULL) { s->stage = 1; continue; }
			size_t k = s->h->text.len - s->hoff;
			if (k > n - got) k = n - got;
			memcpy(buf + got, s->h->text.p + s->hoff, k);
			got += k;
			s->hoff += k;
			if (s->hoff == s->h->text.len) { s->h = s->h->next; s->hoff = 0; }
		} else if (s->stage == 1) {
			buf[got++] = '\n';
			s->stage = 2;
		} else if (s->stage == 2) {
			/* The -D file starts with "<id>-D\n". */
			char ch;
			ssize_t r = read(s->fd, &ch, 1);
			if (r < 0) return got ? (ssize_t)got : -1;
			if (r == 0 || ch == '\n') s->stage = r == 0 ? 4 : 3;
		} else if (s->stage == 3) {
			ssize_t r = read(s->fd, buf + got, n - got);
			if (r < 0) return got ? (ssize_t)got : -1;
			if (r == 0) { s->stage = 4; continue; }
			got += (size_t)r;
		} else
			break;
	}
	return (ssize_t)got;
}

static bool spool_rewind(void *ctx)
{
	smtpc_spool_source *s = ctx;
	if (lseek(s->fd, 0, SEEK_SET) < 0)
		return false;
	s->h = s->m->headers;
	s->hoff = 0;
	s->stage = 0;
	return true;
}

void smtpc_message_from_spool(smtpc_message *sm, smtpc_spool_source *src, const message *m, int data_fd)
{
	memset(sm, 0, sizeof *sm);
	memset(src, 0, sizeof *src);
	src->m = m;
	src->h = m->headers;
	src->fd = data_fd;
	long long lines = 0;
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			for (size_t i = 0; i < h->text.len; i++)
				lines += h->text.p[i] == '\n';
	sm->sender = m->sender;
	sm->envid = m->dsn_envid;
	sm->dsn_ret = m->dsn_ret;
	sm->smtputf8 = m->smtputf8;
	sm->size = m->size;
	sm->linecount = lines + m->body_linecount;
	sm->auth_sender = m->origin ? m->origin->auth_sender : SV_NULL;
	sm->read = spool_read;
	sm->rewind = spool_rewind;
	sm->read_ctx = src;
}
