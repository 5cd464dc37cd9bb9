/* Returned command output kept beside the msglog (see tp_output.h). */
#include "core/tp_output.h"

#include <errno.h>
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

bool tp_output_save(arena *a, const spool_config *sc, const char *id, const address_item *addr,
	sv text, xbuf *err)
{
	const char *path = tp_output_path(a, sc, id, addr);
	/* The msglog directory (and its split subdirectory) may not exist yet. */
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
