/* The queue listing's check for never-acknowledged messages (bp_unacked.h). */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/spool_integrity.h"
#include "prog/bp_unacked.h"

#define SUM_KEY "-postern_sum "

bool bp_unacked_read(const spool_config *sc, const char *id, const spool_parse_info *info)
{
	const char *now = spool_boot_id();
	if (!info->sum_len)
		return false;
	/* The same boot: what was written is what is there (the page cache outlives processes). */
	if (now && info->sum.len >= strlen(now) && memcmp(info->sum.p, now, strlen(now)) == 0)
		return false;
	arena_mark mk = arena_getmark(pool_scratch);
	int dfd = open(spool_path(pool_scratch, sc, "input", id, "-D"), O_RDONLY | O_CLOEXEC);
	arena_reset(pool_scratch, mk);
	if (dfd < 0)
		return false;   /* no -D: listed as Exim lists it (the delivery reports it) */
	xbuf why;
	xbuf_init(&why, pool_scratch);
	bool bad = spool_integrity_check(info, dfd, &why) == SPOOL_INTEGRITY_BAD;
	close(dfd);
	return bad;
}

/* Whether the first bytes of an -H file decide that no check is needed: a fifth line that is
 * not an integrity line, or one of this boot. */
static bool head_says_fine(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;   /* gone meanwhile: not counted as unacknowledged */
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	const char *line = buf;
	for (int i = 0; i < 4; i++) {
		const char *nl = memchr(line, '\n', (size_t)(buf + n - line));
		if (!nl)
			return false;   /* longer than the bytes read: decide on the whole file */
		line = nl + 1;
	}
	size_t key = strlen(SUM_KEY);
	if ((size_t)(buf + n - line) < key)
		return false;
	if (memcmp(line, SUM_KEY, key) != 0)
		return true;
	const char *now = spool_boot_id();
	return now && (size_t)(buf + n - line) >= key + strlen(now) && memcmp(line + key, now, strlen(now)) == 0;
}

bool bp_unacked(const spool_config *sc, const char *id)
{
	arena_mark mk = arena_getmark(pool_msg);
	bool bad = false;
	if (!head_says_fine(spool_path(pool_msg, sc, "input", id, "-H"))) {
		message m;
		msg_origin o;
		spool_parse_info info;
		xbuf err;
		xbuf_init(&err, pool_msg);
		spool_read_header_ex(pool_msg, sc, id, &m, &o, &info, &err);
		bad = bp_unacked_read(sc, id, &info);
	}
	arena_reset(pool_msg, mk);
	return bad;
}
