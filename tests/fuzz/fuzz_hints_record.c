/* Fuzz the hints record decoders and printers (prog/hints_format.c, core/retry.c's codec): any
 * bytes as a record value of each database, and as a key. Database files can be damaged or
 * written by another version, and retry texts come from remote servers.
 *
 * Invariants: nothing crashes; a value that decodes as a retry record re-encodes to the same
 * bytes; printed output contains no raw control characters other than the layout's own newlines
 * and tab; wait-<t> ids are views inside the value and a decoded wait record re-encodes to one
 * with the same time stamp and sequence. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/retry.h"
#include "core/wait_records.h"
#include "fuzz_check.h"
#include "lib/arena.h"
#include "prog/hints_format.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool clean(const xbuf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->p[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		hints_time_utc(true);
		init = true;
	}
	arena *a = arena_new("fuzz");
	sv value = sv_make((const char *)data, size);
	size_t half = size / 2;
	sv key = sv_make((const char *)data, half);
	static const char *const dbs[] = { "retry", "ratelimit", "seen", "misc", "wait-t", "callout", "tls" };
	xbuf out;
	xbuf_init(&out, a);
	for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
		xbuf_reset(&out);
		hints_format_record(dbs[i], key, value, &out);
		CHECK(clean(&out));
		xbuf_reset(&out);
		hints_format_fields(dbs[i], value, &out);
		CHECK(clean(&out));
		(void)hints_record_time(dbs[i], value);
	}
	retry_record r;
	if (retry_record_decode(value, &r, a)) {
		xbuf re;
		xbuf_init(&re, a);
		retry_record_encode(&r, &re);
		CHECK(re.len == size && memcmp(re.p, data, size) == 0);
		xbuf nv;
		xbuf_init(&nv, a);
		(void)hints_modify_field("retry", value, (int)(size % 7), "2611210800", 1795261691, &nv);
	}
	/* wait-<t>: ids are views inside the value, and re-encoding decodes to the same record. */
	static wait_record w, w2;
	wait_record_decode(value, &w);
	CHECK(w.n <= WAIT_RECORD_IDS_MAX);
	for (size_t i = 0; i < w.n; i++)
		CHECK(w.ids[i].len > 0 && w.ids[i].p >= value.p && w.ids[i].p + w.ids[i].len <= value.p + value.len);
	xbuf we;
	xbuf_init(&we, a);
	wait_record_encode(&w, &we);
	wait_record_decode(xbuf_sv(&we), &w2);
	CHECK(w2.stamp == w.stamp && w2.sequence == w.sequence);
	sv id = hints_key_message_id(value);
	CHECK(id.len == 0 || id.len == 16);
	arena_free(a);
	return 0;
}
