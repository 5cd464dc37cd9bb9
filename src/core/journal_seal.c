/* Sealed -J batches (journal_seal.h): writing the seal and reading a journal back. */
#include "core/journal_seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a, 64 bits: an accidental match (a stale block that happens to hold a valid seal for
 * this id over its own lines) is what it must rule out, not an adversary who would also need
 * a future message id and a power loss. */
static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t seal_of(const char *id, sv batch, const char *boot)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, id, strlen(id));
	h = fnv1a(h, "\n", 1);
	h = fnv1a(h, batch.p, batch.len);
	return boot ? fnv1a(h, boot, strlen(boot)) : h;
}

#define BOOT_ID_LEN 36
const char *journal_boot_id(void)
{
	static char id[BOOT_ID_LEN + 1];
	static bool read_once;
	if (!read_once) {
		read_once = true;
		int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, id, BOOT_ID_LEN);
			id[n == BOOT_ID_LEN ? BOOT_ID_LEN : 0] = 0;
			for (size_t i = 0; id[i]; i++)
				if (id[i] <= ' ') {
					id[0] = 0;
					break;
				}
			close(fd);
		}
	}
	return id;
}

static void hex16(uint64_t v, char out[16])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = digits[v & 15];
}

void journal_seal(xbuf *out, const char *id, sv batch)
{
	char h[16];
	hex16(seal_of(id, batch, NULL), h);
	xbuf_puts(out, JOURNAL_SEAL_PREFIX);
	xbuf_put(out, h, sizeof h);
	xbuf_putc(out, '\n');
}

void journal_seal_pending(xbuf *out, const char *id, sv batch)
{
	const char *boot = journal_boot_id();
	if (!boot[0]) {
		/* No boot id: nothing can say the batch is from this boot, so it must not count after
		 * a reboot either way; a seal no reader accepts makes it a duplicate at worst. */
		xbuf_puts(out, JOURNAL_SEAL_PREFIX "0000000000000000 unknown-boot\n");
		return;
	}
	char h[16];
	hex16(seal_of(id, batch, boot), h);
	xbuf_puts(out, JOURNAL_SEAL_PREFIX);
	xbuf_put(out, h, sizeof h);
	xbuf_putc(out, ' ');
	xbuf_puts(out, boot);
	xbuf_putc(out, '\n');
}

/* A line Exim could have journaled: an address, no white space or control characters, and not
 * the first line of a -H or -D ("<id>-H"). */
static bool address_like(sv line)
{
	if (!line.len || line.len > 2048)
		return false;
	for (size_t i = 0; i < line.len; i++) {
		unsigned char c = (unsigned char)line.p[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	if (line.len >= 3 && line.p[line.len - 2] == '-' && (line.p[line.len - 1] == 'H' || line.p[line.len - 1] == 'D'))
		return false;
	return true;
}

/* A seal line: "#J <16 hex>" or "#J <16 hex> <boot id>". *valid: it seals batch for id (and,
 * when pending, for this boot); *pending: it names a boot. */
static bool is_seal(sv line, const char *id, sv batch, bool *valid, bool *pending)
{
	size_t pl = strlen(JOURNAL_SEAL_PREFIX);
	if (line.len < pl + 16 || memcmp(line.p, JOURNAL_SEAL_PREFIX, pl) != 0)
		return false;
	if (line.len != pl + 16 && (line.len <= pl + 17 || line.p[pl + 16] != ' '))
		return false;
	*pending = line.len > pl + 16;
	*valid = false;
	char boot[64] = "";
	if (*pending) {
		size_t bl = line.len - pl - 17;
		const char *mine = journal_boot_id();
		if (bl >= sizeof boot || !mine[0] || bl != strlen(mine) || memcmp(line.p + pl + 17, mine, bl) != 0)
			return true;   /* another boot's (or unknown): does not count */
		memcpy(boot, mine, bl + 1);
	}
	char h[16];
	hex16(seal_of(id, batch, *pending ? boot : NULL), h);
	*valid = memcmp(line.p + pl, h, 16) == 0;
	return true;
}

/* "#D <directory>": a directory a pending batch's delivery left unsynced (not an address:
 * an address line never starts with '#' followed by a space-separated word). */
#define JOURNAL_DIR_PREFIX "#D "
static bool dir_line(const char *p, size_t n)
{
	return n > 3 && memcmp(p, JOURNAL_DIR_PREFIX, 3) == 0;
}

static bool seal_line(const char *p, size_t n)
{
	size_t pl = strlen(JOURNAL_SEAL_PREFIX);
	return n >= pl + 16 && memcmp(p, JOURNAL_SEAL_PREFIX, pl) == 0;
}

size_t journal_parse(sv text, const char *id, void (*add)(void *ctx, sv address), void *ctx, bool *pending)
{
	if (pending)
		*pending = false;
	/* First pass: is there any seal line at all? */
	bool sealed = false;
	for (size_t off = 0; off < text.len && !sealed;) {
		const char *nl = memchr(text.p + off, '\n', text.len - off);
		size_t n = nl ? (size_t)(nl - (text.p + off)) : text.len - off;
		if (seal_line(text.p + off, n))
			sealed = true;
		off += n + (nl ? 1 : 0);
	}
	size_t count = 0;
	if (!sealed) {
		/* Exim's format: every line counts (a last line without its newline too, as in Exim),
		 * but only if none of them shows the file to be something else. */
		for (size_t off = 0; off < text.len;) {
			const char *nl = memchr(text.p + off, '\n', text.len - off);
			size_t n = nl ? (size_t)(nl - (text.p + off)) : text.len - off;
			if (n && !address_like(sv_make(text.p + off, n)))
				return 0;
			off += n + (nl ? 1 : 0);
		}
		for (size_t off = 0; off < text.len;) {
			const char *nl = memchr(text.p + off, '\n', text.len - off);
			size_t n = nl ? (size_t)(nl - (text.p + off)) : text.len - off;
			if (n) {
				add(ctx, sv_sub(text, off, n));
				count++;
			}
			off += n + (nl ? 1 : 0);
		}
		return count;
	}
	/* Sealed: a batch counts when the seal after it matches; lines after the last seal (or
	 * before a wrong one) do not. */
	size_t batch = 0;
	for (size_t off = 0; off < text.len;) {
		const char *nl = memchr(text.p + off, '\n', text.len - off);
		if (!nl)
			break;   /* an unfinished line: no seal can follow it */
		size_t n = (size_t)(nl - (text.p + off));
		bool valid = false, is_pending = false;
		if (is_seal(sv_make(text.p + off, n), id, sv_sub(text, batch, off - batch), &valid, &is_pending)) {
			if (valid && is_pending && pending)
				*pending = true;
			if (valid) {
				for (size_t b = batch; b < off;) {
					const char *e = memchr(text.p + b, '\n', off - b);
					size_t k = (size_t)(e - (text.p + b));
					if (k && !dir_line(text.p + b, k)) {
						add(ctx, sv_sub(text, b, k));
						count++;
					}
					b += k + 1;
				}
			}
			batch = off + n + 1;
		}
		off += n + 1;
	}
	return count;
}

void journal_seal_pending_dirs(xbuf *out, const char *const *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!dirs[i][0] || strchr(dirs[i], '\n'))
			continue;
		xbuf_puts(out, JOURNAL_DIR_PREFIX);
		xbuf_puts(out, dirs[i]);
		xbuf_putc(out, '\n');
	}
}

/* fsync one directory named by a "#D" line; false when that cannot be done. */
static bool sync_dir(const char *p, size_t n)
{
	char path[4096];
	if (n >= sizeof path)
		return false;
	memcpy(path, p, n);
	path[n] = 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

int journal_sync_pending(sv text, const char *id)
{
	/* Every valid pending batch's "#D" lines; a batch with none (written before directories
	 * were recorded) or a directory that cannot be synced: fall back to sync(). */
	bool need_sync = false, any = false;
	int synced = 0;
	size_t batch = 0;
	for (size_t off = 0; off < text.len && !need_sync;) {
		const char *nl = memchr(text.p + off, '\n', text.len - off);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (text.p + off));
		bool valid = false, is_pending = false;
		if (is_seal(sv_make(text.p + off, n), id, sv_sub(text, batch, off - batch), &valid, &is_pending)) {
			if (valid && is_pending) {
				bool named = false;
				for (size_t b = batch; b < off && !need_sync;) {
					const char *e = memchr(text.p + b, '\n', off - b);
					size_t k = (size_t)(e - (text.p + b));
					if (dir_line(text.p + b, k)) {
						named = true;
						if (sync_dir(text.p + b + 3, k - 3))
							synced++;
						else
							need_sync = true;
					}
					b += k + 1;
				}
				need_sync |= !named;
				any = true;
			}
			batch = off + n + 1;
		}
		off += n + 1;
	}
	if (need_sync || !any) {
		sync();
		return -1;
	}
	return synced;
}
