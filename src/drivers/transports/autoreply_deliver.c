/* The autoreply transport (Exim 4.96 "The autoreply transport"): instead of delivering, make a
 * new message (a reply, with an empty envelope sender) and submit it. Texts are Exim 4.96's.
 *
 * The reply: From, Reply-To, To, Cc, Subject, In-Reply-To and References built from the original
 * Message-ID, Auto-Submitted: auto-replied, the headers option; then text, the file (each line
 * expanded with file_expand), and with return_message a copy of the original. Bcc recipients get
 * it without a Bcc: line. never_mail removes matching recipients from the lists as Exim does
 * (the item and its comma). once/once_file_size/once_repeat keep one reply per To: value
 * (autoreply_once.c). A log file, when set, gets Exim's record of every reply. */
#include "drivers/transports/local_transports.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/addr_reply.h"
#include "core/filter.h"
#include "core/submit.h"
#include "core/tp_write.h"
#include "drivers/transports/autoreply.h"
#include "drivers/transports/autoreply_internal.h"
#include "lib/log.h"
#include "mail/address.h"
#include "mail/header.h"
#include "search/match.h"
#include "search/search.h"

/* Bounds on what a reply may carry: the file's size and the number of recipients. */
#define AUTOREPLY_MAX_FILE ((size_t)16 << 20)
#define AUTOREPLY_MAX_RCPTS 1000
/* Exim reads the returned message in blocks of this size (its size notice rounds up to it). */
#define DELIVER_BUFFER 8192

typedef struct reply {
	const driver_instance *t;
	tp_ctx *c;
	arena *a;
	sv from, reply_to, to, cc, bcc, subject, headers, text, file, log, once, once_repeat, never_mail;
	bool file_expand, return_message;  /* the options', or the filter's reply's */
	/* outcome of building */
	addr_result r;
	int err;
	const char *why;
	size_t nbad;                  /* recipient list items that do not parse */
	sv first_bad;                 /* the first, as Exim reports it: "<rest of list> - <why>" */
} reply;

static bool failed(reply *rp, addr_result r, int err, const char *why)
{
	rp->r = r;
	rp->err = err;
	rp->why = why;
	return false;
}

/* Expand one option: unset (or forced to fail) leaves *out null. Header options may not hold
 * non-printing characters except a newline that starts a continuation line. */
static bool expand_opt(reply *rp, const char *raw, bool header, sv *out)
{
	*out = SV_NULL;
	if (!raw)
		return true;
	xbuf b, err;
	xbuf_init(&b, rp->a);
	xbuf_init(&err, rp->a);
	int rc = xp_expand(rp->c->env, sv_cstr(raw), &b, &err);
	if (rc == XP_FORCEFAIL)
		return true;
	if (rc != XP_OK)
		return failed(rp, ADDR_FAIL, 0, arena_printf(rp->a, "Expansion of \"%s\" failed in %s transport: %s",
			raw, rp->t->name, xbuf_cstr(&err)));
	sv v = xbuf_sv(&b);
	if (header) {
		for (size_t i = 0; i < v.len; i++) {
			unsigned char ch = (unsigned char)v.p[i];
			bool cont = ch == '\n' && i + 1 < v.len && (v.p[i + 1] == ' ' || v.p[i + 1] == '\t');
			bool printing = (ch >= 0x20 && ch < 0x7f) || (ch >= 0x80 && conf_main.print_topbitchars);
			if (!printing && !cont)
				return failed(rp, ADDR_FAIL, 0, arena_printf(rp->a,
					"Expansion of \"%s\" in %s transport contains non-printing character %d", raw, rp->t->name, ch));
		}
	}
	*out = v;
	return true;
}

/* Remove the items never_mail matches from a header-style address list, as Exim does: the item
 * with its following comma (or, for the last item, the comma before it). An empty result is
 * unset. */
static sv never_mail_filter(reply *rp, sv list)
{
	if (!list.p || !rp->never_mail.p)
		return list;
	xbuf cur;
	xbuf_init(&cur, rp->a);
	xbuf_putsv(&cur, list);
	for (int guard = 0; guard < AUTOREPLY_MAX_RCPTS; guard++) {
		sv l = xbuf_sv(&cur);
		size_t pos = 0;
		sv item;
		bool removed = false;
		while (!removed && addr_next_item(l, &pos, &item)) {
			xbuf addr, err;
			xbuf_init(&addr, rp->a);
			xbuf_init(&err, rp->a);
			addr_parsed info;
			const char *why;
			if (!addr_extract(item, NULL, &addr, &info, &why) || info.empty)
				continue;
			if (match_isinlist(xbuf_sv(&addr), rp->never_mail, ':', MATCH_ADDRESS, true, NULL, &err) != SEARCH_OK)
				continue;
			size_t start = (size_t)(item.p - l.p), end = start + item.len;
			if (end < l.len && l.p[end] == ',')
				end++;
			else if (start > 0 && l.p[start - 1] == ',')
				start--;
			xbuf next;
			xbuf_init(&next, rp->a);
			xbuf_put(&next, l.p, start);
			xbuf_put(&next, l.p + end, l.len - end);
			next.taint = cur.taint;
			cur = next;
			removed = true;
		}
		if (!removed)
			break;
	}
	sv out = xbuf_sv(&cur);
	return sv_trim(out).len ? out : SV_NULL;
}

/* The addresses of a header-style list, qualified, appended to rcpts. */
static void collect(reply *rp, sv list, sv *rcpts, size_t *n)
{
	if (!list.p)
		return;
	size_t pos = 0;
	sv item;
	while (*n < AUTOREPLY_MAX_RCPTS && addr_next_item(list, &pos, &item)) {
		xbuf addr;
		xbuf_init(&addr, rp->a);
		addr_parsed info;
		const char *why;
		if (!addr_extract(item, NULL, &addr, &info, &why)) {
			/* Exim hands the reply to "exim -t", whose reception reports the item from where
			 * it starts to the end of the list, in its parser's words (observed). */
			sv t = sv_trim(item);
			if (t.len && rp->nbad++ == 0) {
				sv rest = sv_trim(sv_sub(list, (size_t)(t.p - list.p), list.len - (size_t)(t.p - list.p)));
				const char *w = filter_address_error(t, rp->a);
				rp->first_bad = sv_cstr(arena_printf(rp->a, SV_FMT " - %s", SV_ARG(rest), w ? w : why ? why : "malformed address"));
			}
			continue;
		}
		if (info.empty)
			continue;
		if (!info.has_domain) {
			const char *q = conf_main.qualify_recipient ? conf_main.qualify_recipient
				: conf_main.qualify_domain ? conf_main.qualify_domain : conf_main.primary_hostname;
			xbuf_printf(&addr, "@%s", q ? q : "localhost");
		}
		rcpts[(*n)++] = xbuf_sv(&addr);
	}
}

/* Exim's time values: a number with optional w/d/h/m/s units ("1d12h"); a bare number is
 * seconds. */
static bool parse_time(sv v, long *out)
{
	v = sv_trim(v);
	if (v.len == 0)
		return false;
	long total = 0;
	size_t i = 0;
	while (i < v.len) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		long n = 0;
		while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9') {
			if (n > 100000000L)
				return false;
			n = n * 10 + (v.p[i++] - '0');
		}
		long unit = 1;
		if (i < v.len) {
			switch (v.p[i++]) {
			case 'w': unit = 7 * 86400; break;
			case 'd': unit = 86400; break;
			case 'h': unit = 3600; break;
			case 'm': unit = 60; break;
			case 's': unit = 1; break;
			default: return false;
			}
		}
		total += n * unit;
	}
	*out = total;
	return true;
}

/* The original message's header value (unfolded text after the colon, trimmed), or null. */
static sv header_value(const message *m, const char *name, arena *a)
{
	const msg_header *h = message_find_header(m, sv_cstr(name));
	if (!h)
		return SV_NULL;
	sv body = hdr_field_body(h->text);
	while (body.len && (body.p[body.len - 1] == '\n' || body.p[body.len - 1] == '\r'))
		body.len--;
	(void)a;
	return sv_trim(body);
}

static void put_header(xbuf *b, const char *name, sv value)
{
	if (!value.p)
		return;
	xbuf_printf(b, "%s: ", name);
	xbuf_putsv(b, value);
	xbuf_putc(b, '\n');
}

/* The body file, line by line (each expanded with file_expand; a line that does not expand is
 * used as it is, as Exim does). */
static bool add_file(reply *rp, xbuf *b)
{
	const struct autoreply_transport_options *o = rp->t->priv;
	const char *path = sv_dup(rp->a, rp->file);
	xbuf data;
	xbuf_init(&data, rp->a);
	int errnum = 0;
	if (!spool_read_file(path, AUTOREPLY_MAX_FILE, &data, &errnum)) {
		if (o->file_optional)
			return true;
		return failed(rp, ADDR_DEFER, errnum, arena_printf(rp->a,
			"Failed to open file %s when sending message from %s transport: %s", path, rp->t->name, strerror(errnum)));
	}
	sv all = xbuf_sv(&data);
	if (!rp->file_expand) {
		xbuf_putsv(b, all);
		return true;
	}
	size_t pos = 0;
	while (pos < all.len) {
		const char *nl = memchr(all.p + pos, '\n', all.len - pos);
		size_t end = nl ? (size_t)(nl - all.p) + 1 : all.len;
		sv line = sv_make(all.p + pos, end - pos);
		xbuf exp, err;
		xbuf_init(&exp, rp->a);
		xbuf_init(&err, rp->a);
		if (xp_expand(rp->c->env, line, &exp, &err) == XP_OK)
			xbuf_putsv(b, xbuf_sv(&exp));
		else
			xbuf_putsv(b, line);
		pos = end;
	}
	return true;
}

/* "------ This is a copy of the message ..." and the original, within bounce_return_size_limit. */
static bool add_returned_message(reply *rp, xbuf *b)
{
	const driver_instance *t = rp->t;
	bool headers_only = tp_opt_bool(t, "headers_only"), body_only = tp_opt_bool(t, "body_only");
	const char *rubric = headers_only ? "------ This is a copy of the message's header lines.\n"
		: body_only ? "------ This is a copy of the body of the message, without the headers.\n"
		: "------ This is a copy of the message, including all the headers.\n";
	long long limit = conf_main.bounce_return_size_limit;
	long long max = limit > 0 ? (limit / DELIVER_BUFFER + 1) * DELIVER_BUFFER : -1;
	off_t dsize = lseek(rp->c->data_fd, 0, SEEK_END);
	if (max > 0 && !headers_only && dsize > max)
		xbuf_printf(b, "\n%s------ The body of the message is %lld characters long; only the first\n"
			"------ %lld or so are included here.\n\n", rubric, (long long)dsize, max);
	else
		xbuf_printf(b, "\n%s\n", rubric);

	tp_write_opts w = { .m = rp->c->m, .data_fd = rp->c->data_fd, .t = t, .env = rp->c->env,
		.flags = TPW_NO_FILTER };
	xbuf err;
	xbuf_init(&err, rp->a);
	tp_reader *rd = tp_reader_open(rp->a, &w, &err);
	if (!rd)
		return failed(rp, ADDR_DEFER, 0, xbuf_cstr(&err));
	char buf[DELIVER_BUFFER];
	long long copied = 0;
	for (;;) {
		ssize_t n = tp_reader_read(rd, buf, sizeof buf);
		if (n < 0) {
			int e = errno;
			tp_reader_close(rd);
			return failed(rp, ADDR_DEFER, e, arena_printf(rp->a, "error reading message for %s transport: %s",
				t->name, strerror(e)));
		}
		if (n == 0)
			break;
		xbuf_put(b, buf, (size_t)n);
		copied += n;
		if (max > 0 && copied >= max)
			break;
	}
	tp_reader_close(rd);
	return true;
}

/* Exim's record of a reply in the log file (its failure to open is not an error). */
static void write_log(reply *rp)
{
	const struct autoreply_transport_options *o = rp->t->priv;
	const char *path = sv_dup(rp->a, rp->log);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, (mode_t)o->mode);
	if (fd < 0)
		return;
	xbuf b;
	xbuf_init(&b, rp->a);
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	xbuf_printf(&b, "%s\n", stamp);
	static const char *const names[] = { "From", "To", "Cc", "Bcc", "Subject" };
	const sv vals[] = { rp->from, rp->to, rp->cc, rp->bcc, rp->subject };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		if (vals[i].p) {
			xbuf_printf(&b, "  %s: ", names[i]);
			xbuf_putsv(&b, vals[i]);
			xbuf_putc(&b, '\n');
		}
	if (rp->headers.p) {
		xbuf_puts(&b, "  ");
		xbuf_putsv(&b, rp->headers);
		xbuf_putc(&b, '\n');
	}
	if (write(fd, b.p, b.len) < 0) { /* as Exim: the reply matters, its log line does not */ }
	close(fd);
}

/* Build, check and send the reply for one address. true: the address is done (sent, or nothing
 * to send); false: rp->r/err/why say why not. */
static bool send_reply(reply *rp, address_item *addr)
{
	const struct autoreply_transport_options *o = rp->t->priv;
	rp->file_expand = o->file_expand;
	rp->return_message = o->return_message;
	if (addr->reply) {
		/* A filter's reply: its values only, never mixed with the options (Exim's rule);
		 * return_message applies in all cases. */
		const addr_reply *f = addr->reply;
		rp->from = f->from;
		rp->reply_to = f->reply_to;
		rp->to = f->to;
		rp->cc = f->cc;
		rp->bcc = f->bcc;
		rp->subject = f->subject;
		rp->headers = f->headers;
		rp->text = f->text;
		rp->file = f->file;
		rp->log = f->log;
		rp->once = f->once;
		rp->once_repeat = f->once_repeat;
		rp->file_expand = f->file_expand;
		rp->return_message = f->return_message || o->return_message;
	} else if (!expand_opt(rp, o->from, true, &rp->from) || !expand_opt(rp, o->reply_to, true, &rp->reply_to)
		|| !expand_opt(rp, o->to, true, &rp->to) || !expand_opt(rp, o->cc, true, &rp->cc)
		|| !expand_opt(rp, o->bcc, true, &rp->bcc) || !expand_opt(rp, o->subject, true, &rp->subject)
		|| !expand_opt(rp, o->headers, false, &rp->headers) || !expand_opt(rp, o->text, false, &rp->text)
		|| !expand_opt(rp, o->file, false, &rp->file) || !expand_opt(rp, o->log, false, &rp->log)
		|| !expand_opt(rp, o->once, false, &rp->once) || !expand_opt(rp, o->once_repeat, false, &rp->once_repeat)
		|| !expand_opt(rp, o->never_mail, false, &rp->never_mail))
		return false;
	/* File names built from tainted data (a local part from the network) are refused before any
	 * file is touched, in Exim 4.96's order and words: defer with EACCES. */
	const struct { sv path; const char *what; } paths[] = {
		{ rp->once, "once file" }, { rp->file, "file" }, { rp->log, "log file" },
	};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
		if (paths[i].path.p && paths[i].path.taint)
			return failed(rp, ADDR_DEFER, EACCES, arena_printf(rp->a,
				"Tainted '%s' (%s for %s transport) not permitted",
				sv_dup(rp->a, paths[i].path), paths[i].what, rp->t->name));
	long repeat = 0;
	if (rp->once_repeat.p && !parse_time(rp->once_repeat, &repeat))
		return failed(rp, ADDR_FAIL, 0, arena_printf(rp->a, "Invalid time value \"%s\" for \"once_repeat\" in %s transport",
			sv_dup(rp->a, rp->once_repeat), rp->t->name));

	rp->to = never_mail_filter(rp, rp->to);
	rp->cc = never_mail_filter(rp, rp->cc);
	rp->bcc = never_mail_filter(rp, rp->bcc);
	sv rcpts[AUTOREPLY_MAX_RCPTS];
	size_t nrcpts = 0;
	collect(rp, rp->to, rcpts, &nrcpts);
	collect(rp, rp->cc, rcpts, &nrcpts);
	collect(rp, rp->bcc, rcpts, &nrcpts);
	if (nrcpts == 0)
		return true;    /* nobody to reply to (a bounce's empty sender): not an error */
	if (rp->c->dont_deliver)
		return true;

	once_state once = { .a = rp->a, .tname = rp->t->name, .file_size = o->once_file_size,
		.mode = o->mode, .repeat = repeat };
	bool use_once = rp->once.p && rp->once.len && rp->to.p;
	time_t now = time(NULL);
	if (use_once) {
		once.path = sv_dup(rp->a, rp->once);
		once.key = rp->to;
		bool skip = false;
		if (!once_should_skip(&once, now, &skip))
			return failed(rp, ADDR_DEFER, once.err, once.text);
		if (skip)
			return true;
	}

	xbuf msg;
	xbuf_init(&msg, rp->a);
	put_header(&msg, "From", rp->from);
	put_header(&msg, "Reply-To", rp->reply_to);
	put_header(&msg, "To", rp->to);
	put_header(&msg, "Cc", rp->cc);
	put_header(&msg, "Subject", rp->subject);
	sv msgid = header_value(rp->c->m, "Message-ID", rp->a);
	if (msgid.p && msgid.len) {
		put_header(&msg, "In-Reply-To", msgid);
		sv refs = header_value(rp->c->m, "References", rp->a);
		xbuf r;
		xbuf_init(&r, rp->a);
		if (refs.p && refs.len) {
			xbuf_putsv(&r, refs);
			xbuf_putc(&r, ' ');
		}
		xbuf_putsv(&r, msgid);
		put_header(&msg, "References", xbuf_sv(&r));
	}
	xbuf_puts(&msg, "Auto-Submitted: auto-replied\n");
	if (rp->headers.p && rp->headers.len) {
		xbuf_putsv(&msg, rp->headers);
		if (rp->headers.p[rp->headers.len - 1] != '\n')
			xbuf_putc(&msg, '\n');
	}
	xbuf_putc(&msg, '\n');
	if (rp->text.p && rp->text.len) {
		xbuf_putsv(&msg, rp->text);
		if (rp->text.p[rp->text.len - 1] != '\n')
			xbuf_putc(&msg, '\n');
	}
	if (rp->file.p && !add_file(rp, &msg))
		return false;
	if (rp->return_message && !add_returned_message(rp, &msg))
		return false;

	submit_request req = { .sender = sv_cstr(""), .recipients = rcpts, .nrecipients = nrcpts,
		.text = xbuf_sv(&msg), .reference_id = sv_cstr(rp->c->m->id),
		.nbad_recipients = rp->nbad, .first_bad_recipient = rp->first_bad };
	char id[MSG_ID_LEN + 1];
	xbuf err;
	xbuf_init(&err, rp->a);
	if (!submit_message(rp->c->sc, &req, id, &err))
		return failed(rp, ADDR_DEFER, 0, arena_printf(rp->a, "Failed to send message from %s transport: %s",
			rp->t->name, xbuf_cstr(&err)));
	if (rp->log.p && rp->log.len)
		write_log(rp);
	if (use_once && !once_record(&once, now))
		log_write(LOG_MAIN, "%s transport: could not record the reply in %s: %s", rp->t->name, once.path,
			once.text ? once.text : "unknown error");
	return true;
}

static void autoreply_deliver(const driver_instance *t, tp_ctx *c, address_item *addrs)
{
	/* One reply per address, as Exim generates them. */
	for (address_item *ad = addrs; ad; ad = ad->next) {
		reply rp = { .t = t, .c = c, .a = c->a };
		if (send_reply(&rp, ad))
			tp_set_result(c->a, ad, ADDR_OK, 0, 0, NULL);
		else
			tp_set_result(c->a, ad, rp.r, rp.err, 0, "%s", rp.why);
		ad->delivered_to_file = true;
	}
}

const transport_ops autoreply_transport_ops = {
	.remote = false,
	.deliver = autoreply_deliver,
};
