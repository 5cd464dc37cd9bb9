/* The connection cache of a delivery worker (deliver_conn_cache.h). One connection at most:
 * a worker delivers one message at a time, and the launcher gives a new message to the worker
 * that became idle last, the one most likely to hold a connection to where it goes. */
#include "core/deliver_conn_cache.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"

#define KEY_MAX 2048
#define QUIT_WAIT_MS 1000

bool dccache_enabled;
bool dccache_in_clone;

static struct {
	int fd;                       /* -1: nothing held */
	char key[KEY_MAX];
	size_t keylen;
	unsigned offered;
	int sequence;
	int64_t until;                /* monotonic ms */
} held = { .fd = -1 };

bool dccache_usable(void)
{
	return dccache_enabled && dccache_in_clone;
}

void dccache_close(bool quit, int wake_fd)
{
	if (held.fd < 0)
		return;
	int fd = held.fd;
	held.fd = -1;
	if (quit && send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT) == 6) {
		/* The 221, so the server sees an orderly end rather than a reset. */
		shutdown(fd, SHUT_WR);
		int64_t end = monotonic_ms() + QUIT_WAIT_MS;
		char buf[512];
		for (;;) {
			int64_t left = end - monotonic_ms();
			struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = wake_fd, .events = POLLIN } };
			if (left <= 0 || poll(p, wake_fd >= 0 ? 2 : 1, (int)left) <= 0 || p[1].revents)
				break;
			ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
			if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
				break;
		}
	}
	close(fd);
}

bool dccache_put(int fd, const char *key, size_t keylen, unsigned offered, int sequence, int idle_ms)
{
	if (fd < 0 || keylen > KEY_MAX || idle_ms <= 0)
		return false;
	dccache_close(true, -1);
	held.fd = fd;
	memcpy(held.key, key, keylen);
	held.keylen = keylen;
	held.offered = offered;
	held.sequence = sequence;
	held.until = monotonic_ms() + idle_ms;
	return true;
}

int dccache_take(const char *key, size_t keylen, unsigned *offered, int *sequence)
{
	if (held.fd < 0 || keylen != held.keylen || memcmp(key, held.key, keylen) != 0
		|| monotonic_ms() >= held.until)
		return -1;
	int fd = held.fd;
	held.fd = -1;
	*offered = held.offered;
	*sequence = held.sequence;
	return fd;
}

int dccache_fd(void)
{
	return held.fd;
}

int dccache_left_ms(void)
{
	if (held.fd < 0)
		return -1;
	int64_t left = held.until - monotonic_ms();
	return left < 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}
