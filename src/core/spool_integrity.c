/* The spool's integrity line; see core/spool_integrity.h and docs/spool.md ("Durability"). */
#include "core/spool_integrity.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crc64.h"
#include "lib/durable.h"

#define BOOT_ID_LEN 36

static char boot_id[BOOT_ID_LEN + 1];
static int boot_id_state; /* 0 not read, 1 read, -1 unreadable */

static bool valid_boot_id(const char *s, size_t n)
{
	if (n != BOOT_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

const char *spool_boot_id(void)
{
	if (boot_id_state == 0) {
		boot_id_state = -1;
		int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			char buf[64];
			ssize_t n = read(fd, buf, sizeof buf);
			close(fd);
			if (n > 0 && buf[n - 1] == '\n')
				n--;
			if (n > 0 && valid_boot_id(buf, (size_t)n)) {
				memcpy(boot_id, buf, BOOT_ID_LEN);
				boot_id[BOOT_ID_LEN] = 0;
				boot_id_state = 1;
			}
		}
	}
	return boot_id_state == 1 ? boot_id : NULL;
}

/* Offset just after the fourth newline of h, or 0 when it has fewer. */
static size_t after_line4(const char *p, size_t n)
{
	int lines = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n' && ++lines == 4)
			return i + 1;
	return 0;
}

bool spool_integrity_insert(xbuf *h, uint64_t dsize, uint64_t dcrc)
{
	const char *b = spool_boot_id();
	size_t at = after_line4(h->p, h->len);
	if (!b || !at)
		return false;
	uint64_t hcrc = crc64(h->p, h->len);
	char line[160];
	int n = snprintf(line, sizeof line, "-postern_sum %s %" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n",
		b, dsize, dcrc, hcrc);
	if (n <= 0 || (size_t)n >= sizeof line)
		return false;
	size_t tail = h->len - at;
	xbuf_reserve(h, (size_t)n);
	memmove(h->p + at + n, h->p + at, tail);
	memcpy(h->p + at, line, (size_t)n);
	h->len += (size_t)n;
	h->p[h->len] = 0;
	return true;
}

/* "<boot id> <size> <16 hex> <16 hex>" */
static bool parse_sum(sv v, sv *boot, uint64_t *dsize, uint64_t *dcrc, uint64_t *hcrc)
{
	char buf[128];
	if (v.len >= sizeof buf)
		return false;
	memcpy(buf, v.p, v.len);
	buf[v.len] = 0;
	char b[64], d[32], c1[32], c2[32], extra[2];
	if (sscanf(buf, "%63s %31s %31s %31s %1s", b, d, c1, c2, extra) != 4)
		return false;
	if (!valid_boot_id(b, strlen(b)) || strlen(c1) != 16 || strlen(c2) != 16)
		return false;
	for (const char *p = d; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	for (const char *p = c1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	for (const char *p = c2; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	errno = 0;
	*dsize = strtoull(d, NULL, 10);
	if (errno)
		return false;
	*dcrc = strtoull(c1, NULL, 16);
	*hcrc = strtoull(c2, NULL, 16);
	*boot = sv_sub(v, 0, BOOT_ID_LEN);
	return true;
}

spool_integrity spool_integrity_check(const spool_parse_info *info, int dfd, xbuf *why)
{
	if (!info->sum_len)
		return SPOOL_INTEGRITY_NONE;
	sv boot;
	uint64_t dsize, dcrc, hcrc;
	if (!parse_sum(info->sum, &boot, &dsize, &dcrc, &hcrc)) {
		xbuf_puts(why, "malformed integrity line");
		return SPOOL_INTEGRITY_BAD;
	}
	const char *now = spool_boot_id();
	if (now && memcmp(boot.p, now, BOOT_ID_LEN) == 0)
		return SPOOL_INTEGRITY_SAME;
	sv t = info->text;
	uint64_t c = crc64_update(crc64_init(), t.p, info->sum_off);
	c = crc64_update(c, t.p + info->sum_off + info->sum_len, t.len - info->sum_off - info->sum_len);
	if (crc64_final(c) != hcrc) {
		xbuf_puts(why, "-H content differs from what was written");
		return SPOOL_INTEGRITY_BAD;
	}
	struct stat st;
	if (fstat(dfd, &st) != 0 || (uint64_t)st.st_size != dsize) {
		xbuf_printf(why, "-D size %lld, %" PRIu64 " written", (long long)st.st_size, dsize);
		return SPOOL_INTEGRITY_BAD;
	}
	char buf[65536];
	uint64_t dc = crc64_init();
	off_t off = 0;
	while ((uint64_t)off < dsize) {
		ssize_t n = pread(dfd, buf, sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			xbuf_printf(why, "-D cannot be read: %s", n < 0 ? strerror(errno) : "end of file");
			return SPOOL_INTEGRITY_BAD;
		}
		dc = crc64_update(dc, buf, (size_t)n);
		off += n;
	}
	if (crc64_final(dc) != dcrc) {
		xbuf_puts(why, "-D content differs from what was written");
		return SPOOL_INTEGRITY_BAD;
	}
	return SPOOL_INTEGRITY_OK;
}

/* The directory part of path, in pool_scratch. */
static const char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	char *d = arena_alloc(pool_scratch, n + 2);
	if (n)
		memcpy(d, path, n);
	else
		d[n++] = '.';
	d[n] = 0;
	return d;
}

bool spool_integrity_quarantine(const spool_config *sc, const char *id, xbuf *err)
{
	arena_mark mk = arena_getmark(pool_scratch);
	const char *to_h = spool_path(pool_scratch, sc, "unacked", id, "-H");
	const char *to_d = spool_path(pool_scratch, sc, "unacked", id, "-D");
	const char *to_l = spool_path(pool_scratch, sc, "unacked", id, "-msglog");
	const char *dir = dir_of(to_h);
	xbuf e;
	xbuf_init(&e, NULL);
	bool ok = spool_make_dirs(dir, sc, &e);
	/* -H first: once it has gone the message is no longer in the queue. */
	const char *from[3] = { spool_path(pool_scratch, sc, "input", id, "-H"),
		spool_path(pool_scratch, sc, "input", id, "-D"), spool_path(pool_scratch, sc, "msglog", id, "") };
	const char *to[3] = { to_h, to_d, to_l };
	for (int i = 0; ok && i < 3; i++) {
		if (rename(from[i], to[i]) != 0 && errno != ENOENT && i < 2) {
			xbuf_printf(&e, "failed to move %s to %s: %s", from[i], to[i], strerror(errno));
			ok = false;
		}
	}
	if (ok)
		ok = durable_sync_dir(dir, &e) && durable_sync_dir(dir_of(from[0]), &e);
	arena_reset(pool_scratch, mk);
	xbuf_putsv(err, xbuf_sv(&e));
	xbuf_free(&e);
	return ok;
}
