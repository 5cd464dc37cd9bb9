/* The lmtp transport against a scripted LMTP server (lmtpd.py, beside this file) over a UNIX
 * socket and over a command's standard input and output. Expected texts and error numbers are
 * Exim 4.96's for the same server behaviour. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "core/tp_write.h"
#include "localtp_fixture.h"

static const char *config_text =
	"primary_hostname = mail.test.ex\n"
	"qualify_domain = test.ex\n"
	"spool_directory = %T/spool\n"
	"begin transports\n"
	"lsock:\n  driver = lmtp\n  socket = %T/lmtp.sock\n  batch_max = 10\n  timeout = 2s\n  ignore_quota\n"
	"lplain:\n  driver = lmtp\n  socket = %T/lmtp.sock\n  batch_max = 10\n  timeout = 2s\n"
	"lcmd:\n  driver = lmtp\n  command = /usr/bin/python3 %S/lmtpd.py --stdio %T/cmd.log\n  batch_max = 10\n"
	"lbad:\n  driver = lmtp\n  command = /nonexistent/lmtp\n"
	"lnosock:\n  driver = lmtp\n  socket = %T/none.sock\n"
	"lmulti:\n  driver = lmtp\n"
	"  command = /bin/sh -c 'printf \"220 ok\\\\r\\\\n\"; read x; printf \"250-a\\\\r\\\\n250 b\\\\r\\\\n\"; read x; "
	"printf \"451-first line\\\\r\\\\n451 second line\\\\r\\\\n\"; read x; exit 0'\n";

static fx_msg x;
static pid_t server = -1;

static void set_mode(const char *mode)
{
	fx_write(arena_printf(pool_scratch, "%s/lmtp.sock.mode", fx_dir), mode);
	fx_write(arena_printf(pool_scratch, "%s/lmtp.log", fx_dir), "");
}

static char *server_log(void)
{
	return fx_read(arena_printf(pool_scratch, "%s/lmtp.log", fx_dir), NULL);
}

static void batch(const char *rcpts)
{
	fx_message_done(&x);
	fx_message(&x, "s@test.ex", rcpts, "Subject: t\n", "body\n.x\n");
}

static const address_item *nth(int i)
{
	const address_item *ad = x.addrs;
	while (ad && i-- > 0)
		ad = ad->next;
	return ad;
}

static void check_addr(int i, addr_result r, int err, const char *text)
{
	const address_item *ad = nth(i);
	CHECK(ad != NULL);
	if (!ad)
		return;
	CHECK_INT(ad->result, r);
	CHECK_INT(ad->basic_errno, err);
	CHECK_STR(fx_text(&x, i), text);
}

static void test_per_recipient(void)
{
	set_mode("");
	batch("ok1@test.ex,rej1@test.ex,tmp1@test.ex,dfail1@test.ex,dtmp1@test.ex,ok2@test.ex");
	fx_deliver(&x, "lsock");
	check_addr(0, ADDR_OK, 0, "");
	CHECK_STR(sv_dup(pool_scratch, nth(0)->confirmation), "250 2.0.0 <ok1@test.ex> Saved");
	check_addr(1, ADDR_FAIL, 0,
		"LMTP error after RCPT TO:<rej1@test.ex> IGNOREQUOTA: 550 5.1.1 <rej1@test.ex> User doesn't exist");
	CHECK_INT(nth(1)->more_errno, 550);
	check_addr(2, ADDR_DEFER, -44,
		"LMTP error after RCPT TO:<tmp1@test.ex> IGNOREQUOTA: 451 4.3.0 <tmp1@test.ex> Temporary failure");
	check_addr(3, ADDR_FAIL, 0,
		"LMTP error after end of data: 552 5.2.2 <dfail1@test.ex> Quota exceeded (mailbox for user is full)");
	check_addr(4, ADDR_DEFER, -46, "LMTP error after end of data: 452 4.2.2 <dtmp1@test.ex> Mailbox is full");
	check_addr(5, ADDR_OK, 0, "");
	CHECK_STR(sv_dup(pool_scratch, nth(5)->confirmation), "250 2.0.0 <ok2@test.ex> Saved");
	char *log = server_log();
	CHECK(log && strncmp(log, "C: LHLO mail.test.ex\nC: MAIL FROM:<s@test.ex>\nC: RCPT TO:<ok1@test.ex> IGNOREQUOTA\n", 83) == 0);
	CHECK(log && strstr(log, "C: DATA\nDATA ") && strstr(log, "C: QUIT\n"));

	/* Without ignore_quota no IGNOREQUOTA; a bounce has MAIL FROM:<>. */
	set_mode("");
	fx_message_done(&x);
	fx_message(&x, "", "ok1@test.ex", "Subject: t\n", "body\n");
	fx_deliver(&x, "lplain");
	check_addr(0, ADDR_OK, 0, "");
	log = server_log();
	CHECK(log && strstr(log, "C: MAIL FROM:<>\nC: RCPT TO:<ok1@test.ex>\n"));

	/* Nobody accepted: no DATA. */
	set_mode("");
	batch("rej1@test.ex,rej2@test.ex");
	fx_deliver(&x, "lsock");
	check_addr(0, ADDR_FAIL, 0,
		"LMTP error after RCPT TO:<rej1@test.ex> IGNOREQUOTA: 550 5.1.1 <rej1@test.ex> User doesn't exist");
	check_addr(1, ADDR_FAIL, 0,
		"LMTP error after RCPT TO:<rej2@test.ex> IGNOREQUOTA: 550 5.1.1 <rej2@test.ex> User doesn't exist");
	log = server_log();
	CHECK(log && !strstr(log, "DATA"));
}

static void test_session_failures(void)
{
	static const struct { const char *mode; addr_result r; int err; const char *text; } rows[] = {
		{ "badgreet", ADDR_FAIL, 0, "LMTP error after initial connection: 554 5.3.2 go away" },
		{ "closegreet", ADDR_DEFER, -1, "LMTP connection closed after initial connection" },
		{ "lhlorej", ADDR_FAIL, 0, "LMTP error after LHLO mail.test.ex: 500 5.5.1 no" },
		{ "mailrej", ADDR_FAIL, 0, "LMTP error after MAIL FROM:<s@test.ex>: 550 5.7.1 sender rejected" },
		{ "mailtmp", ADDR_DEFER, -45, "LMTP error after MAIL FROM:<s@test.ex>: 451 4.7.1 sender deferred" },
		{ "mailclose", ADDR_DEFER, -1, "LMTP connection closed after MAIL FROM:<s@test.ex>" },
		{ "datarej", ADDR_FAIL, 0, "LMTP error after DATA: 554 5.6.0 no data" },
		{ "closedata", ADDR_DEFER, -1, "LMTP connection closed after end of data" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		set_mode(rows[i].mode);
		batch("ok1@test.ex,rej1@test.ex");
		fx_deliver(&x, "lsock");
		if (strcmp(rows[i].mode, "closedata") == 0) {
			check_addr(0, rows[i].r, rows[i].err, rows[i].text);
			check_addr(1, ADDR_FAIL, 0,
				"LMTP error after RCPT TO:<rej1@test.ex> IGNOREQUOTA: 550 5.1.1 <rej1@test.ex> User doesn't exist");
		} else {
			check_addr(0, rows[i].r, rows[i].err, rows[i].text);
			check_addr(1, rows[i].r, rows[i].err, rows[i].text);
		}
	}
	/* A timeout names the bytes written, the final dot line included (the server saw them
	 * without it). */
	set_mode("slowdata");
	batch("ok1@test.ex");
	time_t t0 = time(NULL);
	fx_deliver(&x, "lsock");
	CHECK(time(NULL) - t0 < 6);
	char *log = server_log();
	const char *d = log ? strstr(log, "DATA ") : NULL;
	while (d && strncmp(d, "DATA\n", 5) == 0)
		d = strstr(d + 1, "DATA ");
	long seen = d ? strtol(d + 5, NULL, 10) : -1;
	check_addr(0, ADDR_DEFER, -1, arena_printf(pool_scratch,
		"LMTP timeout after end of data (%ld bytes written)", seen + 3));
	set_mode("");
	/* let the server finish its slow session before the next test */
	struct timespec ts = { 1, 500 * 1000000L };
	nanosleep(&ts, NULL);
}

static void test_command_and_socket(void)
{
	batch("cmdok@test.ex,rej9@test.ex");
	fx_deliver(&x, "lcmd");
	check_addr(0, ADDR_OK, 0, "");
	CHECK_STR(sv_dup(pool_scratch, nth(0)->confirmation), "250 2.0.0 <cmdok@test.ex> Saved");
	check_addr(1, ADDR_FAIL, 0, "LMTP error after RCPT TO:<rej9@test.ex>: 550 5.1.1 <rej9@test.ex> User doesn't exist");
	char *log = fx_read(arena_printf(pool_scratch, "%s/cmd.log", fx_dir), NULL);
	CHECK(log && strstr(log, "C: MAIL FROM:<s@test.ex>\n") && strstr(log, "C: QUIT\n"));

	batch("x@test.ex");
	fx_deliver(&x, "lbad");
	check_addr(0, ADDR_DEFER, -1, "LMTP connection closed after initial connection");
	fx_deliver(&x, "lnosock");
	check_addr(0, ADDR_DEFER, -1, arena_printf(pool_scratch,
		"Failed to connect to socket %s/none.sock for lnosock transport: No such file or directory", fx_dir));
	fx_deliver(&x, "lmulti");
	check_addr(0, ADDR_DEFER, -45, "LMTP error after MAIL FROM:<s@test.ex>: 451-first line\\n451 second line");
	/* -N */
	x.c.dont_deliver = true;
	fx_deliver(&x, "lbad");
	check_addr(0, ADDR_OK, 0, "");
	x.c.dont_deliver = false;
}

static bool writer_available(void)
{
	tp_write_opts o = { .m = x.m, .data_fd = x.data_fd };
	xbuf err;
	xbuf_init(&err, pool_scratch);
	tp_reader *r = tp_reader_open(pool_scratch, &o, &err);
	if (r)
		tp_reader_close(r);
	return r || !strstr(xbuf_cstr(&err), "not built yet");
}

int main(void)
{
	char cwd[256];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	/* %S: this directory (meson runs the test here), for lmtpd.py */
	xbuf cfg;
	xbuf_init(&cfg, NULL);
	for (const char *p = config_text; *p; p++) {
		if (p[0] == '%' && p[1] == 'S') {
			xbuf_puts(&cfg, cwd);
			p++;
		} else {
			xbuf_putc(&cfg, *p);
		}
	}
	fx_init(xbuf_cstr(&cfg));
	signal(SIGPIPE, SIG_IGN);
	batch("ok@test.ex");
	if (!writer_available()) {
		printf("test_lmtp: skipped (the message writer is not built yet)\n");
		fx_done();
		return 77;
	}
	const char *sock = arena_printf(pool_perm, "%s/lmtp.sock", fx_dir);
	const char *log = arena_printf(pool_perm, "%s/lmtp.log", fx_dir);
	const char *script = arena_printf(pool_perm, "%s/lmtpd.py", cwd);
	server = fork();
	if (server == 0) {
		execl("/usr/bin/python3", "python3", script, sock, log, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++) {
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	CHECK(access(sock, F_OK) == 0);
	RUN(test_per_recipient);
	RUN(test_session_failures);
	RUN(test_command_and_socket);
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	fx_message_done(&x);
	fx_done();
	return unit_report("test_lmtp");
}
