/* Buffered, deadline-bounded I/O (see bio.h). */
#include "lib/bio.h"
#include "lib/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sockets are used with MSG_DONTWAIT so a peer that stops reading cannot block us past the
 * deadline; pipes and files (-bs, -bh on stdin/stdout) fall back to read/write after poll()
 * said they are ready, without changing the descriptor's flags, which are shared with the
 * process that gave them to us. */
static ssize_t plain_read(void *ctx, void *buf, size_t n)
{
	bio *b = ctx;
	ssize_t r = recv(b->rfd, buf, n, MSG_DONTWAIT);
	if (r < 0 && errno == ENOTSOCK) r = read(b->rfd, buf, n);
	return r;
}

static ssize_t plain_write(void *ctx, const void *buf, size_t n)
{
	bio *b = ctx;
	ssize_t r = send(b->wfd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0 && errno == ENOTSOCK) r = write(b->wfd, buf, n);
	return r;
}

static size_t plain_pending(void *ctx)
{
	(void)ctx;
	return 0;
}

void bio_init(bio *b, int rfd, int wfd)
{
	memset(b, 0, sizeof *b);
	b->rfd = rfd;
	b->wfd = wfd;
	b->write_timeout_ms = 300000;
	b->layer = (bio_layer){ plain_read, plain_write, plain_pending, b };
}

void bio_set_layer(bio *b, const bio_layer *l)
{
	b->layer = *l;
}

/* Milliseconds left until deadline (-1: none). */
static int left_ms(long long deadline)
{
	if (deadline < 0) return -1;
	return ms_until(deadline);
}

/* Read more into the input buffer (compacting it first). */
static bio_rc fill(bio *b, long long deadline)
{
	if (b->eof) return BIO_EOF;
	if (b->in_pos > 0) {
		memmove(b->in, b->in + b->in_pos, b->in_len - b->in_pos);
		b->in_len -= b->in_pos;
		b->in_pos = 0;
	}
	if (b->in_len == sizeof b->in) return BIO_OK;
	for (;;) {
		if (b->layer.pending(b->layer.ctx) == 0) {
			struct pollfd pfd = { .fd = b->rfd, .events = POLLIN };
			int pr = poll(&pfd, 1, left_ms(deadline));
			if (pr == 0) return BIO_TIMEOUT;
			if (pr < 0) {
				if (errno == EINTR) continue;
				b->err = errno;
				return BIO_ERROR;
			}
		}
		ssize_t r = b->layer.read(b->layer.ctx, b->in + b->in_len, sizeof b->in - b->in_len);
		if (r > 0) {
			b->in_len += (size_t)r;
			b->bytes_in += (unsigned long long)r;
			return BIO_OK;
		}
		if (r == 0) { b->eof = true; return BIO_EOF; }
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
		b->err = errno;
		return BIO_ERROR;
	}
}

bio_rc bio_read_line(bio *b, xbuf *out, size_t max, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
	xbuf_reset(out);
	out->taint = 1;
	b->last_unterminated = false;
	bool toolong = false;
	/* A partial line stays in the buffer until its LF arrives (so a timeout loses nothing);
	 * once it is known to be too long, what is buffered is dropped as it comes. */
	for (;;) {
		const char *start = b->in + b->in_pos;
		size_t avail = b->in_len - b->in_pos;
		const char *nl = memchr(start, '\n', avail);
		if (nl) {
			size_t take = (size_t)(nl - start);
			if (!toolong && take <= max + 1) xbuf_put(out, start, take);  /* +1: the CR */
			else toolong = true;
			b->in_pos += take + 1;
			b->lines++;
			break;
		}
		if (avail > max + 1 || avail == sizeof b->in) {
			toolong = true;
			b->in_pos = b->in_len;
		}
		bio_rc rc = fill(b, deadline);
		if (rc == BIO_EOF) {
			if (toolong) return BIO_TOOLONG;
			avail = b->in_len - b->in_pos;
			if (avail == 0) return BIO_EOF;
			xbuf_put(out, b->in + b->in_pos, avail);
			b->in_pos = b->in_len;
			b->lines++;
			b->last_unterminated = true;
			break;
		}
		if (rc != BIO_OK) return rc;
	}
	out->taint = 1;
	if (toolong) { xbuf_reset(out); out->taint = 1; return BIO_TOOLONG; }
	if (out->len && out->p[out->len - 1] == '\r') xbuf_truncate(out, out->len - 1);
	if (out->len > max) { xbuf_reset(out); out->taint = 1; return BIO_TOOLONG; }
	return BIO_OK;
}

bio_rc bio_peek(bio *b, const char **p, size_t *n, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
	if (b->in_pos == b->in_len) {
		b->in_pos = b->in_len = 0;
		bio_rc rc = fill(b, deadline);
		if (rc != BIO_OK) return rc;
	}
	*p = b->in + b->in_pos;
	*n = b->in_len - b->in_pos;
	return BIO_OK;
}

void bio_consume(bio *b, size_t n)
{
	if (n > b->in_len - b->in_pos) n = b->in_len - b->in_pos;
	for (const char *p = b->in + b->in_pos, *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		b->lines++;
	b->in_pos += n;
}

bool bio_input_buffered(const bio *b)
{
	return b->in_pos < b->in_len || b->layer.pending(b->layer.ctx) > 0;
}

bool bio_input_pending(bio *b, int wait_ms)
{
	if (b->in_pos < b->in_len) return true;
	if (b->layer.pending(b->layer.ctx) > 0) return true;
	if (b->eof) return false;
	struct pollfd pfd = { .fd = b->rfd, .events = POLLIN };
	int pr = poll(&pfd, 1, wait_ms);
	return pr > 0 && (pfd.revents & POLLIN);
}

sv bio_buffered(const bio *b)
{
	sv v = sv_make(b->in + b->in_pos, b->in_len - b->in_pos);
	v.taint = 1;
	return v;
}

void bio_write(bio *b, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		if (b->out_len == sizeof b->out && !bio_flush(b)) return;
		size_t k = sizeof b->out - b->out_len;
		if (k > n) k = n;
		memcpy(b->out + b->out_len, s, k);
		b->out_len += k;
		s += k;
		n -= k;
	}
}

void bio_puts(bio *b, const char *s)
{
	bio_write(b, s, strlen(s));
}

void bio_printf(bio *b, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	bio_write(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

bool bio_flush(bio *b)
{
	if (b->write_failed) { b->out_len = 0; return false; }
	long long deadline = monotonic_ms() + b->write_timeout_ms;
	size_t off = 0;
	while (off < b->out_len) {
		ssize_t w = b->layer.write(b->layer.ctx, b->out + off, b->out_len - off);
		if (w > 0) { off += (size_t)w; continue; }
		if (w < 0 && errno == EINTR) continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = b->wfd, .events = POLLOUT };
			int wait = left_ms(deadline);
			if (wait > 0 && poll(&pfd, 1, wait) > 0) continue;
			b->err = ETIMEDOUT;
		} else {
			b->err = w < 0 ? errno : EIO;
		}
		b->write_failed = true;
		b->out_len = 0;
		return false;
	}
	b->out_len = 0;
	return true;
}
