/* Sealed -J batches (journal_seal.h): writing the seal and reading a journal back. */
#include "core/journal_seal.h"

#include <stdint.h>
#include <string.h>

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

static uint64_t seal_of(const char *id, sv batch)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, id, strlen(id));
	h = fnv1a(h, "\n", 1);
	return fnv1a(h, batch.p, batch.len);
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
	hex16(seal_of(id, batch), h);
	xbuf_puts(out, JOURNAL_SEAL_PREFIX);
	xbuf_put(out, h, sizeof h);
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

static bool is_seal(sv line, const char *id, sv batch, bool *valid)
{
	size_t pl = strlen(JOURNAL_SEAL_PREFIX);
	if (line.len != pl + 16 || memcmp(line.p, JOURNAL_SEAL_PREFIX, pl) != 0)
		return false;
	char h[16];
	hex16(seal_of(id, batch), h);
	*valid = memcmp(line.p + pl, h, 16) == 0;
	return true;
}

size_t journal_parse(sv text, const char *id, void (*add)(void *ctx, sv address), void *ctx)
{
	/* First pass: is there any seal line at all? */
	bool sealed = false;
	for (size_t off = 0; off < text.len && !sealed;) {
		const char *nl = memchr(text.p + off, '\n', text.len - off);
		size_t n = nl ? (size_t)(nl - (text.p + off)) : text.len - off;
		size_t pl = strlen(JOURNAL_SEAL_PREFIX);
		if (n == pl + 16 && memcmp(text.p + off, JOURNAL_SEAL_PREFIX, pl) == 0)
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
		bool valid = false;
		if (is_seal(sv_make(text.p + off, n), id, sv_sub(text, batch, off - batch), &valid)) {
			if (valid) {
				for (size_t b = batch; b < off;) {
					const char *e = memchr(text.p + b, '\n', off - b);
					size_t k = (size_t)(e - (text.p + b));
					if (k) {
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
