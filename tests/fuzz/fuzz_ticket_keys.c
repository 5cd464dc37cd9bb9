/* Fuzz the session-ticket key file parser (src/tls/tls_resume_keys.c) and the `tls` hints record
 * decoder (src/tls/tls_resume_client.c): any bytes as a key file, and as a stored record (hints
 * files can be damaged or written by another version).
 *
 * Invariants: nothing crashes; a parse succeeds exactly when a model in this file says the text
 * is lines of 160 hex digits (blanks around them, '#' comments and empty lines allowed) with
 * 1..max keys, and then the keys are those bytes; a decoded record re-encodes to the same bytes. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/arena.h"
#include "tls/tls_resume_db.h"
#include "tls/tls_resume_keys.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

enum { MAX = 4 };

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* The model: how many keys (and their bytes), or -1 when the text is not a valid key file. */
static int model(const uint8_t *p, size_t n, unsigned char out[MAX][80])
{
	int keys = 0;
	size_t pos = 0;
	while (pos < n) {
		size_t end = pos;
		while (end < n && p[end] != '\n') end++;
		size_t a = pos, b = end;
		while (a < b && isspace(p[a])) a++;
		while (b > a && isspace(p[b - 1])) b--;
		pos = end + 1;
		if (a == b || p[a] == '#') continue;
		if (b - a != 160 || keys == MAX) return -1;
		for (size_t i = 0; i < 80; i++) {
			int hi = hexval(p[a + 2 * i]), lo = hexval(p[a + 2 * i + 1]);
			if (hi < 0 || lo < 0) return -1;
			out[keys][i] = (unsigned char)(hi << 4 | lo);
		}
		keys++;
	}
	return keys ? keys : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	tls_ticket_key keys[MAX];
	size_t n = 0;
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = tls_ticket_keys_parse(sv_make((const char *)data, size), keys, MAX, &n, &err);
	static unsigned char want[MAX][80];
	int m = model(data, size, want);
	CHECK(ok == (m > 0));
	CHECK(ok ? err.len == 0 : err.len > 0);
	if (ok) {
		CHECK(n == (size_t)m);
		for (size_t i = 0; i < n; i++) {
			CHECK(memcmp(keys[i].name, want[i], 16) == 0);
			CHECK(memcmp(keys[i].aes, want[i] + 16, 32) == 0);
			CHECK(memcmp(keys[i].hmac, want[i] + 48, 32) == 0);
		}
	}
	xbuf_free(&err);

	time_t stored, expires;
	sv der;
	if (tls_resume_record_decode(sv_make((const char *)data, size), &stored, &expires, &der)) {
		CHECK(der.p >= (const char *)data && der.p + der.len == (const char *)data + size);
		xbuf re;
		xbuf_init(&re, NULL);
		tls_resume_record_encode(stored, expires, der, &re);
		CHECK(re.len == size && memcmp(re.p, data, size) == 0);
		xbuf_free(&re);
	}
	return 0;
}
