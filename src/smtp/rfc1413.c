/* RFC 1413 ident queries for the SMTP server (see rfc1413.h for the observed rules). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/printing.h"
#include "smtp/rfc1413.h"
#include "lib/clock.h"

/* ---- The reply parser ------------------------------------------------------------------- */

typedef struct cursor {
	const char *p, *end;
} cursor;

static void skip_blanks(cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool take_char(cursor *c, char ch)
{
	skip_blanks(c);
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

/* A port number: optional sign, decimal digits (leading zeros allowed), compared with want. */
static bool take_port(cursor *c, int want)
{
	skip_blanks(c);
	bool neg = false;
	if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
		neg = *c->p++ == '-';
	long v = 0;
	const char *start = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		if (v < 1000000)
			v = v * 10 + (*c->p - '0');
		c->p++;
	}
	if (c->p == start)
		return false;
	/* The number must end at a blank or at the separator, not inside a word ("123x"). */
	if (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != ',' && *c->p != ':')
		return false;
	return (neg ? -v : v) == want;
}

bool rfc1413_parse(sv reply, int client_port, int server_port, sv *user)
{
	/* One line: up to the first newline; a NUL before it means there is none (the reply is
	 * handled as a C string by Exim). */
	const char *nl = NULL;
	for (size_t i = 0; i < reply.len; i++) {
		if (reply.p[i] == '\n') {
			nl = reply.p + i;
			break;
		}
		if (reply.p[i] == '\0')
			return false;
	}
	if (!nl)
		return false;
	cursor c = { reply.p, nl };
	if (c.end > c.p && c.end[-1] == '\r')
		c.end--;
	if (!take_port(&c, client_port) || !take_char(&c, ',') || !take_port(&c, server_port)
		|| !take_char(&c, ':'))
		return false;
	skip_blanks(&c);
	static const char kw[] = "USERID";
	if ((size_t)(c.end - c.p) < sizeof kw - 1 || memcmp(c.p, kw, sizeof kw - 1) != 0)
		return false;
	c.p += sizeof kw - 1;
	if (!take_char(&c, ':'))
		return false;
	/* The operating system field (with any character set after a comma) is not used. */
	while (c.p < c.end && *c.p != ':')
		c.p++;
	if (c.p >= c.end)
		return false;
	c.p++;
	skip_blanks(&c);
	if (c.p >= c.end)
		return false;
	*user = sv_sub(reply, (size_t)(c.p - reply.p), (size_t)(c.end - c.p));
	return true;
}

sv rfc1413_printable(arena *a, sv raw, bool topbit)
{
	if (raw.len > RFC1413_USER_MAX)
		raw.len = RFC1413_USER_MAX;
	xbuf b;
	xbuf_init(&b, a);
	printing_escape(raw, PRINT_TAB_LITERAL | (topbit ? PRINT_TOPBIT : 0), &b);
	return sv_tainted(xbuf_sv(&b));
}

/* ---- The query -------------------------------------------------------------------------- */

static bool make_addr(sv ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[80], serv[12];
	if (ip.len >= sizeof host)
		return false;
	memcpy(host, ip.p, ip.len);
	host[ip.len] = 0;
	snprintf(serv, sizeof serv, "%d", port);
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(host, serv, &hints, &ai) != 0 || !ai)
		return false;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

rfc1413_rc rfc1413_query(sv local_ip, int local_port, sv client_ip, int client_port, int timeout_s,
	bool topbit, arena *a, sv *ident)
{
	struct sockaddr_storage local, peer;
	socklen_t llen, plen;
	if (timeout_s <= 0 || !make_addr(local_ip, 0, &local, &llen)
		|| !make_addr(client_ip, RFC1413_PORT, &peer, &plen) || local.ss_family != peer.ss_family)
		return RFC1413_NONE;
	int fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return RFC1413_NONE;
	rfc1413_rc rc = RFC1413_NONE;
	long long ms = (long long)timeout_s * 1000;
	if (bind(fd, (struct sockaddr *)&local, llen) != 0)
		goto done;
	if (connect(fd, (struct sockaddr *)&peer, plen) != 0) {
		if (errno != EINPROGRESS)
			goto done;
		int w = wait_fd_until(fd, POLLOUT, monotonic_ms() + ms);
		if (w == 0) {
			rc = RFC1413_CONNECT_TIMEOUT;
			goto done;
		}
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
			goto done;
	}
	char query[40];
	int qlen = snprintf(query, sizeof query, "%d , %d\r\n", client_port, local_port);
	if (send(fd, query, (size_t)qlen, MSG_NOSIGNAL) != qlen)
		goto done;
	/* Read until the line end: each wait is bounded by the timeout, as Exim's; the whole reply
	 * also by three times it (Exim has no such limit; a trickling identd could hold the
	 * session for minutes) and by the buffer. */
	char *buf = arena_alloc(a, RFC1413_REPLY_MAX);
	size_t got = 0;
	long long overall = monotonic_ms() + 3 * ms;
	while (got < RFC1413_REPLY_MAX && !memchr(buf, '\n', got) && !memchr(buf, '\0', got)) {
		long long deadline = monotonic_ms() + ms;
		int w = wait_fd_until(fd, POLLIN, deadline < overall ? deadline : overall);
		if (w == 0) {
			rc = RFC1413_READ_TIMEOUT;
			goto done;
		}
		if (w < 0)
			goto done;
		ssize_t n;
		do
			n = recv(fd, buf + got, RFC1413_REPLY_MAX - got, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			goto done;
		got += (size_t)n;
	}
	sv user;
	if (rfc1413_parse((sv){ buf, got, 1, 0 }, client_port, local_port, &user)) {
		*ident = rfc1413_printable(a, user, topbit);
		rc = RFC1413_OK;
	}
done:
	close(fd);
	return rc;
}
