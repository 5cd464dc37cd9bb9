/* ${readsocket} over TLS (readsock_tls.h). */
#include "expand/readsock_tls.h"

#include "expand/expand.h"
#include "lib/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

static xp_tls_start_fn tls_start;
static xp_tls_end_fn tls_end;

void xp_readsock_tls_register(xp_tls_start_fn start, xp_tls_end_fn end)
{
	tls_start = start;
	tls_end = end;
}

bool xp_readsock_tls_available(void)
{
	return tls_start != NULL;
}

/* The host of "inet:host:port" / "inet:[addr]:port" when it is a name (SNI carries names only). */
static const char *sni_of(arena *a, sv spec)
{
	if (!sv_starts(spec, "inet:")) return NULL;
	sv rest = sv_sub(spec, 5, spec.len - 5);
	if (rest.len && rest.p[0] == '[') return NULL;
	size_t colon = rest.len;
	while (colon > 0 && rest.p[colon - 1] != ':') colon--;
	if (colon <= 1) return NULL;
	char *host = arena_strndup(a, rest.p, colon - 1);
	unsigned char buf[16];
	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1) return NULL;
	return host;
}

/* Wait until fd is ready (for reading or writing, as events says), within the deadline. */
static int wait_ready(int fd, short events, long long deadline)
{
	long long left = deadline - monotonic_ms();
	if (left <= 0) return ETIMEDOUT;
	struct pollfd p = { .fd = fd, .events = events };
	int r = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
	if (r < 0) return errno == EINTR ? 0 : errno;
	return r == 0 ? ETIMEDOUT : 0;
}

int xp_readsock_tls_exchange(arena *a, int fd, sv spec, sv request, long long deadline, size_t limit,
	xbuf *data, xbuf *err)
{
	if (!tls_start) {
		xbuf_puts(err, "TLS for ${readsocket} is not available in this build");
		return XP_ERROR;
	}
	long long left = deadline - monotonic_ms();
	bio_layer l;
	void *h = NULL;
	xbuf why;
	xbuf_init(&why, a);
	if (left <= 0 || !tls_start(a, fd, sni_of(a, spec), (int)(left > 0 ? left : 1), &l, &h, &why)) {
		xbuf_printf(err, "TLS session failed: %s", left <= 0 ? "timed out" : xbuf_cstr(&why));
		return XP_ERROR;
	}
	int e = 0;
	for (size_t off = 0; off < request.len && !e;) {
		ssize_t w = l.write(l.ctx, request.p + off, request.len - off);
		if (w > 0) off += (size_t)w;
		else if (w < 0 && (errno == EAGAIN || errno == EINTR)) e = wait_ready(fd, POLLOUT, deadline);
		else e = errno ? errno : EPIPE;
	}
	if (e) {
		tls_end(h);
		xbuf_printf(err, "request write to socket failed: %s", strerror(e));
		return XP_ERROR;
	}
	/* No write shutdown with TLS (it would end the session): read to the server's close. */
	char buf[8192];
	for (;;) {
		if (!l.pending(l.ctx) && (e = wait_ready(fd, POLLIN, deadline)) != 0) break;
		ssize_t n = l.read(l.ctx, buf, sizeof buf);
		if (n == 0) break;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) continue;
			e = errno ? errno : EPROTO;
			break;
		}
		if (data->len + (size_t)n > limit) {
			e = EFBIG;
			break;
		}
		xbuf_put(data, buf, (size_t)n);
	}
	tls_end(h);
	if (e == ETIMEDOUT) {
		xbuf_puts(err, "socket read timed out");
		return XP_ERROR;
	}
	if (e) {
		xbuf_printf(err, "socket read failed: %s", strerror(e));
		return XP_ERROR;
	}
	return XP_OK;
}
