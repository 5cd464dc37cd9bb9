/* Buffered I/O with deadlines (src/lib/bio.c) over a socketpair and a pipe. */
#include <sys/socket.h>
#include <unistd.h>

#include "../unit.h"
#include "lib/arena.h"
#include "lib/bio.h"

static void test_lines(void)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	static bio b;
	bio_init(&b, sp[0], sp[0]);
	xbuf line;
	xbuf_init(&line, pool_scratch);
	const char *in = "EHLO x\r\nbare lf\nlong line here\r\nlast";
	CHECK(write(sp[1], in, strlen(in)) == (ssize_t)strlen(in));
	CHECK_INT(bio_read_line(&b, &line, 100, 1000), BIO_OK);
	CHECK_STR(xbuf_cstr(&line), "EHLO x");
	CHECK(line.taint == 1);
	CHECK(bio_input_pending(&b, 0));
	CHECK_INT(bio_read_line(&b, &line, 100, 1000), BIO_OK);
	CHECK_STR(xbuf_cstr(&line), "bare lf");
	CHECK_INT(bio_read_line(&b, &line, 5, 1000), BIO_TOOLONG);
	/* No LF yet: the deadline passes. */
	CHECK_INT(bio_read_line(&b, &line, 100, 50), BIO_TIMEOUT);
	shutdown(sp[1], SHUT_WR);
	CHECK_INT(bio_read_line(&b, &line, 100, 1000), BIO_OK);
	CHECK_STR(xbuf_cstr(&line), "last");
	CHECK_INT(bio_read_line(&b, &line, 100, 1000), BIO_EOF);
	CHECK(!bio_input_pending(&b, 0));

	bio_puts(&b, "250 OK\r\n");
	bio_printf(&b, "%d %s\r\n", 221, "bye");
	CHECK(bio_flush(&b));
	char buf[64] = { 0 };
	CHECK_INT(read(sp[1], buf, sizeof buf - 1), 17);
	CHECK_STR(buf, "250 OK\r\n221 bye\r\n");
	close(sp[0]);
	close(sp[1]);
}

static void test_peek_pipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	static bio b;
	bio_init(&b, p[0], 1);
	CHECK(!bio_input_pending(&b, 0));
	CHECK(write(p[1], "abcdef", 6) == 6);
	const char *d;
	size_t n;
	CHECK_INT(bio_peek(&b, &d, &n, 1000), BIO_OK);
	CHECK_INT(n, 6);
	bio_consume(&b, 4);
	sv rest = bio_buffered(&b);
	CHECK(rest.len == 2 && memcmp(rest.p, "ef", 2) == 0 && rest.taint);
	bio_consume(&b, 2);
	CHECK_INT(bio_peek(&b, &d, &n, 30), BIO_TIMEOUT);
	close(p[1]);
	CHECK_INT(bio_peek(&b, &d, &n, 1000), BIO_EOF);
	close(p[0]);
	/* A line much longer than the buffer is dropped whole. */
	CHECK(pipe(p) == 0);
	bio_init(&b, p[0], 1);
	if (fork() == 0) {
		char big[4096];
		memset(big, 'x', sizeof big);
		for (int i = 0; i < 20; i++) (void)!write(p[1], big, sizeof big);
		(void)!write(p[1], "\nnext\n", 6);
		_exit(0);
	}
	close(p[1]);
	xbuf line;
	xbuf_init(&line, pool_scratch);
	CHECK_INT(bio_read_line(&b, &line, 998, 5000), BIO_TOOLONG);
	CHECK_INT(bio_read_line(&b, &line, 998, 5000), BIO_OK);
	CHECK_STR(xbuf_cstr(&line), "next");
	close(p[0]);
}

int main(void)
{
	arena_init_pools();
	RUN(test_lines);
	RUN(test_peek_pipe);
	return unit_report("test_bio");
}
