/* proxy_probe: a stand-in SMTP listener that reads a PROXY header with proxy_read_header(), for
 * the HAProxy end-to-end tests (tests/scenario/test_proxy_haproxy.py) until the daemon is there.
 *
 *   proxy_probe PORTFILE TIMEOUT_MS CONNECTIONS
 *
 * Listens on 127.0.0.1 (port written to PORTFILE), and for each connection: reads the header,
 * prints one line describing it ("ok v=2 local=0 src=... sport=... dst=... dport=... ..." or
 * "fail <reason>"), sends "220 probe", then prints "rest=<what the client sent next>" (escaped;
 * read until EOF, a CRLF or 2 s) so a test can see that no byte after the header was lost. */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp/proxy_read.h"

static void put_text(const char *name, const char *s, size_t n, bool present)
{
	if (!present)
		return;
	printf(" %s=", name);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch > 0x20 && ch < 0x7f && ch != '\\')
			putchar(ch);
		else
			printf("\\x%02x", ch);
	}
}
#define PUT(name, t) put_text(name, (t).s, (t).len, (t).present)

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: proxy_probe PORTFILE TIMEOUT_MS CONNECTIONS\n");
		return 2;
	}
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 16) != 0 ||
		getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
		perror("proxy_probe: listen");
		return 2;
	}
	FILE *pf = fopen(argv[1], "w");
	if (!pf)
		return 2;
	fprintf(pf, "%d\n", ntohs(sa.sin_port));
	fclose(pf);
	int timeout = atoi(argv[2]), count = atoi(argv[3]);
	for (int i = 0; i < count; i++) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			return 2;
		proxy_info pi;
		xbuf err;
		xbuf_init(&err, NULL);
		if (proxy_read_header(fd, timeout, &pi, &err)) {
			printf("ok v=%d local=%d", pi.version, pi.local);
			if (!pi.local)
				printf(" src=%s sport=%d dst=%s dport=%d", pi.src_addr, pi.src_port, pi.dst_addr, pi.dst_port);
			PUT("alpn", pi.alpn);
			PUT("authority", pi.authority);
			PUT("unique_id", pi.unique_id);
			PUT("netns", pi.netns);
			if (pi.crc32c_verified)
				printf(" crc32c=ok");
			if (pi.ssl) {
				printf(" ssl_client=%u ssl_verify=%u", pi.ssl_client, pi.ssl_verify);
				PUT("ssl_version", pi.ssl_version);
				PUT("ssl_cipher", pi.ssl_cipher);
			}
		} else {
			printf("fail %s", xbuf_cstr(&err));
		}
		printf("\n");
		xbuf_free(&err);
		if (write(fd, "220 probe\r\n", 11) != 11) {
			/* health checks hang up at once */
		}
		char rest[512];
		size_t n = 0;
		while (n < sizeof rest) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, 2000) <= 0)
				break;
			ssize_t k = read(fd, rest + n, sizeof rest - n);
			if (k <= 0)
				break;
			n += (size_t)k;
			if (n >= 2 && rest[n - 2] == '\r' && rest[n - 1] == '\n')
				break;
		}
		put_text("rest", rest, n, true);
		printf("\n");
		fflush(stdout);
		close(fd);
	}
	return 0;
}
