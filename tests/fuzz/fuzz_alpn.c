/* Fuzz tls/tls_alpn: the server's choice over a client's ALPN offer (untrusted wire bytes).
 *
 * Input: the offer as the client sends it. Invariants against a model written here: an offer is
 * accepted exactly when it is one well-formed name of the allowed list; the chosen name points
 * into the offer, inside its bounds; and the wire form of the allowed list round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/arena.h"
#include "tls/tls_alpn.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static const char *const allowed = "smtp : esmtp";

static bool model(const uint8_t *p, size_t n)
{
	if (n < 2 || p[0] == 0 || (size_t)p[0] + 1 != n) return false;
	return (n == 5 && memcmp(p + 1, "smtp", 4) == 0) || (n == 6 && memcmp(p + 1, "esmtp", 5) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	const unsigned char *sel = NULL;
	unsigned char sel_len = 0;
	bool ok = tls_alpn_choose(allowed, data, size, &sel, &sel_len);
	CHECK(ok == model(data, size));
	if (ok) {
		CHECK(sel == data + 1);
		CHECK((size_t)sel_len + 1 == size);
	}
	/* The input as a list of names: the wire form is each name with its length. */
	xbuf w;
	xbuf_init(&w, NULL);
	char *text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = 0;
		if (tls_alpn_wire(text, &w)) {
			size_t off = 0;
			while (off < w.len) {
				size_t n = (unsigned char)w.p[off];
				CHECK(n > 0 && off + 1 + n <= w.len);
				off += 1 + n;
			}
			CHECK(off == w.len);
		}
		free(text);
	}
	xbuf_free(&w);
	return 0;
}
