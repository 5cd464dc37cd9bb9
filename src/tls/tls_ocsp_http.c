/* The staple refresher's HTTP client (tls_ocsp_http.h). HTTP/1.0 with "Connection: close" keeps
 * the exchange simple: one request per connection, and the response ends at Content-Length, at
 * the last chunk (some servers chunk anyway), or at the close. Every byte from the responder is
 * untrusted: the header block and the body have fixed bounds and every number is range-checked.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/tls_ocsp_http.h"
#include "lib/clock.h"

static bool url_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f;   /* no spaces, controls or 8-bit bytes in a request line */
}

static bool host_char_ok(unsigned char c, bool v6)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || (v6 && (c == ':' || c == '%'));
}

bool ocsp_url_parse(const char *url, ocsp_url *u, xbuf *why)
{
	memset(u, 0, sizeof *u);
	if (strncasecmp(url, "http://", 7) != 0) {
		if (strncasecmp(url, "https://", 8) == 0) xbuf_puts(why, "only http:// OCSP responders are supported");
		else xbuf_puts(why, "not an http:// URL");
		return false;
	}
	const char *p = url + 7;
	size_t alen = strcspn(p, "/?#");
	const char *auth_end = p + alen;
	const char *host = p, *host_end, *port = NULL;
	bool v6 = false;
	if (*p == '[') {
		const char *close = memchr(p, ']', alen);
		if (!close) goto bad;
		host = p + 1;
		host_end = close;
		v6 = true;
		if (close + 1 < auth_end) {
			if (close[1] != ':') goto bad;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(p, ':', alen);
		host_end = colon ? colon : auth_end;
		if (colon) port = colon + 1;
	}
	size_t hlen = (size_t)(host_end - host);
	if (hlen == 0 || hlen >= sizeof u->host) goto bad;
	for (size_t i = 0; i < hlen; i++)
		if (!host_char_ok((unsigned char)host[i], v6)) goto bad;
	memcpy(u->host, host, hlen);
	if (port) {
		size_t plen = (size_t)(auth_end - port);
		long n = 0;
		if (plen == 0 || plen > 5) goto bad;
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)port[i])) goto bad;
			n = n * 10 + (port[i] - '0');
		}
		if (n < 1 || n > 65535) goto bad;
		snprintf(u->port, sizeof u->port, "%ld", n);
	} else {
		strcpy(u->port, "80");
	}
	const char *path = auth_end;
	size_t plen = strcspn(path, "#");
	if (plen == 0) {
		strcpy(u->path, "/");
		return true;
	}
	bool slash = *path == '/';
	if (plen + (slash ? 0 : 1) >= sizeof u->path) goto bad;
	for (size_t i = 0; i < plen; i++)
		if (!url_char_ok((unsigned char)path[i])) goto bad;
	snprintf(u->path, sizeof u->path, "%s%.*s", slash ? "" : "/", (int)plen, path);
	return true;
bad:
	xbuf_puts(why, "malformed OCSP responder URL");
	return false;
}

void ocsp_http_request(const ocsp_url *u, const unsigned char *body, size_t len, xbuf *out)
{
	bool v6 = strchr(u->host, ':') != NULL;
	bool default_port = strcmp(u->port, "80") == 0;
	xbuf_printf(out, "POST %s HTTP/1.0\r\nHost: %s%s%s%s%s\r\n", u->path, v6 ? "[" : "", u->host,
		v6 ? "]" : "", default_port ? "" : ":", default_port ? "" : u->port);
	xbuf_printf(out, "Content-Type: application/ocsp-request\r\nAccept: application/ocsp-response\r\n"
		"Content-Length: %zu\r\nConnection: close\r\nUser-Agent: postern-ocsp\r\n\r\n", len);
	xbuf_put(out, body, len);
}

/* ---- Response parsing -------------------------------------------------------------------- */

/* The end of the header block (the offset of the body), or 0 when not seen yet. */
static size_t header_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n') continue;
		if (buf[i + 1] == '\n') return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') return i + 3;
	}
	return 0;
}

/* Decimal digits only, at most max. */
static bool parse_decimal(const char *p, size_t n, size_t max, size_t *out)
{
	if (n == 0 || n > 12) return false;
	size_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i])) return false;
		v = v * 10 + (size_t)(p[i] - '0');
	}
	if (v > max) return false;
	*out = v;
	return true;
}

static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t nl = strlen(name);
	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return false;
	const char *v = line + nl + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t')) v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
	*value = v;
	*vlen = (size_t)(end - v);
	return true;
}

/* Decode a chunked body. 1 complete, 0 more needed, -1 error. */
static int dechunk(const char *p, size_t n, xbuf *out, xbuf *why)
{
	size_t i = 0;
	for (;;) {
		const char *nl = memchr(p + i, '\n', n - i);
		if (!nl) return n - i > 64 ? (xbuf_puts(why, "malformed chunk size line"), -1) : 0;
		size_t size = 0, digits = 0;
		const char *q = p + i;
		while (q < nl && isxdigit((unsigned char)*q)) {
			if (++digits > 8) break;
			size = size * 16 + (size_t)(isdigit((unsigned char)*q) ? *q - '0' : (tolower((unsigned char)*q) - 'a' + 10));
			q++;
		}
		if (digits == 0 || digits > 8 || (q < nl && *q != ';' && *q != '\r' && *q != ' ')) {
			xbuf_puts(why, "malformed chunk size line");
			return -1;
		}
		i = (size_t)(nl - p) + 1;
		if (size == 0) {
			/* Trailers (ignored) end with an empty line. */
			for (;;) {
				const char *end = memchr(p + i, '\n', n - i);
				if (!end) return 0;
				size_t llen = (size_t)(end - (p + i));
				i = (size_t)(end - p) + 1;
				if (llen == 0 || (llen == 1 && end[-1] == '\r')) return 1;
			}
		}
		if (size > OCSP_HTTP_MAX_BODY || out->len + size > OCSP_HTTP_MAX_BODY) {
			xbuf_puts(why, "response body too large");
			return -1;
		}
		if (n - i < size) return 0;
		xbuf_put(out, p + i, size);
		i += size;
		/* the chunk's CRLF */
		if (n - i < 1) return 0;
		if (p[i] == '\r') {
			if (n - i < 2) return 0;
			i++;
		}
		if (p[i] != '\n') {
			xbuf_puts(why, "malformed chunk end");
			return -1;
		}
		i++;
	}
}

int ocsp_http_response(const char *buf, size_t len, bool eof, xbuf *out, xbuf *why)
{
	xbuf_reset(out);
	size_t hend = header_end(buf, len < OCSP_HTTP_MAX_HEADER ? len : OCSP_HTTP_MAX_HEADER);
	if (!hend) {
		if (len >= OCSP_HTTP_MAX_HEADER) { xbuf_puts(why, "response header too large"); return -1; }
		if (eof) { xbuf_puts(why, "connection closed before the response header ended"); return -1; }
		return 0;
	}
	const char *eol = memchr(buf, '\n', hend);
	size_t slen = (size_t)(eol - buf);
	size_t status_len = slen > 0 && buf[slen - 1] == '\r' ? slen - 1 : slen;
	if (slen < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[7]) || buf[8] != ' '
		|| !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11])) {
		xbuf_puts(why, "malformed HTTP status line");
		return -1;
	}
	if (strncmp(buf + 9, "200", 3) != 0) {
		/* The reason phrase is the responder's text: only printable bytes, briefly. */
		xbuf_printf(why, "HTTP status %.3s", buf + 9);
		size_t r = 12;
		while (r < status_len && buf[r] == ' ') r++;
		if (r < status_len) xbuf_puts(why, " ");
		for (size_t k = 0; r < status_len && k < 60; r++, k++)
			if (buf[r] >= 0x20 && buf[r] < 0x7f) xbuf_putc(why, buf[r]);
		return -1;
	}
	bool chunked = false, have_cl = false;
	size_t cl = 0;
	for (size_t i = slen + 1; i < hend;) {
		const char *nl = memchr(buf + i, '\n', hend - i);
		size_t n = (size_t)(nl - (buf + i));
		const char *v;
		size_t vlen;
		if (header_is(buf + i, n, "Content-Length", &v, &vlen)) {
			size_t val;
			if (!parse_decimal(v, vlen, OCSP_HTTP_MAX_BODY, &val) || (have_cl && val != cl)) {
				xbuf_puts(why, "bad or oversized Content-Length");
				return -1;
			}
			cl = val;
			have_cl = true;
		} else if (header_is(buf + i, n, "Transfer-Encoding", &v, &vlen)) {
			if (vlen == 7 && strncasecmp(v, "chunked", 7) == 0) chunked = true;
			else if (!(vlen == 8 && strncasecmp(v, "identity", 8) == 0)) {
				xbuf_puts(why, "unsupported Transfer-Encoding");
				return -1;
			}
		}
		i += n + 1;
	}
	const char *body = buf + hend;
	size_t blen = len - hend;
	if (chunked) {
		int r = dechunk(body, blen, out, why);
		if (r == 0 && eof) { xbuf_puts(why, "connection closed inside a chunked body"); return -1; }
		return r;
	}
	if (have_cl) {
		if (blen >= cl) {
			xbuf_put(out, body, cl);
			return 1;
		}
		if (eof) { xbuf_puts(why, "connection closed before the body ended"); return -1; }
		return 0;
	}
	if (blen > OCSP_HTTP_MAX_BODY) { xbuf_puts(why, "response body too large"); return -1; }
	if (!eof) return 0;
	xbuf_put(out, body, blen);
	return 1;
}

/* ---- The exchange ------------------------------------------------------------------------ */

static int connect_any(const ocsp_url *u, long long deadline, xbuf *why)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int g = getaddrinfo(u->host, u->port, &hints, &res);
	if (g != 0) {
		xbuf_printf(why, "cannot resolve %s: %s", u->host, gai_strerror(g));
		return -1;
	}
	int fd = -1, err = 0;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) { err = errno; continue; }
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			err = errno;
			if (err == EINPROGRESS) {
				socklen_t sl = sizeof err;
				if (wait_fd_until(fd, POLLOUT, deadline) <= 0) err = ETIMEDOUT;
				else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0) err = errno;
			}
			if (err) { close(fd); fd = -1; }
		}
	}
	freeaddrinfo(res);
	if (fd < 0) xbuf_printf(why, "cannot connect to %s port %s: %s", u->host, u->port, strerror(err ? err : ECONNREFUSED));
	return fd;
}

bool ocsp_http_post(const char *url, const unsigned char *body, size_t len, int timeout_s,
	xbuf *out, xbuf *why)
{
	ocsp_url u;
	if (!ocsp_url_parse(url, &u, why)) return false;
	long long deadline = monotonic_ms() + (long long)timeout_s * 1000;
	int fd = connect_any(&u, deadline, why);
	if (fd < 0) return false;
	xbuf req, in;
	xbuf_init(&req, NULL);
	xbuf_init(&in, NULL);
	ocsp_http_request(&u, body, len, &req);
	bool ok = false;
	size_t sent = 0;
	while (sent < req.len) {
		ssize_t w = send(fd, req.p + sent, req.len - sent, MSG_NOSIGNAL);
		if (w > 0) { sent += (size_t)w; continue; }
		if (w < 0 && (errno == EAGAIN || errno == EINTR) && wait_fd_until(fd, POLLOUT, deadline) > 0) continue;
		xbuf_printf(why, "sending to %s: %s", u.host, w < 0 && errno != EAGAIN ? strerror(errno) : "timed out");
		goto done;
	}
	/* The raw response may exceed the body bound by the header block and chunk framing. */
	const size_t max_raw = OCSP_HTTP_MAX_HEADER + 2 * OCSP_HTTP_MAX_BODY;
	for (;;) {
		char chunk[4096];
		ssize_t r = recv(fd, chunk, sizeof chunk, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd_until(fd, POLLIN, deadline) <= 0) {
				xbuf_printf(why, "no complete response from %s within %ds", u.host, timeout_s);
				goto done;
			}
			continue;
		}
		if (r < 0) {
			xbuf_printf(why, "reading from %s: %s", u.host, strerror(errno));
			goto done;
		}
		if (in.len + (size_t)r > max_raw) {
			xbuf_puts(why, "response too large");
			goto done;
		}
		xbuf_put(&in, chunk, (size_t)r);
		int st = ocsp_http_response(in.p ? in.p : "", in.len, r == 0, out, why);
		if (st < 0) goto done;
		if (st > 0) { ok = true; goto done; }
	}
done:
	close(fd);
	xbuf_free(&req);
	xbuf_free(&in);
	return ok;
}
