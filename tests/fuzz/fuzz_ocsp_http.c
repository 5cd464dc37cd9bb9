/* Fuzz the OCSP refresher's HTTP response reader and URL parser (src/tls/tls_ocsp_http.c) with
 * arbitrary responder bytes and certificate-supplied URLs.
 *
 * Invariants: the reader answers -1, 0 or 1, never 0 once the peer closed; a body is within its
 * bound; a response complete at some prefix stays complete, with the same body, when the peer
 * then closes, and when more bytes follow (nothing after the end is read as part of it). A parsed
 * URL has a non-empty host of safe characters, a numeric port in range and a path starting with
 * '/' free of spaces and controls, and the request made from it has a single header block whose
 * Content-Length is the body's. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/arena.h"
#include "tls/tls_ocsp_http.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static void check_url(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	ocsp_url u;
	xbuf why;
	xbuf_init(&why, NULL);
	if (ocsp_url_parse(s, &u, &why)) {
		CHECK(u.host[0] != 0);
		for (const char *p = u.host; *p; p++) CHECK(*p > 0x20 && *p < 0x7f && *p != '/' && *p != '@');
		long port = strtol(u.port, NULL, 10);
		CHECK(port >= 1 && port <= 65535);
		CHECK(u.path[0] == '/');
		for (const char *p = u.path; *p; p++) CHECK(*p > 0x20 && *p < 0x7f);
		xbuf req;
		xbuf_init(&req, NULL);
		ocsp_http_request(&u, (const unsigned char *)"abc", 3, &req);
		const char *end = strstr(req.p, "\r\n\r\n");
		CHECK(end && (size_t)(end + 4 - req.p) == req.len - 3);
		CHECK(strstr(req.p, "Content-Length: 3\r\n") != NULL);
		xbuf_free(&req);
	} else {
		CHECK(why.len > 0);
	}
	xbuf_free(&why);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	xbuf out, why, out2;
	xbuf_init(&out, NULL);
	xbuf_init(&why, NULL);
	xbuf_init(&out2, NULL);
	int at_eof = ocsp_http_response(buf, size, true, &out, &why);
	CHECK(at_eof == 1 || at_eof == -1);
	CHECK(out.len <= OCSP_HTTP_MAX_BODY);
	if (at_eof < 0) CHECK(why.len > 0);
	/* Prefixes: a complete answer at a prefix is final. */
	size_t step = size / 16 + 1;
	for (size_t n = 0; n <= size; n += step) {
		xbuf_reset(&why);
		int r = ocsp_http_response(buf, n, false, &out2, &why);
		CHECK(r >= -1 && r <= 1);
		CHECK(out2.len <= OCSP_HTTP_MAX_BODY);
		if (r == 1) {
			xbuf_reset(&why);
			xbuf body;
			xbuf_init(&body, NULL);
			xbuf_put(&body, out2.p, out2.len);
			CHECK(ocsp_http_response(buf, n, true, &out2, &why) == 1);
			CHECK(out2.len == body.len && memcmp(out2.p ? out2.p : "", body.p ? body.p : "", body.len) == 0);
			CHECK(at_eof == 1 && out.len == body.len && memcmp(out.p ? out.p : "", body.p ? body.p : "", body.len) == 0);
			xbuf_free(&body);
		}
	}
	xbuf_free(&out);
	xbuf_free(&out2);
	xbuf_free(&why);
	check_url(data, size);
	return 0;
}
