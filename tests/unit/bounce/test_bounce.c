/* The failure report's rules that the Exim goldens (tests/scenario/test_bounce.py) do not pin
 * down one by one: DSN extra information (facts §7) and its switch, References (first and last
 * 11 ids), the returned message's size cutoff (the -D size against the limit rounded up to 8K),
 * the line-size limit, RET=HDRS, and the split of SMTP errors in the human-readable part. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/bounce.h"
#include "smtp/client.h"
#include "../unit.h"

static message *new_message(void)
{
	message *m = message_new(pool_msg);
	memcpy(m->id, "1xUjVI-0006zw-1N", MSG_ID_LEN + 1);
	m->sender = sv_cstr("alice@example.org");
	message_add_recipient(m, sv_cstr("bob@remote.example"));
	message_add_header(m, 'F', sv_cstr("From: a@example.org\n"));
	message_add_header(m, ' ', sv_cstr("Subject: test\n"));
	return m;
}

static address_item *remote_failure(int port)
{
	address_item *a = arena_calloc(pool_msg, 1, sizeof *a);
	a->address = sv_cstr("bob@remote.example");
	a->host_used_name = sv_cstr("mx.remote.example");
	a->host_used_address = sv_cstr("192.0.2.9");
	a->host_used_port = port;
	a->smtp_greeting = sv_cstr("220 mx.remote.example ESMTP hello\nsecond line");
	a->helo_response = sv_cstr("250-mx.remote.example Hello");
	a->message = sv_cstr("SMTP error from remote mail server after RCPT TO:<bob@remote.example>: 550 5.1.1 no such user");
	a->smtp_response = sv_cstr("550 5.1.1 no such user");
	return a;
}

/* A -D file with `body` bytes of body in lines of 50. */
static int data_file(size_t body)
{
	char path[] = "/tmp/test_bounce.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	const char *first = "1xUjVI-0006zw-1N-D\n";
	if (write(fd, first, strlen(first)) < 0)
		return -1;
	char line[50];
	memset(line, 'y', sizeof line);
	line[49] = '\n';
	while (body > 0) {
		size_t k = body < 50 ? body : 50;
		char tmp[50];
		memcpy(tmp, line, k);
		tmp[k - 1] = '\n';
		if (write(fd, tmp, k) < 0)
			return -1;
		body -= k;
	}
	return fd;
}

static const char *format(const message *m, int fd, const address_item *a)
{
	xbuf out, err;
	xbuf_init(&out, pool_msg);
	xbuf_init(&err, pool_msg);
	if (!bounce_format_failure(m, fd, a, m->sender, &out, &err))
		return xbuf_cstr(&err);
	return xbuf_cstr(&out);
}

static void test_extra_information(void)
{
	message *m = new_message();
	const char *t = format(m, -1, remote_failure(587));
	CHECK(strstr(t, "Action: failed\nFinal-Recipient: rfc822;bob@remote.example\nStatus: 5.0.0\n"
		"Remote-MTA: dns; mx.remote.example\n"
		"Remote-MTA: X-ip; [192.0.2.9]:587\n"
		"X-Remote-MTA-smtp-greeting: X-str; 220 mx.remote.example ESMTP hello\n"
		"X-Remote-MTA-helo-response: X-str; 250-mx.remote.example Hello\n"
		"X-Exim-Diagnostic: X-str; SMTP error from remote mail server after RCPT TO:<bob@remote.example>: 550 5.1.1 no such user\n"
		"Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n") != NULL);
	/* Port 25 is not shown; empty fields are left out. */
	address_item *a = remote_failure(25);
	a->smtp_greeting = sv_cstr("");
	a->helo_response = sv_cstr("");
	t = format(m, -1, a);
	CHECK(strstr(t, "Remote-MTA: X-ip; [192.0.2.9]\nX-Exim-Diagnostic: X-str; SMTP error") != NULL);
	CHECK(strstr(t, "X-Remote-MTA-smtp-greeting") == NULL);
	/* No host name: no Remote-MTA at all. */
	a = remote_failure(25);
	a->host_used_name = sv_cstr("");
	t = format(m, -1, a);
	CHECK(strstr(t, "Remote-MTA") == NULL);
	/* A 1000-byte diagnostic is cut to 900. */
	a = remote_failure(25);
	char *longmsg = arena_alloc(pool_msg, 1001);
	memset(longmsg, 'd', 1000);
	longmsg[1000] = 0;
	a->message = sv_cstr(longmsg);
	t = format(m, -1, a);
	const char *d = strstr(t, "X-Exim-Diagnostic: X-str; ");
	CHECK(d && strchr(d, '\n') - d == (long)strlen("X-Exim-Diagnostic: X-str; ") + 900);
	/* A multi-line reply kept escaped ("\\n", as the log shows it): continuation lines in
	 * Diagnostic-Code, the text as it is in X-Exim-Diagnostic, separate lines in the text part. */
	a = remote_failure(25);
	a->message = sv_cstr("SMTP error from remote mail server after RCPT TO:<bob@remote.example>: 550-first\\n550 second");
	a->smtp_response = sv_cstr("550-first\\n550 second");
	t = format(m, -1, a);
	CHECK(strstr(t, "X-Exim-Diagnostic: X-str; SMTP error from remote mail server after RCPT TO:<bob@remote.example>: "
		"550-first\\n550 second\nDiagnostic-Code: smtp; 550-first\n 550 second\n") != NULL);
	CHECK(strstr(t, "RCPT TO:<bob@remote.example>:\n    550-first\n    550 second\n") != NULL);
	/* Switched off. */
	conf_main.dsn_extra_information = false;
	t = format(m, -1, remote_failure(587));
	CHECK(strstr(t, "X-ip") == NULL && strstr(t, "X-Exim-Diagnostic") == NULL);
	CHECK(strstr(t, "Remote-MTA: dns; mx.remote.example\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n") != NULL);
	conf_main.dsn_extra_information = true;
}

static void test_human_part(void)
{
	message *m = new_message();
	const char *t = format(m, -1, remote_failure(25));
	CHECK(strstr(t, "\n  bob@remote.example\n    host mx.remote.example [192.0.2.9]\n"
		"    SMTP error from remote mail server after RCPT TO:<bob@remote.example>:\n"
		"    550 5.1.1 no such user\n\n--") != NULL);
	CHECK(strncmp(t, "X-Failed-Recipients: bob@remote.example\nAuto-Submitted: auto-replied\n"
		"From: Mail Delivery System <Mailer-Daemon@", 103) == 0);
	CHECK(strstr(t, "\nSubject: Mail delivery failed: returning message to sender\n\n--") != NULL);
	/* A generated pipe address names its parent. */
	address_item *p = arena_calloc(pool_msg, 1, sizeof *p);
	p->address = sv_cstr("carol@example.org");
	address_item *c = arena_calloc(pool_msg, 1, sizeof *c);
	c->kind = ADDR_PIPE;
	c->address = sv_cstr("|/bin/false");
	c->parent = p;
	c->message = sv_cstr("boom");
	t = format(m, -1, c);
	CHECK(strstr(t, "\n  pipe to |/bin/false\n    generated by carol@example.org\n    boom\n") != NULL);
}

static void test_references(void)
{
	message *m = new_message();
	CHECK(strstr(format(m, -1, remote_failure(25)), "References:") == NULL);
	message_add_header(m, 'I', sv_cstr("Message-ID: <m1@example.org>\n"));
	xbuf refs;
	xbuf_init(&refs, pool_msg);
	xbuf_puts(&refs, "References:");
	for (int i = 1; i <= 15; i++)
		xbuf_printf(&refs, " <id%02d@x>", i);
	xbuf_putc(&refs, '\n');
	message_add_header(m, ' ', xbuf_sv(&refs));
	CHECK(strstr(format(m, -1, remote_failure(25)), "\nReferences: <id01@x> <id05@x> <id06@x> <id07@x> "
		"<id08@x> <id09@x> <id10@x> <id11@x> <id12@x> <id13@x> <id14@x> <id15@x> <m1@example.org>\n") != NULL);
	message *m2 = new_message();
	message_add_header(m2, 'I', sv_cstr("Message-ID: <m2@example.org>\n"));
	message_add_header(m2, ' ', sv_cstr("References: <a@x>\n <b@x> junk <c@x>\n"));
	CHECK(strstr(format(m2, -1, remote_failure(25)), "\nReferences: <a@x> <b@x> <m2@example.org>\n") != NULL);
	/* A folded Message-ID stays on the References line. */
	message *m3 = new_message();
	message_add_header(m3, 'I', sv_cstr("Message-ID:\n <m3@example.org>\n"));
	CHECK(strstr(format(m3, -1, remote_failure(25)), "\nReferences: <m3@example.org>\nContent-Type:") != NULL);
}

static void test_returned_message(void)
{
	message *m = new_message();
	conf_main.bounce_return_size_limit = 200;   /* rounds up to 8192 bytes of -D file */
	int fd = data_file(8192 - 19);
	const char *t = format(m, fd, remote_failure(25));
	CHECK(strstr(t, "Content-type: message/rfc822\n\nReturn-path: <alice@example.org>\nFrom: a@example.org\n"
		"Subject: test\n\nyyyy") != NULL);
	CHECK(strstr(t, "y\n\n--") != NULL);
	close(fd);
	fd = data_file(8193 - 19);
	t = format(m, fd, remote_failure(25));
	CHECK(strstr(t, "Content-type: text/rfc822-headers\n\nReturn-path: <alice@example.org>\nFrom: a@example.org\n"
		"Subject: test\nX-Exim-DSN-Information: Due to administrative limits only headers are returned\n\n\n--") != NULL);
	conf_main.bounce_return_size_limit = 0;     /* no limit */
	CHECK(strstr(format(m, fd, remote_failure(25)), "message/rfc822") != NULL);
	close(fd);
	fd = data_file(100);
	/* A line over bounce_return_linesize_limit. */
	conf_main.bounce_return_linesize_limit = 100;
	m->max_received_linelength = 101;
	CHECK(strstr(format(m, fd, remote_failure(25)), "only headers are returned") != NULL);
	m->max_received_linelength = 100;
	CHECK(strstr(format(m, fd, remote_failure(25)), "message/rfc822") != NULL);
	/* RET=HDRS and no_bounce_return_body: headers without the note. */
	m->dsn_ret = MSG_DSN_RET_HDRS;
	t = format(m, fd, remote_failure(25));
	CHECK(strstr(t, "text/rfc822-headers") != NULL && strstr(t, "administrative") == NULL);
	m->dsn_ret = MSG_DSN_RET_NONE;
	conf_main.bounce_return_body = false;
	t = format(m, fd, remote_failure(25));
	CHECK(strstr(t, "text/rfc822-headers") != NULL && strstr(t, "administrative") == NULL);
	m->dsn_ret = MSG_DSN_RET_FULL;
	CHECK(strstr(format(m, fd, remote_failure(25)), "message/rfc822") != NULL);
	conf_main.bounce_return_body = true;
	close(fd);
}

static bool starts_with(const char *t, const char *prefix)
{
	return strncmp(t, prefix, strlen(prefix)) == 0;
}

/* A message that came with SMTPUTF8 (observed from Exim 4.96): the addresses of the
 * human-readable part and X-Failed-Recipients escaped as in the log, the delivery-status part's
 * as they are, and RFC 6533's content types for it and the returned message. */
static void test_utf8(void)
{
	message *m = new_message();
	m->smtputf8 = true;
	m->sender = sv_cstr("s\xc3\xa9nder@s\xc3\xa9.test");
	address_item *a = arena_calloc(pool_msg, 1, sizeof *a);
	a->address = sv_cstr("r\xc3\xa9" "cip@b\xc3\xbc" "cher.test");
	a->message = sv_cstr("nope here");
	int fd = data_file(100);
	const char *t = format(m, fd, a);
	CHECK(starts_with(t, "X-Failed-Recipients: r\\303\\251cip@b\\303\\274cher.test\n"));
	CHECK(strstr(t, "\nTo: s\xc3\xa9nder@s\xc3\xa9.test\n") != NULL);
	CHECK(strstr(t, "\n  r\\303\\251cip@b\\303\\274cher.test\n    nope here\n") != NULL);
	CHECK(strstr(t, "Content-type: message/global-delivery-status\n\nReporting-MTA: dns; ") != NULL);
	CHECK(strstr(t, "\nFinal-Recipient: rfc822;r\xc3\xa9" "cip@b\xc3\xbc" "cher.test\n") != NULL);
	CHECK(strstr(t, "Content-type: message/global\n\nReturn-path: <s\xc3\xa9nder@s\xc3\xa9.test>\n") != NULL);
	m->dsn_ret = MSG_DSN_RET_HDRS;
	CHECK(strstr(format(m, fd, a), "Content-type: message/global-headers\n\n") != NULL);
	m->dsn_ret = MSG_DSN_RET_NONE;
	/* print_topbitchars: the bytes themselves. */
	conf_main.print_topbitchars = true;
	CHECK(starts_with(format(m, fd, a), "X-Failed-Recipients: r\xc3\xa9" "cip@b\xc3\xbc" "cher.test\n"));
	conf_main.print_topbitchars = false;
	/* Refused for want of SMTPUTF8 at the host: the host line alone. */
	address_item *u = remote_failure(25);
	u->smtp_response = sv_cstr("");
	u->basic_errno = SMTPC_ERRNO_UTF8;
	u->message = sv_cstr("utf8 support required but not offered for forwarding");
	CHECK(strstr(format(m, fd, u), "\n  bob@remote.example\n    host mx.remote.example [192.0.2.9]\n\n--") != NULL);
	/* Without SMTPUTF8 the usual types. */
	m->smtputf8 = false;
	t = format(m, fd, a);
	CHECK(strstr(t, "Content-type: message/delivery-status\n") != NULL && strstr(t, "Content-type: message/rfc822\n") != NULL);
	close(fd);
}

/* Redirected addresses name the recipient they came from (observed from Exim 4.96). */
static void test_generated_from(void)
{
	message *m = new_message();
	address_item *top = arena_calloc(pool_msg, 1, sizeof *top);
	top->address = sv_cstr("g\xc3\xa9@gen2.test");
	address_item *mid = arena_calloc(pool_msg, 1, sizeof *mid);
	mid->address = sv_cstr("x@gen.test");
	mid->parent = top;
	address_item *a = arena_calloc(pool_msg, 1, sizeof *a);
	a->address = sv_cstr("fail@r.test");
	a->parent = mid;
	a->message = sv_cstr("nope here");
	CHECK(strstr(format(m, -1, a), "\n  fail@r.test\n    (ultimately generated from g\\303\\251@gen2.test)\n    nope here\n") != NULL);
	a->parent = top;
	CHECK(strstr(format(m, -1, a), "\n  fail@r.test\n    (generated from g\\303\\251@gen2.test)\n    nope here\n") != NULL);
	/* A pipe from a forward file of an alias: its parent, then where it all came from. */
	address_item *p = arena_calloc(pool_msg, 1, sizeof *p);
	p->kind = ADDR_PIPE;
	p->address = sv_cstr("|/bin/false");
	p->parent = mid;
	p->message = sv_cstr("boom");
	CHECK(strstr(format(m, -1, p), "\n  pipe to |/bin/false\n    generated by x@gen.test\n"
		"    (ultimately generated from g\\303\\251@gen2.test)\n") != NULL);
	/* A filter's "deliver" to its own address: nothing more. */
	a->address = sv_cstr("G\xc3\xa9@gen2.test");
	a->parent = top;
	CHECK(strstr(format(m, -1, a), "\n  G\\303\\251@gen2.test\n    nope here\n") != NULL);
}

static void test_boundary(void)
{
	message *m = new_message();
	const char *t = format(m, -1, remote_failure(25));
	const char *b = strstr(t, "boundary=");
	CHECK(b != NULL);
	if (!b)
		return;
	b += 9;
	char *end;
	strtoll(b, &end, 10);
	CHECK(end > b && strncmp(end, "-eximdsn-", 9) == 0);
	size_t blen = (size_t)(strchr(b, '\n') - b);
	char closing[128];
	snprintf(closing, sizeof closing, "\n--%.*s--\n", (int)blen, b);
	CHECK(strlen(t) > strlen(closing) && strcmp(t + strlen(t) - strlen(closing), closing) == 0);
}

int main(void)
{
	arena_init_pools();
	RUN(test_extra_information);
	RUN(test_human_part);
	RUN(test_references);
	RUN(test_returned_message);
	RUN(test_boundary);
	RUN(test_utf8);
	RUN(test_generated_from);
	return unit_report("test_bounce");
}
