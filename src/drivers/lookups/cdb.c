/* cdb: D. J. Bernstein's constant database format, read directly.
 * Layout: 256 (position, length) pairs of little-endian uint32 (2048 bytes) naming hash tables;
 * each table slot is (hash, record position); a record is keylen, datalen, key, data.
 * hash = 5381, then h = ((h << 5) + h) ^ byte. Every offset read is checked against the file size. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "search/search.h"

typedef struct cdb_handle {
	int fd;
	uint64_t size;
} cdb_handle;

static void *cdb_open(const char *filename, xbuf *errmsg)
{
	int fd = open(filename, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		xbuf_printf(errmsg, "failed to open %s for cdb lookup: %s", filename, strerror(errno));
		return NULL;
	}
	/* Exim 4.96's wordings, odd as they are, for unreadable and short files. */
	struct stat st;
	unsigned char hdr[8];
	if (fstat(fd, &st) < 0 || pread(fd, hdr, sizeof hdr, 0) < 0) {
		xbuf_printf(errmsg, "failed to open cannot read header from %s for cdb lookup: %s", filename,
			strerror(errno));
		close(fd);
		return NULL;
	}
	if (st.st_size < 2048) {
		xbuf_printf(errmsg, "failed to open %s too short for cdb lookup: Success", filename);
		close(fd);
		return NULL;
	}
	cdb_handle *h = malloc(sizeof *h);
	if (!h)
		abort();
	h->fd = fd;
	h->size = (uint64_t)st.st_size;
	return h;
}

static bool read_at(const cdb_handle *h, uint64_t pos, void *buf, size_t n)
{
	if (pos > h->size || n > h->size - pos)
		return false;
	return pread(h->fd, buf, n, (off_t)pos) == (ssize_t)n;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int corrupt(const char *filename, xbuf *errmsg)
{
	xbuf_printf(errmsg, "cdb: corrupt cdb file %s (too short)", filename);
	return SEARCH_DEFER;
}

static int cdb_find(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	const cdb_handle *h = handle;
	uint32_t hash = 5381;
	for (size_t i = 0; i < key.len; i++)
		hash = ((hash << 5) + hash) ^ (unsigned char)key.p[i];
	unsigned char b[8];
	if (!read_at(h, (uint64_t)(hash & 255) * 8, b, 8))
		return corrupt(filename, errmsg);
	uint32_t tpos = le32(b), tlen = le32(b + 4);
	if (tlen == 0)
		return SEARCH_FAIL;
	uint32_t slot = (hash >> 8) % tlen;
	char *kbuf = NULL;
	int rc = SEARCH_FAIL;
	for (uint32_t n = 0; n < tlen; n++) {
		if (!read_at(h, (uint64_t)tpos + (uint64_t)slot * 8, b, 8)) {
			rc = corrupt(filename, errmsg);
			break;
		}
		uint32_t shash = le32(b), rpos = le32(b + 4);
		if (rpos == 0)
			break; /* empty slot ends the probe sequence */
		if (shash == hash) {
			unsigned char r[8];
			if (!read_at(h, rpos, r, 8)) {
				rc = corrupt(filename, errmsg);
				break;
			}
			uint32_t klen = le32(r), dlen = le32(r + 4);
			if (klen == key.len) {
				kbuf = realloc(kbuf, klen ? klen : 1);
				if (!kbuf)
					abort();
				if (!read_at(h, (uint64_t)rpos + 8, kbuf, klen)) {
					rc = corrupt(filename, errmsg);
					break;
				}
				if (memcmp(kbuf, key.p, klen) == 0) {
					if ((uint64_t)rpos + 8 + klen + dlen > h->size) {
						rc = corrupt(filename, errmsg);
						break;
					}
					xbuf_reserve(result, dlen);
					char *dst = result->p + result->len;
					if (!read_at(h, (uint64_t)rpos + 8 + klen, dst, dlen)) {
						dst[0] = 0;
						rc = corrupt(filename, errmsg);
						break;
					}
					result->len += dlen;
					result->p[result->len] = 0;
					rc = SEARCH_OK;
					break;
				}
			}
		}
		slot = (slot + 1) % tlen;
	}
	free(kbuf);
	return rc;
}

static void cdb_close(void *handle)
{
	cdb_handle *h = handle;
	close(h->fd);
	free(h);
}

const lookup_info lookup_cdb = {
	.name = "cdb", .type = LOOKUP_SINGLEKEY,
	.open = cdb_open, .find = cdb_find, .close = cdb_close,
};
