/* The staple refresher's HTTP client: POST an OCSP request to a responder named by a
 * certificate (RFC 6960 appendix A) and read its answer, bounded in time and size. Responders
 * are plain http:// (the response is signed; TLS would add a circular dependency on OCSP).
 * The URL and response parsers are pure and fuzzed (tests/fuzz/fuzz_ocsp_http.c). */
#ifndef POSTERN_TLS_TLS_OCSP_HTTP_H
#define POSTERN_TLS_TLS_OCSP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

/* Bounds on what a responder may send: the header block and the body. */
#define OCSP_HTTP_MAX_HEADER (16 * 1024)
#define OCSP_HTTP_MAX_BODY (64 * 1024)

typedef struct ocsp_url {
	char host[256];    /* a name or an address (IPv6 without its brackets) */
	char port[8];      /* "80" unless given */
	char path[1024];   /* "/" unless given; the query is kept */
} ocsp_url;

/* Split "http://host[:port][/path]". false (why set) for another scheme, or a malformed or
 * oversized URL. */
bool ocsp_url_parse(const char *url, ocsp_url *u, xbuf *why);

/* The bytes of a POST of body (an OCSP request) to u, in out. */
void ocsp_http_request(const ocsp_url *u, const unsigned char *body, size_t len, xbuf *out);

/* Parse a response received so far (len bytes; eof: the peer closed). Returns 1 when it is
 * complete (status 200, body in out: Content-Length, chunked or up to the close), 0 when more
 * bytes are needed, -1 on an error (why set: a non-200 status, malformed framing, or a bound
 * exceeded). out is reset on every call. */
int ocsp_http_response(const char *buf, size_t len, bool eof, xbuf *out, xbuf *why);

/* POST body to url and put the response's body in out. Everything (name lookup aside, which the
 * caller bounds by running in a child with an alarm) finishes within timeout_s seconds. */
bool ocsp_http_post(const char *url, const unsigned char *body, size_t len, int timeout_s,
	xbuf *out, xbuf *why);

#endif
