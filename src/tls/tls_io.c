/* What the TLS server and client share once an SSL object exists: waiting for a handshake step
 * within a deadline, the bio layer that moves bytes through the SSL object, and the names
 * Exim gives a session's version and cipher. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/arena.h"
#include "tls/tls_int.h"

int tls_handshake_wait(int e, int in_fd, int out_fd, long long deadline)
{
	struct pollfd pfd = { .fd = in_fd, .events = POLLIN };
	if (e == SSL_ERROR_WANT_WRITE) pfd = (struct pollfd){ .fd = out_fd, .events = POLLOUT };
	long long left = deadline - monotonic_ms();
	if (left <= 0) return 0;
	int pr = poll(&pfd, 1, (int)left);
	if (pr < 0) return errno == EINTR ? 1 : -1;
	return pr > 0;
}

static ssize_t layer_read(void *ctx, void *buf, size_t n)
{
	SSL *ssl = ctx;
	size_t got = 0;
	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(ssl, buf, n, &got) == 1) return (ssize_t)got;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_ZERO_RETURN: return 0;   /* close_notify */
	case SSL_ERROR_WANT_READ: case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
	case SSL_ERROR_SYSCALL:
		if (errno == 0) return 0;           /* EOF without close_notify */
		return -1;
	default: errno = EPROTO; return -1;
	}
}

static ssize_t layer_write(void *ctx, const void *buf, size_t n)
{
	SSL *ssl = ctx;
	size_t done = 0;
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(ssl, buf, n, &done) == 1) return (ssize_t)done;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_READ: case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
	case SSL_ERROR_SYSCALL: if (!errno) errno = EPIPE; return -1;
	default: errno = EPROTO; return -1;
	}
}

static size_t layer_pending(void *ctx)
{
	return (size_t)SSL_pending((SSL *)ctx);
}

bio_layer tls_bio_layer(SSL *ssl)
{
	return (bio_layer){ layer_read, layer_write, layer_pending, ssl };
}

/* "TLSv1.3" -> "TLS1.3" (Exim drops the v); the cipher as "<version>:<name>:<secret bits>". */
void tls_session_names(arena *a, SSL *ssl, sv *ver, sv *cipher, int *bits)
{
	const char *v = SSL_get_version(ssl);
	const char *vp = strchr(v, 'v');
	const char *vn = vp ? arena_printf(a, "%.*s%s", (int)(vp - v), v, vp + 1) : arena_strdup(a, v);
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int b = 0;
	if (c) SSL_CIPHER_get_bits(c, &b);
	*ver = sv_cstr(vn);
	*cipher = sv_cstr(arena_printf(a, "%s:%s:%d", vn, c ? SSL_CIPHER_get_name(c) : "", b));
	if (bits) *bits = b;
}
