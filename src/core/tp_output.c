/* Returned command output kept beside the msglog (see tp_output.h). */
#include "core/tp_output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/durable.h"

/* FNV-1a over the address's unique form: a file name made only of hex digits, whatever
 * characters the address holds ("|command", "/file"). */
static uint64_t addr_hash(const address_item *addr)
{
	sv key = sv_is_null(addr->unique) || addr->unique.len == 0 ? addr->address : addr->unique;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < key.len; i++) {
		h ^= (unsigned char)key.p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *tp_output_path(arena *a, const spool_config *sc, const char *id, const address_item *addr)
{
	char suffix[24];
	snprintf(suffix, sizeof suffix, "-R%016llx", (unsigned long long)addr_hash(addr));
	return spool_path(a, sc, "msglog", id, suffix);
}

/* The msglog directory (and its split subdirectory) may not exist yet. */
static bool make_dirs(arena *a, const spool_config *sc, const char *path, xbuf *err)
{
	char *dir = arena_strdup(a, path);
	for (char *s = dir + strlen(sc->directory) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			xbuf_printf(err, "failed to create directory %s: %s", dir, strerror(errno));
			return false;
		}
		*s = '/';
	}
	return true;
}

/* The files prepared in this process (a transport child): their descriptors outlive the uid
 * change. */
typedef struct prepared {
	struct prepared *next;
	const char *path;
	int fd;
} prepared;
static prepared *prepared_files;

bool tp_output_prepare(arena *a, const spool_config *sc, const char *id, const address_item *addr,
	xbuf *err)
{
	const char *path = tp_output_path(a, sc, id, addr);
	if (!make_dirs(a, sc, path, err))
		return false;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, (mode_t)(sc->mode ? sc->mode : 0640));
	if (fd < 0) {
		xbuf_printf(err, "failed to create %s: %s", path, strerror(errno));
		return false;
	}
	prepared *p = arena_alloc(a, sizeof *p);
	*p = (prepared){ .next = prepared_files, .path = path, .fd = fd };
	prepared_files = p;
	return true;
}

/* Write text through the descriptor prepared for path. 1: done, 0: none prepared, -1: error. */
static int write_prepared(const char *path, sv text, xbuf *err)
{
	prepared *p = prepared_files;
	while (p && strcmp(p->path, path) != 0)
		p = p->next;
	if (!p)
		return 0;
	if (ftruncate(p->fd, 0) != 0 || lseek(p->fd, 0, SEEK_SET) != 0) {
		xbuf_printf(err, "failed to truncate %s: %s", path, strerror(errno));
		return -1;
	}
	size_t off = 0;
	while (off < text.len) {
		ssize_t w = write(p->fd, text.p + off, text.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			xbuf_printf(err, "failed to write %s: %s", path, strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(p->fd) != 0) {
		xbuf_printf(err, "failed to sync %s: %s", path, strerror(errno));
		return -1;
	}
	return 1;
}

bool tp_output_save(arena *a, const spool_config *sc, const char *id, const address_item *addr,
	sv text, xbuf *err)
{
	const char *path = tp_output_path(a, sc, id, addr);
	int rc = write_prepared(path, text, err);
	if (rc != 0)
		return rc > 0;
	if (!make_dirs(a, sc, path, err))
		return false;
	return durable_write_file(path, text.p, text.len, (mode_t)(sc->mode ? sc->mode : 0640), err);
}

bool tp_output_load(arena *a, const spool_config *sc, const char *id, const address_item *addr,
	size_t max, xbuf *out)
{
	xbuf b;
	xbuf_init(&b, a);
	int errnum = 0;
	if (!spool_read_file(tp_output_path(a, sc, id, addr), max, &b, &errnum))
		return false;
	sv v = xbuf_sv(&b);
	xbuf_putsv(out, sv_tainted(v));
	return true;
}

void tp_output_remove(arena *a, const spool_config *sc, const char *id, const address_item *addr)
{
	unlink(tp_output_path(a, sc, id, addr));
}
