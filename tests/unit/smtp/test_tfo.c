/* src/smtp/tfo.c outside a Fast Open setup: the log elements, non-sockets, and a loopback
 * connection made with tfo_out_connect, which must connect whatever the machine's
 * net.ipv4.tcp_fastopen says (the Fast Open cases themselves are in tests/scenario/test_tfo.py,
 * in a private network namespace). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit.h"
#include "smtp/tfo.h"

static int sysctl_tfo(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r");
	int v = 0;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static void test_log_elements(void)
{
	CHECK_STR(tfo_log_element(TFO_NOT_USED), "");
	CHECK_STR(tfo_log_element(TFO_USED), " TFO");
	CHECK_STR(tfo_log_element(TFO_USED_DATA), " TFO*");
	CHECK_STR(tfo_log_element(7), "");
}

static void test_not_sockets(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK_INT(tfo_in_check(p[0]), TFO_NOT_USED);
	CHECK_INT(tfo_in_check(-1), TFO_NOT_USED);
	CHECK_INT(tfo_out_check(p[1], TFO_OUT_TRIED_NODATA), TFO_NOT_USED);
	close(p[0]);
	close(p[1]);
}

static void test_loopback(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);

	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	tfo_out_attempt how = TFO_OUT_NONE;
	int r = tfo_out_connect(c, (struct sockaddr *)&a, sizeof a, &how);
	CHECK(r == 0 || errno == EINPROGRESS);
	/* With the client bit the zero-length sendto is used, else plain connect(). */
	CHECK_INT(how, (sysctl_tfo() & 1) ? TFO_OUT_TRIED_NODATA : TFO_OUT_NONE);
	struct pollfd pf = { .fd = c, .events = POLLOUT };
	CHECK(poll(&pf, 1, 5000) == 1);
	int soerr = -1;
	socklen_t sl = sizeof soerr;
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0);
	/* Established by now: Exim's no-data test (still in SYN_SENT) says no. */
	CHECK_INT(tfo_out_check(c, how), TFO_NOT_USED);
	CHECK_INT(tfo_out_check(c, TFO_OUT_NONE), TFO_NOT_USED);

	int s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	/* No data in the SYN; without the server bit no cookie was ever given out either. */
	if (!(sysctl_tfo() & 2))
		CHECK_INT(tfo_in_check(s), TFO_NOT_USED);
	else
		CHECK(tfo_in_check(s) != TFO_USED_DATA);
	CHECK(write(c, "x", 1) == 1);
	char ch = 0;
	CHECK(read(s, &ch, 1) == 1 && ch == 'x');
	close(s);
	close(c);

	/* A refused connection is an error as with connect(), now or on completion. */
	int c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	close(l);
	r = tfo_out_connect(c2, (struct sockaddr *)&a, sizeof a, &how);
	if (r < 0 && errno == EINPROGRESS) {
		pf.fd = c2;
		CHECK(poll(&pf, 1, 5000) == 1);
		sl = sizeof soerr;
		CHECK(getsockopt(c2, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0);
		CHECK_INT(soerr, ECONNREFUSED);
	} else {
		CHECK(r < 0);
		CHECK_INT(errno, ECONNREFUSED);
	}
	close(c2);
}

int main(void)
{
	RUN(test_log_elements);
	RUN(test_not_sockets);
	RUN(test_loopback);
	return unit_report("tfo");
}
