/* Deferred directory syncs (dirsync.h). */
#include "core/dirsync.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

bool dirsync_enabled;
dirsync_set dirsync_pending;

bool dirsync_add(dirsync_set *s, const char *dir)
{
	size_t len = strlen(dir);
	if (len >= DIRSYNC_PATH_MAX)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->path[i], dir) == 0)
			return true;
	if (s->n == DIRSYNC_MAX)
		return false;
	memcpy(s->path[s->n++], dir, len + 1);
	return true;
}

bool dirsync_defer(const char *dir)
{
	return dirsync_enabled && dirsync_add(&dirsync_pending, dir);
}

bool dirsync_flush(dirsync_set *s, xbuf *err)
{
	bool ok = true;
	for (size_t i = 0; i < s->n; i++) {
		int fd = open(s->path[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0) {
			if (ok)
				xbuf_printf(err, "failed to sync directory %s: %s", s->path[i], strerror(errno));
			ok = false;
		}
		if (fd >= 0)
			close(fd);
	}
	s->n = 0;
	return ok;
}
