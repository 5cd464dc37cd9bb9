/* The -J journal: the addresses a delivery has finished, appended and fsync'd after each
 * transport batch, before -H is rewritten. If the process dies between the two, the next
 * delivery (and -bp) read -J into the non-recipients (spool_read_journal), so nothing is
 * delivered twice. Each line goes out in one write() so a crash cannot leave a line that is a
 * shorter but valid-looking address followed by more text. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/deliver_internal.h"

int djournal_open(const spool_config *sc, const char *id, xbuf *err)
{
	const char *path = spool_path(pool_scratch, sc, "input", id, "-J");
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, sc->mode ? sc->mode : 0640);
	if (fd < 0)
		xbuf_printf(err, "failed to open %s: %s", path, strerror(errno));
	return fd;
}

bool djournal_write_fd(int fd, const sv *addrs, size_t n, xbuf *err)
{
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		xbuf line;
		xbuf_init(&line, pool_scratch);
		xbuf_putsv(&line, addrs[i]);
		xbuf_putc(&line, '\n');
		ssize_t w = write(fd, line.p, line.len);
		if (w != (ssize_t)line.len) {
			xbuf_printf(err, "failed to write the journal: %s", w < 0 ? strerror(errno) : "short write");
			ok = false;
		}
	}
	if (ok && fsync(fd) != 0) {
		xbuf_printf(err, "failed to fsync the journal: %s", strerror(errno));
		ok = false;
	}
	return ok;
}

bool djournal_append(const spool_config *sc, const char *id, const sv *addrs, size_t n, xbuf *err)
{
	if (n == 0)
		return true;
	int fd = djournal_open(sc, id, err);
	if (fd < 0)
		return false;
	bool ok = djournal_write_fd(fd, addrs, n, err);
	close(fd);
	return ok;
}

void djournal_remove(const spool_config *sc, const char *id)
{
	unlink(spool_path(pool_scratch, sc, "input", id, "-J"));
}
