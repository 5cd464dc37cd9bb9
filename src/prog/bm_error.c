/* Mailing an error about a local message to its sender (bm_error.h). Observed with Exim 4.96:
 * "exim -f a@b.example 'bad<address'" reads the message and spools one for a@b.example from <>
 * (the arrival line has no R=, the -H file has -localerror), exits 1 (0 with -oee), and spools
 * nothing for the good recipients on the same command line:
 *
 *   Auto-Submitted: auto-replied
 *   From: <dsn_from>
 *   To: a@b.example
 *   Subject: Mail failure - malformed recipient address
 *
 *   A message that you sent contained a recipient address that was incorrectly
 *   constructed:
 *
 *     bad<address  <why>
 *
 *   The message has not been delivered to any recipients.
 *
 *   ------ This is a copy of your message, including all the headers. ------
 *   <blank line>
 *   <blank line>
 *   <the message as read>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/submit.h"
#include "expand/expand.h"
#include "lib/log.h"
#include "mail/header.h"
#include "prog/bm_error.h"

static char error_mode(const cmdline *cl)
{
	if (cl->error_mode)
		return cl->error_mode == 'w' ? 'm' : cl->error_mode == 'q' ? 'p' : cl->error_mode;
	return strcmp(cl->called_as, "rmail") == 0 ? 'e' : 'm';
}

/* A refused message from <>: nobody to mail the error to. Exim 4.96 (observed, under
 * -oem/-oew/-oee) prints nothing and logs "Error while reading message with no usable sender
 * address: <why>", with the message's id when it has one by then. */
static int log_no_sender(const char *id, const char *why)
{
	log_set_id(id);
	log_write(LOG_MAIN, "Error while reading message with no usable sender address: %s", why);
	log_set_id(NULL);
	return 1;
}

/* The error message was not spooled. In Exim it is the child "exim -t -oem -f <> -E<id>" that
 * refused it (e.g. a header_line_maxsize its own header lines break; submit_message logs what
 * the child logs); the parent then logs this, prints nothing, and exits 1 in every -oe mode. */
static int error_not_sent(const char *id)
{
	log_set_id(id);
	log_write(LOG_MAIN, "Child mail process returned status 1");
	log_set_id(NULL);
	return 1;
}

/* The message as read, up to bounce_return_size_limit bytes (the rest is read and dropped so
 * the caller's writer is not left blocked). */
static void copy_input(int fd, xbuf *out)
{
	size_t limit = conf_main.bounce_return_size_limit > 0 ? (size_t)conf_main.bounce_return_size_limit : 102400;
	char buf[8192];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t keep = out->len < limit ? limit - out->len : 0;
		xbuf_put(out, buf, (size_t)n < keep ? (size_t)n : keep);
	}
}

static sv dsn_from(arena *a)
{
	xp_env env;
	xp_env_init(&env, a);
	xbuf v, err;
	xbuf_init(&v, a);
	xbuf_init(&err, a);
	const char *src = conf_main.dsn_from ? conf_main.dsn_from : main_config_defaults.dsn_from;
	if (xp_expand(&env, sv_cstr(src), &v, &err) != XP_OK) {
		xbuf_reset(&v);
		xp_expand(&env, sv_cstr(main_config_defaults.dsn_from), &v, &err);
	}
	xp_env_release(&env);
	return xbuf_sv(&v);
}

/* The copy of the message in an error message: its headers (deleted ones not; our Received:
 * only when with_received), a blank line, the body. */
static void put_copy(xbuf *text, const message *m, sv body, bool with_received)
{
	for (const msg_header *h = m->headers; h; h = h->next) {
		if (h->type == '*' || (!with_received && h == m->headers && h->type == 'P'))
			continue;
		xbuf_putsv(text, h->text);
	}
	xbuf_putc(text, '\n');
	xbuf_putsv(text, body);
}

/* put_copy without our Received: (the first header: not part of what the sender sent), the
 * whole copy cut at bounce_return_size_limit (default 100K). */
static void put_copy_limited(xbuf *text, const message *m, sv body)
{
	size_t limit = conf_main.bounce_return_size_limit > 0 ? (size_t)conf_main.bounce_return_size_limit : 102400;
	size_t start = text->len;
	put_copy(text, m, SV_LIT(""), false);
	size_t room = text->len - start < limit ? limit - (text->len - start) : 0;
	xbuf_put(text, body.p, body.len < room ? body.len : room);
}

/* Spool text from <> to the message's sender, with R=<the message's id> on its arrival line. */
static bool send_error(const message *m, const xbuf *text, xbuf *err)
{
	spool_config sc;
	char id[MSG_ID_LEN + 1];
	sv rcpt = m->sender;
	submit_request req = { .sender = SV_LIT(""), .recipients = &rcpt, .nrecipients = 1, .text = xbuf_sv(text),
		.reference_id = sv_cstr(m->id) };
	return spool_config_from_main(&sc, err) && submit_message(&sc, &req, id, err);
}

/* The head of an error message about m: Auto-Submitted, From, To, References (the message's
 * Message-Id), Subject "Mail failure - <what>", the blank line. */
static void put_head(xbuf *text, arena *a, const message *m, const char *what)
{
	xbuf_printf(text, "Auto-Submitted: auto-replied\nFrom: " SV_FMT "\nTo: " SV_FMT "\n", SV_ARG(dsn_from(a)),
		SV_ARG(m->sender));
	const msg_header *mid = message_find_header(m, sv_cstr("Message-ID"));
	if (mid)
		xbuf_printf(text, "References: " SV_FMT "\n", SV_ARG(sv_trim(hdr_field_body(mid->text))));
	xbuf_printf(text, "Subject: Mail failure - %s\n\n", what);
}

/* A size as Exim shows it in these messages (observed): "3K" for 3072, "2500", "1000". */
static void put_size(xbuf *out, long long n)
{
	if (n > 0 && n % (1024 * 1024) == 0)
		xbuf_printf(out, "%lldM", n / (1024 * 1024));
	else if (n > 0 && n % 1024 == 0)
		xbuf_printf(out, "%lldK", n / 1024);
	else
		xbuf_printf(out, "%lld", n);
}

/* The copy's heading: when the message is bigger than the limit Exim adds a line naming it
 * (and drops the dashes closing the first line), although it copies the whole message as read
 * all the same (observed with Exim 4.96). */
static void put_copy_heading(xbuf *text, long long size, long long limit)
{
	xbuf_puts(text, "------ This is a copy of your message, including all the headers.");
	if (limit > 0 && size > limit) {
		xbuf_puts(text, "\n------ No more than ");
		put_size(text, limit);
		xbuf_puts(text, " characters of the body are included.\n\n");
	} else {
		xbuf_puts(text, " ------\n\n");
	}
}

int bm_acl_refused(const cmdline *cl, const message *m, sv body, const char *user_text)
{
	char mode = error_mode(cl);
	if (mode == 'p') {
		fprintf(stderr, "exim: message rejected by non-SMTP ACL: %s\n", user_text);
		return 1;
	}
	if (m->sender.len == 0)
		return log_no_sender(m->id, arena_printf(pool_scratch, "rejected by non-SMTP ACL: %s", user_text));
	arena *a = pool_msg;
	xbuf text;
	xbuf_init(&text, a);
	put_head(&text, a, m, "rejected by local scanning code");
	xbuf_printf(&text, "A message that you sent was rejected by the local scanning code that\n"
		"checks incoming messages on this system. The following error was given:\n\n  %s\n\n", user_text);
	put_copy_heading(&text, m->size, conf_main.bounce_return_size_limit);
	put_copy(&text, m, body, true);
	xbuf err;
	xbuf_init(&err, a);
	if (!send_error(m, &text, &err))
		return error_not_sent(m->id);
	return mode == 'e' ? 0 : 1;
}

int bm_too_big(const cmdline *cl, const message *m, sv body, long long size_read, long long size_limit)
{
	char mode = error_mode(cl);
	if (mode == 'p') {
		fprintf(stderr, "exim: message rejected: message too big (max=%lld)\n", size_limit);
		return 1;
	}
	if (m->sender.len == 0)
		return log_no_sender(m->id, arena_printf(pool_scratch, "message too big (limit set to %lld)", size_limit));
	arena *a = pool_msg;
	xbuf text;
	xbuf_init(&text, a);
	put_head(&text, a, m, "message too big");
	xbuf_puts(&text, "A message that you sent was longer than the maximum size allowed on this\n"
		"system. It was not delivered to any recipients.\n\n");
	long long limit = conf_main.bounce_return_size_limit;
	if (limit <= 0 || (size_limit > 0 && size_limit < limit))
		limit = size_limit;
	put_copy_heading(&text, size_read, limit);
	put_copy(&text, m, body, false);
	if (text.len && text.p[text.len - 1] != '\n')
		xbuf_putc(&text, '\n');   /* reading stopped inside a line */
	xbuf err;
	xbuf_init(&err, a);
	if (!send_error(m, &text, &err))
		return error_not_sent(m->id);
	return mode == 'e' ? 0 : 1;
}

/* The copy of a message refused for the size of its header section or of one header line: sent
 * before the message has its Message-Id (no References:, no R=). */
static int header_error(const cmdline *cl, const message *m, sv headers, const char *subject,
	const char *what, const char *stderr_text, const char *nosender_text)
{
	char mode = error_mode(cl);
	if (mode == 'p') {
		fprintf(stderr, "exim: %s\n", stderr_text);
		return 1;
	}
	if (m->sender.len == 0)
		return log_no_sender(NULL, nosender_text);
	arena *a = pool_msg;
	xbuf text;
	xbuf_init(&text, a);
	xbuf_printf(&text, "Auto-Submitted: auto-replied\nFrom: " SV_FMT "\nTo: " SV_FMT "\n"
		"Subject: Mail failure - %s\n\n"
		"A message that you sent contained %s that was excessively\n"
		"long and could not be handled by the mail transmission software. The\n"
		"message has not been delivered to any recipients.\n\n", SV_ARG(dsn_from(a)), SV_ARG(m->sender),
		subject, what);
	put_copy_heading(&text, headers.len, conf_main.bounce_return_size_limit);
	xbuf_putsv(&text, headers);
	if (headers.len && headers.p[headers.len - 1] != '\n')
		xbuf_putc(&text, '\n');   /* reading stopped inside a line */
	spool_config sc;
	char id[MSG_ID_LEN + 1];
	sv rcpt = m->sender;
	submit_request req = { .sender = SV_LIT(""), .recipients = &rcpt, .nrecipients = 1, .text = xbuf_sv(&text) };
	xbuf err;
	xbuf_init(&err, a);
	if (!spool_config_from_main(&sc, &err) || !submit_message(&sc, &req, id, &err))
		return error_not_sent(NULL);
	return mode == 'e' ? 0 : 1;
}

int bm_header_too_big(const cmdline *cl, const message *m, sv headers, long long maxsize)
{
	return header_error(cl, m, headers, "overlong header section", "a header section",
		arena_printf(pool_scratch, "message header longer than %lld characters received: message not accepted",
			maxsize),
		arena_printf(pool_scratch, "excessively long message header section read (more than %lld characters)",
			maxsize));
}

int bm_header_line_too_long(const cmdline *cl, const message *m, sv headers, long long max)
{
	return header_error(cl, m, headers, "overlong header line", "a header line",
		arena_printf(pool_scratch, "message header line longer than %lld characters received: message not "
			"accepted", max),
		arena_printf(pool_scratch, "excessively long message header line read (more than %lld characters)", max));
}

int bm_no_recipients(const cmdline *cl, const message *m, sv body)
{
	char mode = error_mode(cl);
	if (mode == 'p' || m->sender.len == 0) {
		fprintf(stderr, "exim: no recipients in message\n");
		return 1;
	}
	arena *a = pool_msg;
	xbuf text;
	xbuf_init(&text, a);
	put_head(&text, a, m, "no recipient addresses");
	xbuf_puts(&text, "A message that you sent contained no recipient addresses, and therefore no\n"
		"delivery could be attempted.\n\n"
		"------ This is a copy of your message, including all the headers. ------\n\n");
	put_copy_limited(&text, m, body);
	xbuf err;
	xbuf_init(&err, a);
	bool ok = send_error(m, &text, &err);
	if (!ok)
		fprintf(stderr, "exim: no recipients in message (and the error message could not be sent: %s)\n",
			xbuf_cstr(&err));
	return mode == 'e' && ok ? 0 : 1;
}

int bm_bad_recipient(const cmdline *cl, sv sender, const char *address, const char *why, int input_fd)
{
	char mode = error_mode(cl);
	if (mode == 'p') {
		fprintf(stderr, "exim: bad recipient address \"%s\": %s\n", address, why);
		return 1;
	}
	if (sender.len == 0)
		return 1;   /* nobody to tell */
	arena *a = pool_msg;
	xbuf text;
	xbuf_init(&text, a);
	xbuf_printf(&text, "Auto-Submitted: auto-replied\nFrom: " SV_FMT "\nTo: " SV_FMT "\n"
		"Subject: Mail failure - malformed recipient address\n\n"
		"A message that you sent contained a recipient address that was incorrectly\nconstructed:\n\n"
		"  %s  %s\n\nThe message has not been delivered to any recipients.\n\n"
		"------ This is a copy of your message, including all the headers. ------\n\n\n",
		SV_ARG(dsn_from(a)), SV_ARG(sender), address, why);
	copy_input(input_fd, &text);
	spool_config sc;
	xbuf err;
	xbuf_init(&err, a);
	char id[MSG_ID_LEN + 1];
	sv rcpt = sender;
	submit_request req = { .sender = SV_LIT(""), .recipients = &rcpt, .nrecipients = 1, .text = xbuf_sv(&text) };
	bool ok = spool_config_from_main(&sc, &err) && submit_message(&sc, &req, id, &err);
	if (!ok)
		fprintf(stderr, "exim: bad recipient address \"%s\": %s (and the error message could not be sent: %s)\n",
			address, why, xbuf_cstr(&err));
	return mode == 'e' && ok ? 0 : 1;
}

int bm_bad_header_recipients(const cmdline *cl, const message *m, sv body, sv report, size_t nbad, sv first)
{
	(void)cl;
	bool others = m->nrcpt > 0;
	if (m->sender.len == 0) {
		log_set_id(m->id);
		log_write(LOG_MAIN, "Error while reading message with no usable sender address: at least one malformed "
			"recipient address: " SV_FMT, SV_ARG(first));
		log_set_id(NULL);
		return others ? 0 : 1;
	}
	arena *a = pool_msg;
	xbuf text;
	xbuf_init(&text, a);
	put_head(&text, a, m, "malformed recipient address");
	xbuf_puts(&text, "A message that you sent contained one or more recipient addresses that were\n"
		"incorrectly constructed:\n\n");
	xbuf_putsv(&text, report);
	xbuf_puts(&text, nbad == 1 ? "\nThis address has been ignored. " : "\nThese addresses have been ignored. ");
	xbuf_puts(&text, others ? "The other addresses in the message were\n"
		"syntactically valid and have been passed on for an attempt at delivery.\n\n"
		: "There were no other addresses in your\nmessage, and so no attempt at delivery was possible.\n\n");
	xbuf_puts(&text, "------ This is a copy of your message, including all the headers. ------\n\n");
	put_copy_limited(&text, m, body);
	xbuf err;
	xbuf_init(&err, a);
	spool_config sc;
	char id[MSG_ID_LEN + 1];
	sv rcpt = m->sender;
	/* Made by the MTA (observed: U=<exim_user> on its arrival line). */
	submit_request req = { .sender = SV_LIT(""), .recipients = &rcpt, .nrecipients = 1, .text = xbuf_sv(&text),
		.reference_id = sv_cstr(m->id), .by_exim_user = true };
	if (!spool_config_from_main(&sc, &err) || !submit_message(&sc, &req, id, &err)) {
		log_set_id(m->id);
		log_write(LOG_MAIN, "malformed recipient address report to " SV_FMT " could not be sent: %s",
			SV_ARG(m->sender), xbuf_cstr(&err));
		log_set_id(NULL);
	}
	return others ? 0 : 1;
}
