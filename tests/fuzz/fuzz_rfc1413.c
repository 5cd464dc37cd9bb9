/* Fuzz src/smtp/rfc1413: the ident reply parser (bytes from the client's identd).
 *
 * Invariants: an accepted reply names a non-empty user id lying inside the input and before
 * its first newline, not starting with a blank, with no NUL or newline in it; the stored form
 * is printable (no control bytes other than tab), at most 4 bytes per input byte of the
 * 127-byte cut, and tainted. The ports are taken from the input's first bytes so that matching
 * replies are reachable. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/arena.h"
#include "smtp/rfc1413.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	if (size < 4)
		return 0;
	int cport = data[0] | (data[1] << 8), sport = data[2] | (data[3] << 8);
	sv reply = { (const char *)data + 4, size - 4, 1, 0 };
	sv user = SV_NULL;
	if (!rfc1413_parse(reply, cport, sport, &user))
		return 0;
	const char *nl = memchr(reply.p, '\n', reply.len);
	CHECK(nl != NULL);
	CHECK(user.len > 0 && user.p >= reply.p && user.p + user.len <= nl);
	CHECK(user.p[0] != ' ' && user.p[0] != '\t');
	CHECK(memchr(user.p, '\0', user.len) == NULL && memchr(user.p, '\n', user.len) == NULL);
	CHECK(memchr(reply.p, '\0', (size_t)(nl - reply.p)) == NULL);
	sv p = rfc1413_printable(pool_scratch, user, data[0] & 1);
	CHECK(p.taint);
	size_t cut = user.len < RFC1413_USER_MAX ? user.len : RFC1413_USER_MAX;
	CHECK(p.len >= cut && p.len <= 4 * cut);
	for (size_t i = 0; i < p.len; i++)
		CHECK((unsigned char)p.p[i] >= 0x20 || p.p[i] == '\t');
	arena_clear(pool_scratch);
	return 0;
}
