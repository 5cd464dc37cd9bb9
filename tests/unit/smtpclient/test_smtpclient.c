/* The SMTP client engine against a scripted server over a socketpair: every protocol branch
 * (pipelined and not, CHUNKING, LMTP, max_rcpt batches, HELO fallback, reuse, AUTH) and every
 * error (timeouts, closed connections, malformed and over-long replies, 4xx/5xx at each stage).
 * Texts of the kinds Exim 4.96 was observed to produce (tests/scenario/test_smtpclient_exim.py
 * compares them with Exim directly). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "drivers/auths/auth_clients.h"
#include "drivers/transports/smtp_ehlo_cache.h"
#include "lib/arena.h"
#include "lib/codec.h"
#include "smtp/client.h"
#include "unit.h"

/* ---- the scripted server (a child process) ---- */

/* A step: read what `read` says ("L" a command line, "B" DATA content up to the dot, "C" a BDAT
 * command and its data), then send reply (NULL: close; "" nothing; "SLEEP": stay silent). */
typedef struct step {
	const char *read;
	const char *reply;
} step;

static size_t rd_line(int fd, char *buf, size_t max)
{
	size_t n = 0;
	char ch;
	while (n + 1 < max && read(fd, &ch, 1) == 1) {
		buf[n++] = ch;
		if (ch == '\n') break;
	}
	buf[n] = 0;
	return n;
}

/* Runs the script on fd, writing a transcript ("C: <line>" and "BODY <escaped>") to out. */
static void serve(int fd, int out, const char *greeting, const step *steps)
{
	char line[70000];
	FILE *t = fdopen(out, "w");
	if (greeting && write(fd, greeting, strlen(greeting)) < 0) _exit(1);
	for (const step *s = steps; s && s->read; s++) {
		if (s->read[0] == 'B') {
			fputs("BODY ", t);
			for (;;) {
				size_t n = rd_line(fd, line, sizeof line);
				if (n == 0 || strcmp(line, ".\r\n") == 0) break;
				for (size_t i = 0; i < n; i++)
					if (line[i] == '\r') fputs("\\r", t);
					else if (line[i] == '\n') fputs("\\n", t);
					else fputc(line[i], t);
			}
			fputc('\n', t);
		} else {
			size_t n = rd_line(fd, line, sizeof line);
			if (n == 0) break;
			line[strcspn(line, "\r\n")] = 0;
			fprintf(t, "C: %s\n", line);
			if (s->read[0] == 'C') {
				size_t len = strtoul(line + 5, NULL, 10), got = 0;
				fputs("DATA ", t);
				while (got < len) {
					char ch;
					if (read(fd, &ch, 1) != 1) break;
					/* Only the start: the transcript pipe is read after the exchange. */
					if (got++ >= 100) continue;
					if (ch == '\r') fputs("\\r", t);
					else if (ch == '\n') fputs("\\n", t);
					else fputc(ch, t);
				}
				fputc('\n', t);
			}
		}
		if (s->reply == NULL) { fclose(t); _exit(0); }
		if (strcmp(s->reply, "SLEEP") == 0) { sleep(3); fclose(t); _exit(0); }
		if (write(fd, s->reply, strlen(s->reply)) < 0) break;
	}
	/* Record what follows (QUIT, RSET ...) until the client closes. */
	for (;;) {
		size_t n = rd_line(fd, line, sizeof line);
		if (n == 0) break;
		line[strcspn(line, "\r\n")] = 0;
		fprintf(t, "C: %s\n", line);
		if (strncmp(line, "QUIT", 4) == 0 && write(fd, "221 bye\r\n", 9) < 0) break;
	}
	fclose(t);
	_exit(0);
}

static bool exchange_norewind;
static bool no_rewind_cb(void *ctx)
{
	(void)ctx;
	return false;
}

typedef struct run {
	smtpc_conn *c;
	char transcript[8192];
} run;

typedef struct str_source {
	const char *start, *p;
} str_source;

static ssize_t str_read(void *ctx, char *buf, size_t n)
{
	str_source *s = ctx;
	size_t k = strlen(s->p);
	if (k > n) k = n;
	if (k > 5) k = 5;  /* tiny reads: CRLF and dot state must survive buffer boundaries */
	memcpy(buf, s->p, k);
	s->p += k;
	return (ssize_t)k;
}

static bool str_rewind(void *ctx)
{
	str_source *s = ctx;
	s->p = s->start;
	return true;
}

static smtpc_options base_opts(void)
{
	return (smtpc_options){ .helo_name = SV_LIT("client.test"), .connect_timeout = 5,
		.command_timeout = 5, .data_timeout = 5, .final_timeout = 5, .try_chunking = true,
		.max_rcpt = 100, .size_addition = 1024 };
}

/* Connect over a socketpair to a child serving the script; send `body` `times` times to the
 * recipients; close; collect the transcript. */
static void exchange(run *r, const smtpc_options *o, const char *greeting, const step *steps,
	smtpc_message *m, const char *body, smtpc_rcpt *rc, size_t n, int times)
{
	int sp[2], pp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || pipe(pp) < 0) abort();
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(sp[0]);
		close(pp[0]);
		serve(sp[1], pp[1], greeting, steps);
	}
	close(sp[1]);
	close(pp[1]);
	smtpc_host h = { SV_LIT("mx.test"), SV_LIT("192.0.2.1"), 25 };
	r->c = smtpc_connect_fd(pool_msg, o, &h, sp[0]);
	for (int i = 0; i < times; i++) {
		str_source p = { body, body };
		m->read = str_read;
		m->rewind = exchange_norewind ? no_rewind_cb : str_rewind;
		m->read_ctx = &p;
		smtpc_send(r->c, m, rc, n);
	}
	smtpc_close(r->c);
	size_t got = 0;
	ssize_t k;
	while (got + 1 < sizeof r->transcript && (k = read(pp[0], r->transcript + got, sizeof r->transcript - 1 - got)) > 0)
		got += (size_t)k;
	r->transcript[got] = 0;
	close(pp[0]);
	waitpid(pid, NULL, 0);
}

#define EHLO_PIPE "250-mx.test\r\n250-PIPELINING\r\n250-SIZE\r\n250 8BITMIME\r\n"
#define MSG "Subject: t\n\n.a\nb\n"

static void rcpts(smtpc_rcpt *r, size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	memset(r, 0, n * sizeof *r);
	for (size_t i = 0; i < n; i++) r[i].address = sv_cstr(va_arg(ap, const char *));
	va_end(ap);
}

static void test_pipelined(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT("s@a.test"), .size = 17, .linecount = 3 };
	smtpc_rcpt r[2];
	rcpts(r, 2, "x@b.test", "y@b.test");
	step s[] = { { "L", EHLO_PIPE }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "550-5.1.1 no\r\n550 5.1.1 user\r\n" }, { "L", "354 go\r\n" }, { "B", "250 OK id=1\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx ESMTP\r\n", s, &m, MSG, r, 2, 1);
	CHECK_STR(x.transcript, "C: EHLO client.test\nC: MAIL FROM:<s@a.test> SIZE=1044\nC: RCPT TO:<x@b.test>\n"
		"C: RCPT TO:<y@b.test>\nC: DATA\nBODY Subject: t\\r\\n\\r\\n..a\\r\\nb\\r\\n\nC: QUIT\n");
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK_STR(xbuf_cstr(&r[0].message), "250 OK id=1");
	CHECK_INT(r[1].status, SMTPC_FAIL);
	CHECK_INT(r[1].code, 550);
	CHECK_STR(xbuf_cstr(&r[1].message), "SMTP error from remote mail server after RCPT TO:<y@b.test>: 550-5.1.1 no\\n550 5.1.1 user");
	CHECK_STR(xbuf_cstr(&x.c->greeting.text), "220 mx ESMTP");
	CHECK_INT(x.c->offered, SMTPC_OFFER_PIPELINING | SMTPC_OFFER_SIZE | SMTPC_OFFER_8BITMIME);
	CHECK_INT(x.c->messages_sent, 1);
}

static void test_sequential_and_4xx(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT(""), .size = 5 };
	smtpc_rcpt r[2];
	rcpts(r, 2, "x@b.test", "y@b.test");
	/* No PIPELINING: one command, one reply. A 452 at RCPT defers that recipient. The body has
	 * no final newline: CRLF is added before the dot. */
	step s[] = { { "L", "250-mx\r\n250 SIZE 100\r\n" }, { "L", "250 ok\r\n" }, { "L", "452 4.2.2 full\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 fine\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx\r\n", s, &m, "S: x\n\nno newline", r, 2, 1);
	CHECK_STR(x.transcript, "C: EHLO client.test\nC: MAIL FROM:<> SIZE=1029\nC: RCPT TO:<x@b.test>\n"
		"C: RCPT TO:<y@b.test>\nC: DATA\nBODY S: x\\r\\n\\r\\nno newline\\r\\n\nC: QUIT\n");
	CHECK_INT(r[0].status, SMTPC_DEFER);
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_RCPT4XX);
	CHECK_STR(xbuf_cstr(&r[0].message), "SMTP error from remote mail server after RCPT TO:<x@b.test>: 452 4.2.2 full");
	CHECK_INT(r[1].status, SMTPC_OK);
}

static void test_all_rcpts_refused(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[1];
	rcpts(r, 1, "x@b.test");
	/* Pipelined DATA gets 503; nothing more is sent but QUIT (no RSET: nothing follows). */
	step s[] = { { "L", EHLO_PIPE }, { "L", "250 ok\r\n" }, { "L", "550 no\r\n" }, { "L", "503 no valid rcpts\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx\r\n", s, &m, MSG, r, 1, 1);
	CHECK_STR(x.transcript, "C: EHLO client.test\nC: MAIL FROM:<s@a.test> SIZE=1024\nC: RCPT TO:<x@b.test>\nC: DATA\nC: QUIT\n");
	CHECK_INT(r[0].status, SMTPC_FAIL);
	CHECK(x.c->messages_sent == 0);
}

static void test_chunking(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT("s@a.test"), .smtputf8 = true };
	smtpc_rcpt r[1];
	rcpts(r, 1, "x@b.test");
	step s[] = { { "L", "250-mx\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "C", "250- 17 byte chunk\r\n250 OK id=2\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx\r\n", s, &m, MSG, r, 1, 1);
	/* No dot-stuffing in BDAT. */
	CHECK_STR(x.transcript, "C: EHLO client.test\nC: MAIL FROM:<s@a.test> SMTPUTF8\nC: RCPT TO:<x@b.test>\n"
		"C: BDAT 21 LAST\nDATA Subject: t\\r\\n\\r\\n.a\\r\\nb\\r\\n\nC: QUIT\n");
	CHECK_STR(xbuf_cstr(&r[0].message), "250- 17 byte chunk\n250 OK id=2");
}

static void test_smtputf8_not_offered(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT("s@a.test"), .smtputf8 = true };
	smtpc_rcpt r[1];
	rcpts(r, 1, "x@b.test");
	step s[] = { { "L", "250 mx\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx\r\n", s, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_FAIL);
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_UTF8);
	CHECK_STR(xbuf_cstr(&r[0].message), "utf8 support required but not offered for forwarding");
	CHECK_STR(x.transcript, "C: EHLO client.test\nC: QUIT\n");
}

static void test_lmtp(void)
{
	smtpc_options o = base_opts();
	o.lmtp = true;
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[3];
	rcpts(r, 3, "a@b", "b@b", "c@b");
	step s[] = { { "L", "250-lmtp\r\n250 PIPELINING\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "550 unknown\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" },
		{ "B", "250 2.0.0 a done\r\n452 4.2.2 c over quota\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 lmtp\r\n", s, &m, MSG, r, 3, 1);
	CHECK(strncmp(x.transcript, "C: LHLO client.test\n", 20) == 0);
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK_STR(xbuf_cstr(&r[0].message), "250 2.0.0 a done");
	CHECK_INT(r[1].status, SMTPC_FAIL);
	CHECK_INT(r[2].status, SMTPC_DEFER);
	CHECK_INT(r[2].basic_errno, 0);
	CHECK_STR(xbuf_cstr(&r[2].message), "LMTP error after DATA: 452 4.2.2 c over quota");
}

static void test_max_rcpt_and_reuse(void)
{
	smtpc_options o = base_opts();
	o.max_rcpt = 1;
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[2];
	rcpts(r, 2, "a@b", "b@b");
	/* Two transactions for one message; a second message on the same connection starts with RSET. */
	step s[] = { { "L", "250 mx\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 one\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 two\r\n" },
		{ "L", "250 reset\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 three\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 four\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx\r\n", s, &m, "S: 1\n\nx\n", r, 2, 2);
	CHECK_STR(xbuf_cstr(&r[0].message), "250 three");
	CHECK_STR(xbuf_cstr(&r[1].message), "250 four");
	CHECK(strstr(x.transcript, "BODY S: 1\\r\\n\\r\\nx\\r\\n\nC: RSET\nC: MAIL FROM:<s@a.test>\n") != NULL);
	CHECK_INT(x.c->messages_sent, 4);
}

static void test_helo_fallback_and_errors(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[1];
	rcpts(r, 1, "a@b");
	run x;
	step s1[] = { { "L", "502 no ehlo\r\n" }, { "L", "421 4.3.2 bye now\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s1, &m, MSG, r, 1, 1);
	CHECK_STR(x.transcript, "C: EHLO client.test\nC: HELO client.test\nC: QUIT\n");
	CHECK_INT(x.c->status, SMTPC_DEFER);
	CHECK_STR(xbuf_cstr(&x.c->message), "SMTP error from remote mail server after HELO client.test: 421 4.3.2 bye now");
	CHECK_INT(r[0].status, SMTPC_DEFER);
	CHECK_STR(xbuf_cstr(&r[0].message), "SMTP error from remote mail server after HELO client.test: 421 4.3.2 bye now");

	/* hosts_avoid_esmtp: HELO at once. */
	o.avoid_esmtp = true;
	step s2[] = { { "L", "250 hi\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 ok\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s2, &m, MSG, r, 1, 1);
	CHECK(strncmp(x.transcript, "C: HELO client.test\nC: MAIL FROM:<s@a.test>\n", 44) == 0);
	CHECK_INT(r[0].status, SMTPC_OK);

	/* A 5xx greeting fails the recipients. */
	o.avoid_esmtp = false;
	step s3[] = { { 0, 0 } };
	exchange(&x, &o, "554 5.7.1 go away\r\n", s3, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_FAIL);
	CHECK_STR(xbuf_cstr(&r[0].message), "SMTP error from remote mail server after initial connection: 554 5.7.1 go away");
}

static void test_io_errors(void)
{
	smtpc_options o = base_opts();
	o.command_timeout = 1;
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[1];
	rcpts(r, 1, "a@b");
	run x;
	/* A silent server. */
	step s1[] = { { 0, 0 } };
	exchange(&x, &o, NULL, s1, &m, MSG, r, 1, 1);
	CHECK_INT(x.c->basic_errno, ETIMEDOUT);
	CHECK_STR(xbuf_cstr(&x.c->message), "SMTP timeout after initial connection");
	CHECK_INT(r[0].status, SMTPC_DEFER);
	CHECK_STR(xbuf_cstr(&r[0].message), "SMTP timeout after initial connection");

	/* Timeout waiting for the RCPT reply. */
	step s2[] = { { "L", "250 mx\r\n" }, { "L", "250 ok\r\n" }, { "L", "SLEEP" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s2, &m, MSG, r, 1, 1);
	CHECK_STR(xbuf_cstr(&r[0].message), "SMTP timeout after RCPT TO:<a@b>");
	CHECK(!x.c->usable);

	/* An empty line, and a line longer than the limit. */
	step s3[] = { { "L", "250 mx\r\n" }, { "L", "\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s3, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_SMTPFORMAT);
	CHECK_STR(xbuf_cstr(&r[0].message), "Malformed SMTP reply (an empty line) in response to MAIL FROM:<s@a.test>");
	static char longline[SMTPC_LINE_MAX + 20];
	memset(longline, 'x', sizeof longline - 3);
	memcpy(longline, "250 ", 4);
	memcpy(longline + sizeof longline - 3, "\r\n", 3);
	step s4[] = { { "L", longline }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s4, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_SMTPFORMAT);
	CHECK(strncmp(xbuf_cstr(&r[0].message), "Malformed SMTP reply in response to EHLO client.test: ", 54) == 0);

	/* Closed after the greeting. */
	step s5[] = { { "L", NULL }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s5, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_SMTPCLOSED);
	CHECK_STR(xbuf_cstr(&r[0].message), "Remote host closed connection in response to EHLO client.test");

	/* Too many continuation lines. */
	xbuf many;
	xbuf_init(&many, NULL);
	for (int i = 0; i < SMTPC_REPLY_LINES_MAX + 5; i++) xbuf_puts(&many, "250-x\r\n");
	xbuf_puts(&many, "250 x\r\n");
	step s6[] = { { "L", xbuf_cstr(&many) }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s6, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_SMTPFORMAT);
	xbuf_free(&many);
}

static void test_dsn_params(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT("s@a.test"), .envid = SV_LIT("a+b c"), .dsn_ret = MSG_DSN_RET_FULL,
		.body_8bitmime = true, .size = 10, .linecount = 2 };
	smtpc_rcpt r[2];
	rcpts(r, 2, "a@b", "c@d");
	r[0].dsn_flags = MSG_DSN_SUCCESS | MSG_DSN_FAILURE;
	r[0].orcpt = SV_LIT("rfc822;a+x@b");
	r[1].dsn_flags = MSG_DSN_NEVER;
	o.size_addition = -1;
	step s[] = { { "L", "250-mx\r\n250-DSN\r\n250-8BITMIME\r\n250 SIZE\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 ok\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx\r\n", s, &m, MSG, r, 2, 1);
	CHECK(strstr(x.transcript, "C: MAIL FROM:<s@a.test> BODY=8BITMIME RET=FULL ENVID=a+2Bb+20c\n"
		"C: RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@b\nC: RCPT TO:<c@d> NOTIFY=NEVER\n") != NULL);
}

static void test_first_line(void)
{
	xbuf b;
	xbuf_init(&b, NULL);
	smtpc_first_line(sv_tainted(SV_LIT("250-mx.test hello\n250 SIZE")), 128, &b);
	CHECK_STR(xbuf_cstr(&b), "250-mx.test hello");
	CHECK_INT(b.taint, 1);
	xbuf_reset(&b);
	smtpc_first_line(SV_LIT("220 0123456789"), 8, &b);
	CHECK_STR(xbuf_cstr(&b), "220 0123");
	xbuf_free(&b);
}

static void test_reply_parser(void)
{
	static const struct { const char *line; bool ok; int code; bool last; } t[] = {
		{ "250 ok", true, 250, true }, { "250-ok", true, 250, false }, { "250", true, 250, true },
		{ "25", false, 0, false }, { "2x0 ok", false, 0, false }, { "250ok", false, 0, false },
		{ "", false, 0, false }, { "999 odd", true, 999, true },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int code = 0;
		bool last = false;
		bool ok = smtpc_parse_reply_line(sv_cstr(t[i].line), &code, &last);
		CHECK_INT(ok, t[i].ok);
		if (ok) {
			CHECK_INT(code, t[i].code);
			CHECK_INT(last, t[i].last);
		}
	}
}



static void test_chunk_layouts(void)
{
	smtpc_options o = base_opts();
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[2];
	rcpts(r, 2, "a@b", "c@d");
	/* 20000 bytes of body: headers and body as two BDATs (Exim's layout). */
	static char big[80000];
	strcpy(big, "Subject: x\n\n");
	for (size_t i = strlen(big); i < 20000; i += 10) memcpy(big + i, ".23456789\n", 10);
	big[20000] = 0;
	step s1[] = { { "L", "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "452 later\r\n" }, { "C", "250 hdrs\r\n" }, { "C", "250 all\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, "220 mx\r\n", s1, &m, big, r, 2, 1);
	CHECK(strstr(x.transcript, "C: BDAT 14\nDATA Subject: x\\r\\n\\r\\n\nC: BDAT 21986 LAST\nDATA .23456789\\r\\n") != NULL);
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK_STR(xbuf_cstr(&r[0].message), "250 all");
	CHECK_INT(r[1].status, SMTPC_DEFER);

	/* A source that cannot be re-read: 64 KiB chunks, the last one LAST. The first chunk's
	 * refusal decides. */
	for (size_t i = 20000; i < 79990; i += 10) memcpy(big + i, ".23456789\n", 10);
	big[79990] = 0;
	step s2[] = { { "L", "250-mx\r\n250 CHUNKING\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "250 ok\r\n" }, { "C", "552 too big\r\n" }, { "C", "250 ignored\r\n" }, { 0, 0 } };
	exchange_norewind = true;
	exchange(&x, &o, "220 mx\r\n", s2, &m, big, r, 2, 1);
	exchange_norewind = false;
	CHECK(strstr(x.transcript, "C: BDAT 65536\n") != NULL);
	/* 79990 spool bytes with 7999 line ends: 87989 on the wire, 65536 + 22453. */
	CHECK(strstr(x.transcript, "C: BDAT 22453 LAST\n") != NULL);
	CHECK_INT(r[0].status, SMTPC_FAIL);
	CHECK_STR(xbuf_cstr(&r[0].message), "SMTP error from remote mail server after end of data: 552 too big");
}

/* ---- the STARTTLS hook ---- */

static int tls_calls;
static bool fake_tls(void *ctx, smtpc_conn *c, xbuf *err)
{
	tls_calls++;
	if (ctx) {
		xbuf_puts(err, "TLS handshake failed: fake");
		return false;
	}
	return c->fd >= 0;
}

static void test_starttls_hook(void)
{
	smtpc_options o = base_opts();
	o.tls_start = fake_tls;
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[1];
	rcpts(r, 1, "a@b");
	run x;
	/* Offered: STARTTLS, the hook, then EHLO again; the second EHLO's extensions count. */
	step s1[] = { { "L", "250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n" }, { "L", "220 go ahead\r\n" },
		{ "L", "250-mx\r\n250 SIZE\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" },
		{ "B", "250 ok\r\n" }, { 0, 0 } };
	tls_calls = 0;
	exchange(&x, &o, "220 mx\r\n", s1, &m, MSG, r, 1, 1);
	CHECK_INT(tls_calls, 1);
	CHECK(x.c->tls_active);
	CHECK_INT(x.c->offered, SMTPC_OFFER_SIZE);
	CHECK(strncmp(x.transcript, "C: EHLO client.test\nC: STARTTLS\nC: EHLO client.test\nC: MAIL FROM:<s@a.test> SIZE=1024\n", 83) == 0);
	CHECK_INT(r[0].status, SMTPC_OK);

	/* A failing handshake defers the host with the hook's reason. */
	o.tls_ctx = &tls_calls;
	step s2[] = { { "L", "250-mx\r\n250 STARTTLS\r\n" }, { "L", "220 go ahead\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s2, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_DEFER);
	CHECK_STR(xbuf_cstr(&r[0].message), "TLS handshake failed: fake");

	/* Not offered, or no hook: no STARTTLS. */
	o.tls_start = NULL;
	step s3[] = { { "L", "250-mx\r\n250 STARTTLS\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "354 go\r\n" }, { "B", "250 ok\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s3, &m, MSG, r, 1, 1);
	CHECK(strncmp(x.transcript, "C: EHLO client.test\nC: MAIL", 27) == 0);
}

/* ---- the spool as the message source ---- */

static void test_spool_source(void)
{
	char path[] = "/tmp/smtpc-D-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char dfile[] = "1xUhqe-0002vZ-3D-D\nline1\n.dot\n";
	CHECK(write(fd, dfile, sizeof dfile - 1) == (ssize_t)sizeof dfile - 1);
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	message *msg = message_new(pool_msg);
	msg->sender = SV_LIT("s@a.test");
	msg->size = 45;
	msg->body_linecount = 2;
	message_add_header(msg, 'P', SV_LIT("Received: from x\n\tby y\n"));
	message_add_header(msg, '*', SV_LIT("Bcc: hidden@x\n"));
	message_add_header(msg, ' ', SV_LIT("Subject: s\n"));
	smtpc_message sm;
	smtpc_spool_source src;
	smtpc_message_from_spool(&sm, &src, msg, fd);
	CHECK_INT(sm.linecount, 3 + 2);  /* deleted headers do not count */
	char out[256];
	for (int pass = 0; pass < 2; pass++) {
		size_t got = 0;
		ssize_t k;
		while ((k = sm.read(sm.read_ctx, out + got, pass ? 3 : sizeof out - 1 - got)) > 0)
			got += (size_t)k;
		out[got] = 0;
		CHECK_STR(out, "Received: from x\n\tby y\nSubject: s\n\nline1\n.dot\n");
		CHECK(sm.rewind(sm.read_ctx));
	}
	close(fd);
}


/* ---- event actions ---- */

static char events[1024];
static const char *refuse_event;
static void record_event(void *ctx, const char *name, sv data, xbuf *result)
{
	(void)ctx;
	size_t l = strlen(events);
	snprintf(events + l, sizeof events - l, "%s[" SV_FMT "] ", name, SV_ARG(data));
	if (refuse_event && strcmp(name, refuse_event) == 0)
		xbuf_puts(result, "refuse");
}

static void test_events(void)
{
	smtpc_options o = base_opts();
	o.event = record_event;
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[1];
	rcpts(r, 1, "a@b");
	run x;
	step s1[] = { { "L", "250-mx hi\r\n250 SIZE\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "354 go\r\n" }, { "B", "250 ok\r\n" }, { 0, 0 } };
	events[0] = 0;
	refuse_event = NULL;
	exchange(&x, &o, "220 mx ESMTP\r\n", s1, &m, MSG, r, 1, 1);
	CHECK_STR(events, "smtp:connect[220 mx ESMTP] smtp:ehlo[250-mx hi\n250 SIZE] tcp:close[] ");

	/* smtp:connect with a result: QUIT and defer, in Exim's words. */
	events[0] = 0;
	refuse_event = "smtp:connect";
	step s2[] = { { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s2, &m, MSG, r, 1, 1);
	CHECK_STR(x.transcript, "C: QUIT\n");
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_EXPANDFAIL);
	CHECK_STR(xbuf_cstr(&r[0].message), "deferred by smtp:connect event expansion: refuse");

	/* tcp:connect with a result: no connection at all. */
	events[0] = 0;
	refuse_event = "tcp:connect";
	smtpc_host h = { SV_LIT("mx.test"), SV_LIT("127.0.0.1"), 1 };
	smtpc_conn *c = smtpc_connect(pool_msg, &o, &h);
	CHECK_INT(c->basic_errno, SMTPC_ERRNO_EVENT);
	CHECK_STR(xbuf_cstr(&c->message), "Event requests alternate response");
	CHECK_STR(events, "tcp:connect[] ");
	smtpc_send(c, &m, r, 1);
	CHECK_INT(r[0].status, SMTPC_DEFER);
	CHECK_STR(xbuf_cstr(&r[0].message), "");
	smtpc_close(c);
	refuse_event = NULL;
}

/* ---- client authentication ---- */

static void test_auth(void)
{
	xp_env env;
	xp_env_init(&env, pool_scratch);
	smtpc_options o = base_opts();
	o.env = &env;
	o.require_auth = true;
	smtpc_message m = { .sender = SV_LIT("s@a.test"), .auth_sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[1];
	rcpts(r, 1, "a@b");
	run x;
	/* LOGIN through plaintext: the prompts are answered in turn; $auth1 is the decoded prompt. */
	step s1[] = { { "L", "250-mx\r\n250-PIPELINING\r\n250 AUTH LOGIN\r\n" },
		{ "L", "334 VXNlcm5hbWU6\r\n" }, { "L", "334 UGFzc3dvcmQ6\r\n" }, { "L", "235 ok\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 ok\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s1, &m, MSG, r, 1, 1);
	/* "userx" and "Username:-secret" in base64 */
	CHECK(strncmp(x.transcript, "C: EHLO client.test\nC: AUTH LOGIN\nC: dXNlcng=\nC: VXNlcm5hbWU6LXNlY3JldA==\n"
		"C: MAIL FROM:<s@a.test> AUTH=s@a.test\n", 109) == 0);
	CHECK_STR(x.c->authenticator, "login");
	CHECK_INT(r[0].status, SMTPC_OK);

	/* PLAIN refused with 535, CRAM-MD5 not offered: required, so the host defers. */
	step s2[] = { { "L", "250-mx\r\n250 AUTH PLAIN\r\n" }, { "L", "535 5.7.8 bad\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s2, &m, MSG, r, 1, 1);
	CHECK_STR(x.transcript, "C: EHLO client.test\nC: AUTH PLAIN AHVzZXJ4AHNlY3JldA==\nC: QUIT\n");
	CHECK_INT(r[0].status, SMTPC_DEFER);
	CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_AUTHFAIL);
	CHECK_STR(xbuf_cstr(&r[0].message), "authentication required but authentication attempt(s) failed");

	/* A 4xx defers at once. */
	step s3[] = { { "L", "250-mx\r\n250 AUTH PLAIN\r\n" }, { "L", "454 4.7.0 later\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s3, &m, MSG, r, 1, 1);
	/* the initial response masked, a star a character (Exim 4.96) */
	CHECK_STR(xbuf_cstr(&r[0].message), "SMTP error from remote mail server after AUTH PLAIN ********************: "
		"454 4.7.0 later");

	/* No AUTH offered; with hosts_try_auth the message goes unauthenticated. */
	step s4[] = { { "L", "250 mx\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s4, &m, MSG, r, 1, 1);
	CHECK_STR(xbuf_cstr(&r[0].message), "authentication required but server did not advertise AUTH support");
	o.require_auth = false;
	o.try_auth = true;
	step s5[] = { { "L", "250-mx\r\n250 AUTH GSSAPI\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
		{ "L", "354 go\r\n" }, { "B", "250 ok\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s5, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK(strstr(x.transcript, "AUTH=") == NULL);

	/* CRAM-MD5: RFC 2195's example. */
	xbuf ans;
	xbuf_init(&ans, NULL);
	cram_md5_client_answer(SV_LIT("tim"), SV_LIT("tanstaaftanstaaf"),
		SV_LIT("<1896.697170952@postoffice.reston.mci.net>"), &ans);
	CHECK_STR(xbuf_cstr(&ans), "tim b913a602c7eda7a495b4e6e7334d3890");
	xbuf_free(&ans);
	o.try_auth = false;
	o.require_auth = true;
	step s6[] = { { "L", "250-mx\r\n250 AUTH CRAM-MD5\r\n" },
		{ "L", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n" }, { "L", "235 ok\r\n" },
		{ "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 ok\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s6, &m, MSG, r, 1, 1);
	CHECK(strstr(x.transcript, "C: AUTH CRAM-MD5\nC: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\n") != NULL);
	CHECK_STR(x.c->authenticator, "cram");
	xp_env_release(&env);
}

static const char config[] =
	"primary_hostname = client.test\n"
	"begin authenticators\n"
	"cram:\n  driver = cram_md5\n  public_name = CRAM-MD5\n  client_name = tim\n  client_secret = tanstaaftanstaaf\n"
	"login:\n  driver = plaintext\n  public_name = LOGIN\n  client_send = : userx : $auth1-secret\n"
	"plain:\n  driver = plaintext\n  public_name = PLAIN\n  client_send = ^userx^secret\n"
	"skipped:\n  driver = plaintext\n  public_name = LOGIN\n  client_condition = no\n  client_send = : never\n";

/* PRDR (table): MAIL ... PRDR only with more than one recipient and try_prdr; after the 353,
 * one reply per accepted recipient, then the overall one (texts as Exim 4.96's). */
typedef struct prdr_case {
	const char *name;
	bool try_prdr, chunking, pipelining;
	size_t n;
	const char *rcpt_replies[3];      /* to the RCPTs */
	const char *after_data;           /* everything after the end of data */
	const char *mail;                 /* the MAIL line expected */
	smtpc_status st[3];
	int err[3];
	const char *msg[3];
	bool prdr;
} prdr_case;

static const prdr_case prdr_cases[] = {
	{ "mixed", true, false, true, 3, { "250 ok\r\n", "250 ok\r\n", "250 ok\r\n" },
		"353 go\r\n250 a\r\n550-5.1.1 no\r\n550 5.1.1 more\r\n451 4.0.0 later\r\n250 fin\r\n",
		"MAIL FROM:<s@a.test> PRDR", { SMTPC_OK, SMTPC_FAIL, SMTPC_DEFER }, { 0, 0, 0 },
		{ "250 a\n250 fin", "PRDR error after DATA: 550-5.1.1 no\\n550 5.1.1 more",
		  "PRDR error after DATA: 451 4.0.0 later" }, true },
	{ "final_5xx", true, false, true, 2, { "250 ok\r\n", "250 ok\r\n" }, "353 go\r\n250 a\r\n451 b\r\n550 fin\r\n",
		"MAIL FROM:<s@a.test> PRDR", { SMTPC_FAIL, SMTPC_FAIL }, { 0, 0 },
		{ "SMTP error from remote mail server after end of data: 550 fin",
		  "SMTP error from remote mail server after end of data: 550 fin" }, true },
	{ "final_4xx", true, false, false, 3, { "250 ok\r\n", "250 ok\r\n", "250 ok\r\n" },
		"353 go\r\n250 a\r\n550 b\r\n451 c\r\n451 fin\r\n",
		"MAIL FROM:<s@a.test> PRDR", { SMTPC_DEFER, SMTPC_FAIL, SMTPC_DEFER }, { SMTPC_ERRNO_DATA4XX, 0, 0 },
		{ "SMTP error from remote mail server after end of data: 451 fin", "PRDR error after DATA: 550 b",
		  "PRDR error after DATA: 451 c" }, true },
	{ "no_353", true, false, true, 2, { "250 ok\r\n", "250 ok\r\n" }, "250 plain\r\n",
		"MAIL FROM:<s@a.test> PRDR", { SMTPC_OK, SMTPC_OK }, { 0, 0 }, { "250 plain", "250 plain" }, false },
	{ "one_rcpt", true, false, true, 1, { "250 ok\r\n" }, "250 one\r\n",
		"MAIL FROM:<s@a.test>", { SMTPC_OK }, { 0 }, { "250 one" }, false },
	{ "not_tried", false, false, true, 2, { "250 ok\r\n", "250 ok\r\n" }, "250 plain\r\n",
		"MAIL FROM:<s@a.test>", { SMTPC_OK, SMTPC_OK }, { 0, 0 }, { "250 plain", "250 plain" }, false },
	{ "rcpt_refused", true, false, true, 3, { "250 ok\r\n", "550 no\r\n", "250 ok\r\n" },
		"353 go\r\n250 a\r\n250 c\r\n250 fin\r\n",
		"MAIL FROM:<s@a.test> PRDR", { SMTPC_OK, SMTPC_FAIL, SMTPC_OK }, { 0, 0, 0 },
		{ "250 a\n250 fin", "SMTP error from remote mail server after RCPT TO:<b@b>: 550 no", "250 c\n250 fin" }, true },
	{ "chunking", true, true, true, 2, { "250 ok\r\n", "250 ok\r\n" }, "353 go\r\n250 a\r\n550 b\r\n250 fin\r\n",
		"MAIL FROM:<s@a.test> PRDR", { SMTPC_OK, SMTPC_FAIL }, { 0, 0 },
		{ "250 a\n250 fin", "PRDR error after BDAT 21 LAST: 550 b" }, true },
};

static void test_prdr(void)
{
	for (size_t k = 0; k < sizeof prdr_cases / sizeof prdr_cases[0]; k++) {
		const prdr_case *pc = &prdr_cases[k];
		smtpc_options o = base_opts();
		o.try_prdr = pc->try_prdr;
		smtpc_message m = { .sender = SV_LIT("s@a.test") };
		smtpc_rcpt r[3];
		rcpts(r, pc->n, "a@b", "b@b", "c@b");
		char ehlo[128];
		snprintf(ehlo, sizeof ehlo, "250-mx\r\n%s%s250 PRDR\r\n", pc->pipelining ? "250-PIPELINING\r\n" : "",
			pc->chunking ? "250-CHUNKING\r\n" : "");
		step s[10] = { { "L", ehlo }, { "L", "250 ok\r\n" } };
		size_t i = 2;
		for (size_t j = 0; j < pc->n; j++)
			s[i++] = (step){ "L", pc->rcpt_replies[j] };
		if (pc->chunking)
			s[i++] = (step){ "C", pc->after_data };
		else {
			s[i++] = (step){ "L", "354 go\r\n" };
			s[i++] = (step){ "B", pc->after_data };
		}
		run x;
		exchange(&x, &o, "220 mx\r\n", s, &m, MSG, r, pc->n, 1);
		char want[64];
		snprintf(want, sizeof want, "\nC: %s\n", pc->mail);
		if (!strstr(x.transcript, want)) {
			fprintf(stderr, "case %s: %s\n", pc->name, x.transcript);
			CHECK(false);
		}
		for (size_t j = 0; j < pc->n; j++) {
			CHECK_INT(r[j].status, pc->st[j]);
			CHECK_INT(r[j].basic_errno, pc->err[j]);
			CHECK_STR(xbuf_cstr(&r[j].message), pc->msg[j]);
			/* the flag is for the recipients asked about after the data */
			CHECK_INT(r[j].prdr, pc->prdr && pc->rcpt_replies[j][0] == '2');
		}
		CHECK(strstr(x.transcript, "C: QUIT\n") != NULL);
	}
}

/* PIPECONNECT (table): a fake EHLO cache; the scripted server sends no banner until it has read
 * EHLO (greeting NULL, the banner goes with the EHLO reply), so a client that waited for the
 * banner would time out. */
typedef struct fake_cache {
	bool have;
	unsigned offered;
	int puts;
	unsigned last_put;
} fake_cache;

static bool fake_get(void *ctx, unsigned *offered, unsigned *tls_offered, xbuf *auth_mechs)
{
	fake_cache *fc = ctx;
	(void)auth_mechs;
	*tls_offered = 0;
	*offered = fc->offered;
	return fc->have;
}

static void fake_put(void *ctx, unsigned offered, sv auth_mechs, bool tls)
{
	fake_cache *fc = ctx;
	(void)auth_mechs;
	(void)tls;
	fc->puts++;
	fc->last_put = offered;
}

#define PC_EHLO "250-mx\r\n250-PIPELINING\r\n250 PIPECONNECT\r\n"
#define PC_OFFERED (SMTPC_OFFER_PIPELINING | SMTPC_OFFER_PIPECONNECT)

typedef struct pc_case {
	const char *name;
	bool pipe_connect, have, tls;
	unsigned cached;
	bool early;                 /* EHLO expected before the banner */
	const char *banner, *ehlo;  /* the server's */
	smtpc_status st;
	const char *msg;            /* the first recipient's text */
	int puts;
	unsigned last_put;
} pc_case;

static const pc_case pc_cases[] = {
	{ "early", true, true, false, PC_OFFERED, true, "220 mx\r\n", PC_EHLO, SMTPC_OK, "250 one", 0, 0 },
	{ "no_record", true, false, false, 0, false, "220 mx\r\n", PC_EHLO, SMTPC_OK, "250 one", 1, PC_OFFERED },
	{ "not_enabled", false, true, false, PC_OFFERED, false, "220 mx\r\n", PC_EHLO, SMTPC_OK, "250 one", 0, 0 },
	{ "changed_response", true, true, false, PC_OFFERED, true, "220 mx\r\n", "250-mx\r\n250 PIPELINING\r\n",
		SMTPC_OK, "250 one", 1, SMTPC_OFFER_PIPELINING },
	{ "banner_421", true, true, false, PC_OFFERED, true, "421 busy\r\n", PC_EHLO, SMTPC_DEFER,
		"SMTP error from remote mail server after pipelined DATA: 421 busy", 1, 0 },
	{ "cached_without_pipelining", true, true, false, SMTPC_OFFER_PIPECONNECT, false, "220 mx\r\n", PC_EHLO,
		SMTPC_OK, "250 one", 1, PC_OFFERED },
};

static bool pc_tls_never(void *ctx, struct smtpc_conn *c, xbuf *err)
{
	(void)ctx; (void)c; (void)err;
	return false;
}

static void test_pipe_connect(void)
{
	for (size_t k = 0; k < sizeof pc_cases / sizeof pc_cases[0]; k++) {
		const pc_case *pc = &pc_cases[k];
		smtpc_options o = base_opts();
		fake_cache fc = { .have = pc->have, .offered = pc->cached };
		o.pipe_connect = pc->pipe_connect;
		o.ehlo_cache_get = fake_get;
		o.ehlo_cache_put = fake_put;
		o.ehlo_cache_ctx = &fc;
		if (pc->tls)
			o.tls_start = pc_tls_never;
		smtpc_message m = { .sender = SV_LIT("s@a.test") };
		smtpc_rcpt r[2];
		rcpts(r, 2, "a@b", "b@b");
		char first[256];
		snprintf(first, sizeof first, "%s%s", pc->banner, pc->ehlo);
		bool refused = pc->banner[0] != '2';
		step early_steps[] = { { "L", first }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
			{ "L", "354 go\r\n" }, { "B", "250 one\r\n" }, { 0, 0 } };
		step refused_steps[] = { { "L", first }, { "L", "" }, { "L", "" }, { "L", "" }, { "L", "" }, { 0, 0 } };
		step plain_steps[] = { { "L", pc->ehlo }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" },
			{ "L", "354 go\r\n" }, { "B", "250 one\r\n" }, { 0, 0 } };
		run x;
		exchange(&x, &o, pc->early ? NULL : pc->banner, pc->early ? (refused ? refused_steps : early_steps) : plain_steps,
			&m, MSG, r, 2, 1);
		if (r[0].status != pc->st)
			fprintf(stderr, "case %s: %s\n", pc->name, x.transcript);
		CHECK_INT(r[0].status, pc->st);
		CHECK_INT(r[0].basic_errno, 0);
		CHECK_STR(xbuf_cstr(&r[0].message), pc->msg);
		CHECK_INT(r[1].status, pc->st);
		CHECK_INT(fc.puts, pc->puts);
		CHECK_INT(fc.last_put, pc->last_put);
		CHECK_INT(x.c->pipe_connect_used, pc->early);
		CHECK(strncmp(x.transcript, "C: EHLO client.test\nC: MAIL FROM:<s@a.test>\nC: RCPT TO:<a@b>\n"
			"C: RCPT TO:<b@b>\nC: DATA\n", 80) == 0);
		if (pc->st == SMTPC_OK)
			CHECK_STR(xbuf_cstr(&x.c->greeting.text), "220 mx");
	}
}

/* PIPECONNECT with a cached response that offers STARTTLS (TLS configured): STARTTLS goes with
 * the early EHLO, before the banner (Exim 4.96). Here the server refuses it: the conversation
 * goes on in clear, MAIL no longer early. */
static void test_pipe_connect_starttls(void)
{
	smtpc_options o = base_opts();
	fake_cache fc = { .have = true, .offered = PC_OFFERED | SMTPC_OFFER_STARTTLS };
	o.pipe_connect = true;
	o.ehlo_cache_get = fake_get;
	o.ehlo_cache_put = fake_put;
	o.ehlo_cache_ctx = &fc;
	o.tls_start = pc_tls_never;
	smtpc_message m = { .sender = SV_LIT("s@a.test") };
	smtpc_rcpt r[1];
	rcpts(r, 1, "a@b");
	step s[] = { { "L", "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 PIPECONNECT\r\n" },
		{ "L", "454 4.7.0 not now\r\n" }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" },
		{ "B", "250 one\r\n" }, { 0, 0 } };
	run x;
	exchange(&x, &o, NULL, s, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK(x.c->pipe_connect_used);
	CHECK(strncmp(x.transcript, "C: EHLO client.test\nC: STARTTLS\nC: MAIL FROM:<s@a.test>", 54) == 0);
	CHECK_STR(xbuf_cstr(&x.c->greeting.text), "220 mx");
}

/* The PIPECONNECT record's value (table): the layout before the TLS part and the mechanisms
 * still reads. */
typedef struct rec_case {
	const char *value;
	bool ok;
	long long time;
	unsigned offered, tls_offered;
	const char *mechs;
} rec_case;

static const rec_case rec_cases[] = {
	{ "1700000000 5", true, 1700000000, 5, 0, "" },
	{ "1700000000 1a2 PLAIN CRAM-MD5", true, 1700000000, 0x1a2, 0, "PLAIN CRAM-MD5" },
	{ "1700000000 1a2/3f", true, 1700000000, 0x1a2, 0x3f, "" },
	{ "1700000000 1a2/3f LOGIN", true, 1700000000, 0x1a2, 0x3f, "LOGIN" },
	{ "1700000000", false, 0, 0, 0, "" },
	{ "x 5", false, 0, 0, 0, "" },
	{ "1700000000 5/zz", false, 0, 0, 0, "" },
	{ "1700000000 /5", false, 0, 0, 0, "" },
	{ "1700000000 123456789", false, 0, 0, 0, "" },
};

static void test_ehlo_record(void)
{
	for (size_t i = 0; i < sizeof rec_cases / sizeof rec_cases[0]; i++) {
		const rec_case *rc = &rec_cases[i];
		long long t = 0;
		unsigned off = 0, tls = 99;
		sv mechs = SV_NULL;
		bool ok = smtp_ehlo_cache_decode(sv_cstr(rc->value), &t, &off, &tls, &mechs);
		CHECK_INT(ok, rc->ok);
		if (!ok)
			continue;
		CHECK_INT(t, rc->time);
		CHECK_INT(off, rc->offered);
		CHECK_INT(tls, rc->tls_offered);
		CHECK(sv_eq_cstr(mechs, rc->mechs));
	}
}

/* utf8_downconvert (table): the envelope in A-label form, no SMTPUTF8 parameter. */
typedef struct u8_case {
	int mode;
	bool offered;
	const char *mail, *rcpt;      /* expected lines; NULL: nothing sent */
	smtpc_status st;
	bool downconverted;
} u8_case;

static const u8_case u8_cases[] = {
	{ SMTPC_UTF8_IF_NEEDED, false, "MAIL FROM:<xn--snder-bsa@xn--s-bga.test>", "RCPT TO:<xn--rcip-bpa@xn--bcher-kva.test>",
		SMTPC_OK, true },
	{ SMTPC_UTF8_IF_NEEDED, true, "MAIL FROM:<s\xc3\xa9nder@s\xc3\xa9.test> SMTPUTF8", "RCPT TO:<r\xc3\xa9" "cip@b\xc3\xbc" "cher.test>",
		SMTPC_OK, false },
	{ SMTPC_UTF8_ALWAYS, true, "MAIL FROM:<xn--snder-bsa@xn--s-bga.test>", "RCPT TO:<xn--rcip-bpa@xn--bcher-kva.test>",
		SMTPC_OK, true },
	{ SMTPC_UTF8_NEVER, false, NULL, NULL, SMTPC_FAIL, false },
	{ SMTPC_UTF8_UNSET, false, NULL, NULL, SMTPC_FAIL, false },
};

static void test_utf8_downconvert(void)
{
	for (size_t k = 0; k < sizeof u8_cases / sizeof u8_cases[0]; k++) {
		const u8_case *uc = &u8_cases[k];
		smtpc_options o = base_opts();
		o.utf8_downconvert = uc->mode;
		smtpc_message m = { .sender = SV_LIT("s\xc3\xa9nder@s\xc3\xa9.test"), .smtputf8 = true };
		smtpc_rcpt r[1];
		rcpts(r, 1, "r\xc3\xa9" "cip@b\xc3\xbc" "cher.test");
		step ok[] = { { "L", uc->offered ? "250-mx\r\n250 SMTPUTF8\r\n" : "250 mx\r\n" }, { "L", "250 ok\r\n" },
			{ "L", "250 ok\r\n" }, { "L", "354 go\r\n" }, { "B", "250 one\r\n" }, { 0, 0 } };
		step refused[] = { { "L", "250 mx\r\n" }, { 0, 0 } };
		run x;
		exchange(&x, &o, "220 mx\r\n", uc->mail ? ok : refused, &m, MSG, r, 1, 1);
		CHECK_INT(r[0].status, uc->st);
		CHECK_INT(r[0].downconverted, uc->downconverted);
		if (uc->mail) {
			char want[256];
			snprintf(want, sizeof want, "C: EHLO client.test\nC: %s\nC: %s\nC: DATA\n", uc->mail, uc->rcpt);
			if (strncmp(x.transcript, want, strlen(want)) != 0) {
				fprintf(stderr, "case %zu: %s\n", k, x.transcript);
				CHECK(false);
			}
		} else {
			CHECK_INT(r[0].basic_errno, SMTPC_ERRNO_UTF8);
			CHECK_STR(x.transcript, "C: EHLO client.test\nC: QUIT\n");
		}
	}
	/* The conversion itself. */
	static const struct { const char *in, *out; } conv[] = {
		{ "plain@r.test", "plain@r.test" }, { "r\xc3\xa9" "cip@r.test", "xn--rcip-bpa@r.test" },
		{ "b\xc3\xa9@r.test", "xn--b-bga@r.test" }, { "x@b\xc3\xbc" "cher.test", "x@xn--bcher-kva.test" },
		{ "", "" },
	};
	for (size_t k = 0; k < sizeof conv / sizeof conv[0]; k++) {
		xbuf out;
		xbuf_init(&out, pool_msg);
		CHECK(smtpc_address_to_alabel(sv_cstr(conv[k].in), &out));
		CHECK_STR(xbuf_cstr(&out), conv[k].out);
	}
}

/* Exim 4.96's pipelining, observed (docs/smtp-client.md): with CHUNKING a small message's
 * "BDAT <n> LAST" goes with MAIL and RCPT, and QUIT with the last data when quit_after says
 * nothing follows. The server answers nothing until it has read QUIT, so a client that waited
 * for any reply first would time out. */
static bool yes_quit(void *ctx)
{
	(void)ctx;
	return true;
}

static void test_quit_and_bdat_with_data(void)
{
	smtpc_options o = base_opts();
	o.command_timeout = o.final_timeout = 2;
	smtpc_message m = { .sender = SV_LIT("s@a.test"), .quit_after = yes_quit };
	smtpc_rcpt r[1];
	rcpts(r, 1, "a@b");
	run x;
	step s1[] = { { "L", EHLO_PIPE }, { "L", "" }, { "L", "" }, { "L", "250 ok\r\n250 ok\r\n354 go\r\n" },
		{ "B", "" }, { "L", "250 done\r\n221 bye\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s1, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK_STR(xbuf_cstr(&r[0].message), "250 done");
	CHECK(x.c->quit_sent);
	CHECK(strstr(x.transcript, "BODY Subject: t\\r\\n\\r\\n..a\\r\\nb\\r\\n\nC: QUIT\n") != NULL);

	step s2[] = { { "L", "250-mx.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n" }, { "L", "" }, { "L", "" },
		{ "C", "" }, { "L", "250 ok\r\n250 ok\r\n250 done\r\n221 bye\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s2, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK(strstr(x.transcript, "C: MAIL FROM:<s@a.test>\nC: RCPT TO:<a@b>\nC: BDAT 21 LAST\n"
		"DATA Subject: t\\r\\n\\r\\n.a\\r\\nb\\r\\n\nC: QUIT\n") != NULL);

	/* Without quit_after, QUIT waits for the reply (and comes from smtpc_close). */
	m.quit_after = NULL;
	step s3[] = { { "L", EHLO_PIPE }, { "L", "250 ok\r\n" }, { "L", "250 ok\r\n" }, { "L", "354 go\r\n" },
		{ "B", "250 done\r\n" }, { 0, 0 } };
	exchange(&x, &o, "220 mx\r\n", s3, &m, MSG, r, 1, 1);
	CHECK_INT(r[0].status, SMTPC_OK);
	CHECK(!x.c->quit_sent);
	CHECK(strstr(x.transcript, "\nC: QUIT\n") != NULL);
}

int main(void)
{
	arena_init_pools();
	char dir[] = "/tmp/smtpc-XXXXXX", path[64];
	if (!mkdtemp(dir)) return 1;
	snprintf(path, sizeof path, "%s/c.conf", dir);
	FILE *f = fopen(path, "w");
	fputs(config, f);
	fclose(f);
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(path, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		return 1;
	}
	unlink(path);
	rmdir(dir);
	RUN(test_reply_parser);
	RUN(test_first_line);
	RUN(test_pipelined);
	RUN(test_sequential_and_4xx);
	RUN(test_all_rcpts_refused);
	RUN(test_chunking);
	RUN(test_chunk_layouts);
	RUN(test_smtputf8_not_offered);
	RUN(test_lmtp);
	RUN(test_prdr);
	RUN(test_pipe_connect);
	RUN(test_pipe_connect_starttls);
	RUN(test_ehlo_record);
	RUN(test_utf8_downconvert);
	RUN(test_max_rcpt_and_reuse);
	RUN(test_helo_fallback_and_errors);
	RUN(test_io_errors);
	RUN(test_dsn_params);
	RUN(test_auth);
	RUN(test_starttls_hook);
	RUN(test_spool_source);
	RUN(test_events);
	RUN(test_quit_and_bdat_with_data);
	return unit_report("test_smtpclient");
}
