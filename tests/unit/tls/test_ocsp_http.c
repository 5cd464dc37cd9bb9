/* The OCSP refresher's URL parser, request and HTTP response reader (src/tls/tls_ocsp_http.c). */
#include "../unit.h"
#include "lib/arena.h"
#include "tls/tls_ocsp_http.h"

static const struct { const char *url; const char *host, *port, *path, *err; } urls[] = {
	{ "http://ocsp.example.com", "ocsp.example.com", "80", "/", NULL },
	{ "HTTP://r3.o.lencr.org/", "r3.o.lencr.org", "80", "/", NULL },
	{ "http://127.0.0.1:8888/ocsp/x?y=1#frag", "127.0.0.1", "8888", "/ocsp/x?y=1", NULL },
	{ "http://[::1]:81", "::1", "81", "/", NULL },
	{ "http://h?q", "h", "80", "/?q", NULL },
	{ "https://ocsp.example.com/", NULL, NULL, NULL, "only http:// OCSP responders are supported" },
	{ "ldap://x", NULL, NULL, NULL, "not an http:// URL" },
	{ "http://", NULL, NULL, NULL, "malformed OCSP responder URL" },
	{ "http://h:0/", NULL, NULL, NULL, "malformed OCSP responder URL" },
	{ "http://h:65536/", NULL, NULL, NULL, "malformed OCSP responder URL" },
	{ "http://h:/", NULL, NULL, NULL, "malformed OCSP responder URL" },
	{ "http://u@h/", NULL, NULL, NULL, "malformed OCSP responder URL" },
	{ "http://h/a b", NULL, NULL, NULL, "malformed OCSP responder URL" },
	{ "http://h/a\r\nX: y", NULL, NULL, NULL, "malformed OCSP responder URL" },
	{ "http://[::1/", NULL, NULL, NULL, "malformed OCSP responder URL" },
};

static void test_urls(void)
{
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		ocsp_url u;
		xbuf why;
		xbuf_init(&why, pool_scratch);
		bool ok = ocsp_url_parse(urls[i].url, &u, &why);
		CHECK_INT(ok, urls[i].err == NULL);
		if (ok) {
			CHECK_STR(u.host, urls[i].host);
			CHECK_STR(u.port, urls[i].port);
			CHECK_STR(u.path, urls[i].path);
		} else {
			CHECK_STR(xbuf_cstr(&why), urls[i].err);
		}
	}
}

static void test_request(void)
{
	ocsp_url u;
	xbuf why, req;
	xbuf_init(&why, pool_scratch);
	xbuf_init(&req, pool_scratch);
	CHECK(ocsp_url_parse("http://[::1]:8080/r", &u, &why));
	ocsp_http_request(&u, (const unsigned char *)"\x30\x01", 2, &req);
	CHECK_STR(xbuf_cstr(&req), "POST /r HTTP/1.0\r\nHost: [::1]:8080\r\n"
		"Content-Type: application/ocsp-request\r\nAccept: application/ocsp-response\r\n"
		"Content-Length: 2\r\nConnection: close\r\nUser-Agent: postern-ocsp\r\n\r\n\x30\x01");
}

static const struct { const char *in; bool eof; int rc; const char *body; } responses[] = {
	{ "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", false, 1, "abc" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", false, 1, "abc" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nab", false, 0, "" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nab", true, -1, "connection closed before the body ended" },
	{ "HTTP/1.0 200 OK\r\ncontent-length:3\n\nabc", false, 1, "abc" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext\r\nde\r\n0\r\n\r\n", false, 1, "abcde" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n", false, 1, "abc" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", false, 0, "" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", true, -1, "connection closed inside a chunked body" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, -1, "malformed chunk size line" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", false, -1, "malformed chunk end" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n", false, -1, "response body too large" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, -1, "unsupported Transfer-Encoding" },
	{ "HTTP/1.0 200 OK\r\n\r\nuntil close", false, 0, "" },
	{ "HTTP/1.0 200 OK\r\n\r\nuntil close", true, 1, "until close" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", false, -1, "bad or oversized Content-Length" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, -1, "bad or oversized Content-Length" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", false, -1, "bad or oversized Content-Length" },
	{ "HTTP/1.1 503 Service \x01Unavailable\r\n\r\n", false, -1, "HTTP status 503 Service Unavailable" },
	{ "HTTP/1.1 404\r\n\r\n", false, -1, "HTTP status 404" },
	{ "SMTP/1.0 200 OK\r\n\r\n", false, -1, "malformed HTTP status line" },
	{ "HTTP/1.0 200 OK\r\nContent-Len", false, 0, "" },
	{ "HTTP/1.0 200 OK\r\nContent-Len", true, -1, "connection closed before the response header ended" },
};

static void test_responses(void)
{
	for (size_t i = 0; i < sizeof responses / sizeof responses[0]; i++) {
		xbuf out, why;
		xbuf_init(&out, pool_scratch);
		xbuf_init(&why, pool_scratch);
		int rc = ocsp_http_response(responses[i].in, strlen(responses[i].in), responses[i].eof, &out, &why);
		if (rc != responses[i].rc) fprintf(stderr, "case %zu\n", i);
		CHECK_INT(rc, responses[i].rc);
		CHECK_STR(rc < 0 ? xbuf_cstr(&why) : rc > 0 ? xbuf_cstr(&out) : "", responses[i].body);
	}
	/* A header block without an end, beyond the bound. */
	static char big[OCSP_HTTP_MAX_HEADER + 10];
	memset(big, 'a', sizeof big - 1);
	memcpy(big, "HTTP/1.0 200 OK\r\n", 17);
	xbuf out, why;
	xbuf_init(&out, pool_scratch);
	xbuf_init(&why, pool_scratch);
	CHECK_INT(ocsp_http_response(big, sizeof big - 1, false, &out, &why), -1);
	CHECK_STR(xbuf_cstr(&why), "response header too large");
}

int main(void)
{
	arena_init_pools();
	RUN(test_urls);
	RUN(test_request);
	RUN(test_responses);
	return unit_report("test_ocsp_http");
}
