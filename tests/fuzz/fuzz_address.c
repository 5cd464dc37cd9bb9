/* Fuzz the RFC 5322 address parser (src/mail/address.h) as ${addresses:} drives it: the input is
 * split with addr_next_item and each item extracted with addr_extract, with and without group
 * syntax.
 *
 * Invariants: the splitter always makes progress and its items are pieces of the input; a
 * successful extraction appends exactly "local[@domain]" with local_len and has_domain telling
 * the truth, and nothing for an empty item; a failed one leaves the output untouched and gives a
 * reason; and extraction is idempotent: an extracted address, parsed again, gives itself. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "mail/address.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sv list = sv_make((const char *)data, size);
	xbuf out, again;
	xbuf_init(&out, NULL);
	xbuf_init(&again, NULL);

	for (int use_groups = 0; use_groups < 2; use_groups++) {
		addr_group_state groups = { .allow = use_groups, .in_group = false };
		size_t pos = 0, prev = 0, count = 0;
		sv item;
		while (addr_next_item(list, &pos, &item)) {
			CHECK(count == 0 || pos > prev);
			CHECK(pos <= size + 1);
			CHECK(item.len == 0 || (item.p >= list.p && item.p + item.len <= list.p + size));
			CHECK(++count <= size + 1);
			prev = pos;

			xbuf_reset(&out);
			xbuf_putc(&out, '#'); /* something already there, which must survive */
			addr_parsed info = { .local_len = 99, .has_domain = true, .empty = true, .route_literal = true };
			const char *why = NULL;
			bool ok = addr_extract(item, use_groups ? &groups : NULL, &out, &info, &why);
			CHECK(out.p[0] == '#');
			if (!ok) {
				CHECK(out.len == 1);
				CHECK(why != NULL && *why);
				continue;
			}
			sv got = sv_sub(xbuf_sv(&out), 1, out.len - 1);
			if (info.empty) {
				CHECK(got.len == 0);
				continue;
			}
			CHECK(info.local_len <= got.len);
			if (info.has_domain)
				CHECK(info.local_len < got.len && got.p[info.local_len] == '@');
			else
				CHECK(info.local_len == got.len);

			/* Idempotence (no groups: the output is a plain addr-spec). */
			xbuf_reset(&again);
			addr_parsed info2;
			const char *why2 = NULL;
			CHECK(addr_extract(got, NULL, &again, &info2, &why2));
			CHECK(!info2.empty && sv_eq(xbuf_sv(&again), got));
			CHECK(info2.local_len == info.local_len && info2.has_domain == info.has_domain);
		}
	}
	xbuf_free(&out);
	xbuf_free(&again);
	return 0;
}
