/* appendfile's mbx_format (the UW IMAP "MBX" mailbox), as Exim 4.96 writes it:
 *   - a new file starts with a 2048-byte header: "*mbx*\r\n", the UID validity (the creation
 *     time) and the last UID (0) as 8 hex digits each, "\r\n", 30 empty keyword lines, NULs;
 *   - each message is preceded by "dd-Mon-yyyy hh:mm:ss +zzzz,<size>;000000000000-00000000\r\n"
 *     where size counts the bytes that follow (prefix, message with CRLF line ends, suffix).
 * The size must be known before anything is appended, so the message is first written to an
 * anonymous file and then copied under the mailbox lock. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drivers/transports/appendfile_internal.h"

#define MBX_HEADER_SIZE 2048

static bool write_all(int fd, const char *p, size_t n, int *errnum)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*errnum = w < 0 ? errno : EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

bool af_mbx_write(af_ctx *x, int fd, long long existing, xbuf *err, int *errnum)
{
	int tmp = memfd_create("postern-mbx", MFD_CLOEXEC);
	if (tmp < 0) {
		*errnum = errno;
		xbuf_printf(err, "cannot make a temporary file for mbx: %s", strerror(errno));
		return false;
	}
	bool ok = af_write_message(x, tmp, err, errnum);
	off_t size = ok ? lseek(tmp, 0, SEEK_END) : -1;
	if (ok && size < 0) {
		*errnum = errno;
		ok = false;
	}
	time_t now = time(NULL);
	if (ok && existing == 0) {
		char head[MBX_HEADER_SIZE];
		memset(head, 0, sizeof head);
		int n = snprintf(head, sizeof head, "*mbx*\r\n%08lx%08x\r\n", (unsigned long)now, 0u);
		for (int i = 0; i < 30; i++)
			memcpy(head + n + 2 * i, "\r\n", 2);
		ok = write_all(fd, head, sizeof head, errnum);
	}
	if (ok) {
		struct tm tm;
		char stamp[64], line[128];
		localtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%d-%b-%Y %H:%M:%S %z", &tm);
		int n = snprintf(line, sizeof line, "%s,%lld;000000000000-00000000\r\n", stamp, (long long)size);
		ok = write_all(fd, line, (size_t)n, errnum);
	}
	char buf[65536];
	if (ok && lseek(tmp, 0, SEEK_SET) != 0) {
		*errnum = errno;
		ok = false;
	}
	while (ok) {
		ssize_t r = read(tmp, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*errnum = errno;
			ok = false;
		}
		if (r <= 0)
			break;
		ok = write_all(fd, buf, (size_t)r, errnum);
	}
	close(tmp);
	return ok;
}
