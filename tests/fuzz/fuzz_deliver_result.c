/* Fuzz src/core/deliver_result.c: the records a transport child sends to the delivery process.
 *
 * Invariants: decoding arbitrary bytes never reads outside them; an address marked as reported
 * has a final result; an address not marked keeps its pending result; re-encoding every
 * reported address and decoding that again gives the same results. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/deliver_internal.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	arena_mark mk = arena_getmark(pool_msg);
	enum { N = 3 };
	address_item *addrs[N];
	bool got[N] = { false, false, false };
	for (int i = 0; i < N; i++) {
		addrs[i] = arena_calloc(pool_msg, 1, sizeof *addrs[i]);
		addrs[i]->host_used_mx = -1;
	}
	xbuf err;
	xbuf_init(&err, pool_msg);
	dres_decode(pool_msg, data, size, addrs, got, N, &err);
	xbuf again;
	xbuf_init(&again, pool_msg);
	for (int i = 0; i < N; i++) {
		if (got[i]) {
			CHECK(addrs[i]->result == ADDR_OK || addrs[i]->result == ADDR_DEFER
				|| addrs[i]->result == ADDR_FAIL || addrs[i]->result == ADDR_PANIC);
			dres_encode(&again, (uint32_t)i, addrs[i]);
		} else {
			CHECK(addrs[i]->result == ADDR_PENDING);
		}
	}
	address_item *copy[N];
	bool got2[N] = { false, false, false };
	for (int i = 0; i < N; i++) {
		copy[i] = arena_calloc(pool_msg, 1, sizeof *copy[i]);
		copy[i]->host_used_mx = -1;
	}
	CHECK(dres_decode(pool_msg, again.p ? again.p : "", again.len, copy, got2, N, &err));
	for (int i = 0; i < N; i++) {
		CHECK(got2[i] == got[i]);
		if (got[i]) {
			CHECK(copy[i]->result == addrs[i]->result);
			CHECK(copy[i]->basic_errno == addrs[i]->basic_errno);
			CHECK(sv_eq(copy[i]->message, addrs[i]->message));
		}
	}
	arena_reset(pool_msg, mk);
	return 0;
}
