/* Fuzz the Exim filter parser (src/core/filter_parse.c) and, for what parses, the interpreter
 * (filter_run.c) against a fixed message. Running expands strings, so this target is linked
 * with the sandbox; the environment also forbids run, readfile, readsocket, lookups, perl and
 * dlfunc, as a redirect router can.
 *
 * Invariants of the run: an error has a message; the "delivered" state is exactly "some action
 * is significant or was written with seen"; fail/freeze/defer is the last action; $n values stay
 * in int range. Invariants of the parser: parsing never crashes and is bounded; it is deterministic (a second parse gives
 * the same verdict and the same message); a failure always has a message; the whole-file check
 * for the "# Exim filter" line agrees with itself when the text is prefixed by blank lines; a
 * file that parses still parses with a comment line appended (comments never change meaning). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/filter.h"
#include "expand/message.h"
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
	arena_mark m = arena_getmark(pool_scratch);
	sv text = sv_make((const char *)data, size);
	bool system = size > 0 && (data[0] & 1);
	xbuf e1, e2;
	xbuf_init(&e1, pool_scratch);
	xbuf_init(&e2, pool_scratch);
	filter *f1 = filter_parse(pool_scratch, text, system, &e1);
	filter *f2 = filter_parse(pool_scratch, text, system, &e2);
	CHECK((f1 == NULL) == (f2 == NULL));
	if (!f1) {
		CHECK(e1.len > 0);
		CHECK(e1.len == e2.len && memcmp(e1.p, e2.p, e1.len) == 0);
	}

	xbuf padded;
	xbuf_init(&padded, pool_scratch);
	xbuf_puts(&padded, "\n  \n");
	xbuf_put(&padded, data, size);
	CHECK(filter_is_exim_filter(text) == filter_is_exim_filter(xbuf_sv(&padded)));

	if (f1 && memchr(data, '"', size) == NULL && memchr(data, '\\', size) == NULL) {
		/* Without quotes nothing can be open at the end; a final comment line is inert. */
		xbuf more;
		xbuf_init(&more, pool_scratch);
		xbuf_put(&more, data, size);
		xbuf_puts(&more, "\n# comment\n");
		xbuf e3;
		xbuf_init(&e3, pool_scratch);
		CHECK(filter_parse(pool_scratch, xbuf_sv(&more), system, &e3) != NULL);
	}
	if (f1) {
		static const char msgtext[] = "From: Alice <alice@example.org>\nTo: bob@test.example, "
			"c@x.example\nSubject: Hello\nPrecedence: list\n\nbody\n";
		xp_env env;
		xp_env_init(&env, pool_scratch);
		env.forbid = RDO_RUN | RDO_READFILE | RDO_READSOCK | RDO_LOOKUP | RDO_PERL | RDO_DLFUNC |
			RDO_EXISTS;
		env.max_output = 1 << 20;
		xp_message msg;
		xp_message_parse(pool_scratch, sv_make(msgtext, sizeof msgtext - 1), &msg);
		env.msg = &msg;
		filter_ctx ctx = { .env = &env, .msg = &msg, .local_part = SV_LIT("bob"),
			.domain = SV_LIT("test.example"), .first_delivery = true };
		filter_result res;
		filter_outcome out = filter_run(f1, &ctx, pool_scratch, &res);
		CHECK(out == res.outcome);
		if (out == FILTER_ERROR) {
			CHECK(res.error.len > 0);
		} else {
			bool sig = false;
			for (const filter_action *a = res.actions; a; a = a->next) {
				sig |= a->significant || a->seen;
				if (a->kind == FA_FAIL || a->kind == FA_FREEZE || a->kind == FA_DEFER)
					CHECK(a->next == NULL);
			}
			CHECK(sig == res.significant);
			CHECK((out == FILTER_DELIVERED) == (sig && res.tail &&
				res.tail->kind != FA_FAIL && res.tail->kind != FA_FREEZE && res.tail->kind != FA_DEFER));
		}
		for (int i = 0; i < 10; i++)
			CHECK(res.n[i] >= INT32_MIN && res.n[i] <= INT32_MAX);
		xp_env_release(&env);
	}
	arena_reset(pool_scratch, m);
	return 0;
}
