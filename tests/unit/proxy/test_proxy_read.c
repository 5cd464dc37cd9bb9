/* proxy_read_header over a socketpair: exact reads (the byte after the header is still there),
 * split writes, timeouts, EOF, and an oversized v2 header whose bytes are drained. */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "expand/expand.h"
#include "lib/arena.h"
#include "mail/proxy.h"
#include "smtp/proxy_read.h"
#include "unit.h"

static int sp[2];

static void pair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0) {
		perror("socketpair");
		_exit(2);
	}
}

static void unpair(void)
{
	close(sp[0]);
	close(sp[1]);
}

/* What remains readable right after the header. */
static void check_rest(const char *want)
{
	char buf[64] = { 0 };
	ssize_t n = recv(sp[0], buf, sizeof buf - 1, MSG_DONTWAIT);
	CHECK_STR(n > 0 ? buf : "", want);
}

static bool run(const void *data, size_t n, int timeout, proxy_info *pi, xbuf *err)
{
	if (n && write(sp[1], data, n) != (ssize_t)n)
		return false;
	xbuf_reset(err);
	return proxy_read_header(sp[0], timeout, pi, err);
}

static void test_v1(void)
{
	proxy_info pi;
	xbuf err;
	xbuf_init(&err, NULL);
	pair();
	const char *s = "PROXY TCP4 192.0.2.7 198.51.100.9 40000 25\r\nEHLO x\r\n";
	CHECK(run(s, strlen(s), 1000, &pi, &err));
	CHECK_INT(pi.version, 1);
	CHECK(!pi.local);
	CHECK_STR(pi.src_addr, "192.0.2.7");
	CHECK_STR(pi.dst_addr, "198.51.100.9");
	CHECK_INT(pi.src_port, 40000);
	CHECK_INT(pi.dst_port, 25);
	check_rest("EHLO x\r\n");
	unpair();

	pair();
	s = "PROXY UNKNOWN\r\n\x16\x03\x01";  /* a TLS ClientHello follows: must stay unread */
	CHECK(run(s, strlen(s), 1000, &pi, &err));
	CHECK(pi.local);
	check_rest("\x16\x03\x01");
	unpair();

	/* split over two writes */
	pair();
	CHECK(write(sp[1], "PROXY TCP6 2001:db8::1 ", 23) == 23);
	s = "2001:db8::2 1 2\r\nQUIT\r\n";
	CHECK(run(s, strlen(s), 1000, &pi, &err));
	CHECK_STR(pi.src_addr, "2001:db8::1");
	check_rest("QUIT\r\n");
	unpair();

	/* invalid: double space; not PROXY at all; fails without waiting for more */
	pair();
	s = "PROXY TCP4 192.0.2.7  198.51.100.9 40000 25\r\n";
	CHECK(!run(s, strlen(s), 1000, &pi, &err));
	unpair();
	pair();
	s = "EHLO x\r\n";
	CHECK(!run(s, strlen(s), 5000, &pi, &err));
	CHECK_STR(xbuf_cstr(&err), "not a PROXY protocol header");
	unpair();
	xbuf_free(&err);
}

static void test_v2(void)
{
	proxy_info pi;
	xbuf err;
	xbuf_init(&err, NULL);
	uint8_t h[64];
	memcpy(h, proxy_v2_signature, 12);
	h[12] = 0x21; h[13] = 0x11; h[14] = 0; h[15] = 12 + 7;
	uint8_t blk[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x01, 0xbb };
	memcpy(h + 16, blk, 12);
	memcpy(h + 28, "\x02\x00\x04mx.x", 7);
	memcpy(h + 35, "EHLO", 4);
	pair();
	CHECK(run(h, 39, 1000, &pi, &err));
	CHECK_INT(pi.version, 2);
	CHECK_STR(pi.src_addr, "10.0.0.1");
	CHECK_INT(pi.src_port, 12345);
	CHECK_INT(pi.dst_port, 443);
	CHECK(pi.authority.present);
	CHECK_STR(pi.authority.s, "mx.x");
	CHECK(!pi.alpn.present);
	check_rest("EHLO");
	unpair();

	/* oversized declared length: refused, and its bytes drained */
	static uint8_t big[16 + 3000 + 4];
	memcpy(big, proxy_v2_signature, 12);
	big[12] = 0x21; big[13] = 0x11; big[14] = 3000 >> 8; big[15] = 3000 & 0xff;
	memcpy(big + 16 + 3000, "QUIT", 4);
	pair();
	CHECK(!run(big, sizeof big, 1000, &pi, &err));
	CHECK_STR(xbuf_cstr(&err), "PROXY v2 declared length too large");
	check_rest("QUIT");
	unpair();
	xbuf_free(&err);
}

static void test_timeout_eof(void)
{
	proxy_info pi;
	xbuf err;
	xbuf_init(&err, NULL);
	pair();
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK(!run("PROXY TCP4 1.2.3.4", 18, 200, &pi, &err));
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	CHECK(ms >= 190 && ms < 1500);
	CHECK_STR(xbuf_cstr(&err), "timeout while reading the PROXY header");
	unpair();

	pair();
	CHECK(write(sp[1], "PROX", 4) == 4);
	shutdown(sp[1], SHUT_WR);
	CHECK(!run(NULL, 0, 1000, &pi, &err));
	CHECK_STR(xbuf_cstr(&err), "connection closed while reading the PROXY header");
	unpair();
	xbuf_free(&err);
}

static void test_vars(void)
{
	proxy_info pi;
	xbuf err;
	xbuf_init(&err, NULL);
	uint8_t h[128];
	size_t n = 0;
	memcpy(h, proxy_v2_signature, 12);
	h[12] = 0x21; h[13] = 0x11;
	n = 16;
	static const uint8_t blk[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2 };
	memcpy(h + n, blk, 12); n += 12;
	memcpy(h + n, "\x02\x00\x04mx.x", 7); n += 7;
	memcpy(h + n, "\x20\x00\x0f\x03\x00\x00\x00\x00\x21\x00\x07TLSv1.3", 18); n += 18;
	h[14] = 0; h[15] = (uint8_t)(n - 16);
	pair();
	CHECK(run(h, n, 1000, &pi, &err));
	unpair();
	xp_env env;
	xp_env_init(&env, pool_scratch);
	xp_provider p;
	proxy_vars_provider(&pi, &p);
	xp_env_push_provider(&env, &p);
	xbuf out;
	xbuf_init(&out, NULL);
	xbuf_reset(&err);
	CHECK(xp_expand(&env, SV_LIT("$proxy_authority|$proxy_alpn|$proxy_ssl|$proxy_ssl_verified|$proxy_ssl_version|$proxy_crc32c"),
		&out, &err) == XP_OK);
	CHECK_STR(xbuf_cstr(&out), "mx.x||yes|yes|TLSv1.3|no");
	CHECK(out.taint);
	/* without a PROXY session the names are known and empty */
	xp_env env2;
	xp_env_init(&env2, pool_scratch);
	xp_provider p2;
	proxy_vars_provider(NULL, &p2);
	xp_env_push_provider(&env2, &p2);
	xbuf_reset(&out);
	CHECK(xp_expand(&env2, SV_LIT("<$proxy_authority><$proxy_ssl>"), &out, &err) == XP_OK);
	CHECK_STR(xbuf_cstr(&out), "<><no>");
	xbuf_free(&out);
	xbuf_free(&err);
}

int main(void)
{
	arena_init_pools();
	RUN(test_vars);
	RUN(test_v1);
	RUN(test_v2);
	RUN(test_timeout_eof);
	return unit_report("test_proxy_read");
}
