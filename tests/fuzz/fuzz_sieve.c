/* Fuzz the Sieve lexer and parser (src/core/sieve_lex.c, sieve_parse.c) and, for every script,
 * the interpreter (sieve_run.c, sieve_test.c) against a fixed message. Nothing here reaches files,
 * processes or the network (vacation only names its once file), so no sandbox is needed.
 *
 * Invariants: parsing is deterministic (the same verdict and error text twice) and bounded; an
 * error text ends with " in line <n>"; a run's outcome is the one it returns; an error or an
 * implicit keep ends the action list with a significant save to "inbox"; redirect addresses are
 * qualified, fileinto folders are non-empty and free of ".."; a script that parses cleanly still
 * does with a comment line appended. The matcher: ":matches *" and ":contains \"\"" match any
 * value, ":is" matches a value against itself under every comparator. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/sieve_internal.h"
#include "expand/message.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool ends_with_line(sv e)
{
	size_t i = e.len;
	while (i > 0 && e.p[i - 1] >= '0' && e.p[i - 1] <= '9')
		i--;
	return i < e.len && i >= 9 && memcmp(e.p + i - 9, " in line ", 9) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	arena_mark m = arena_getmark(pool_scratch);
	sv text = sv_make((const char *)data, size);
	sieve_options o = { .vacation = size > 0 && (data[0] & 1), .enotify = size > 0 && (data[0] & 2) };
	sieve_program *p1 = sieve_parse(pool_scratch, text, &o);
	sieve_program *p2 = sieve_parse(pool_scratch, text, &o);
	sv e1 = sieve_parse_error(p1), e2 = sieve_parse_error(p2);
	CHECK(sv_is_null(e1) == sv_is_null(e2));
	if (!sv_is_null(e1)) {
		CHECK(sv_eq(e1, e2));
		CHECK(ends_with_line(e1));
	} else {
		xbuf more;
		xbuf_init(&more, pool_scratch);
		xbuf_put(&more, data, size);
		xbuf_puts(&more, "\n# comment\n");
		CHECK(sv_is_null(sieve_parse_error(sieve_parse(pool_scratch, xbuf_sv(&more), &o))));
	}

	static const char msgtext[] = "From: Alice <alice+x@example.org>\nTo: bob@test.example, "
		"c@x.example\nSubject: =?utf-8?Q?Caf=C3=A9?= hello\nX-N: 0042\n\nbody\n";
	xp_message msg;
	xp_message_parse(pool_scratch, sv_make(msgtext, sizeof msgtext - 1), &msg);
	sieve_ctx ctx = { .msg = &msg, .return_path = SV_LIT("alice@example.org"), .local_part = SV_LIT("bob"),
		.domain = SV_LIT("test.example"), .vacation_directory = SV_LIT("/nonexistent/vac"),
		.enotify_mailto_owner = SV_LIT("owner@test.example"), .message_size = 1234 };
	filter_result res;
	filter_outcome out = sieve_run(p1, &ctx, pool_scratch, &res);
	CHECK(out == res.outcome);
	CHECK(out == FILTER_ERROR || out == FILTER_DELIVERED || out == FILTER_NOT_DELIVERED);
	if (out == FILTER_ERROR)
		CHECK(ends_with_line(res.error));
	if (out != FILTER_DELIVERED) {
		CHECK(res.tail && res.tail->kind == FA_SAVE && res.tail->significant);
		CHECK(sv_eq_cstr(res.tail->arg, "inbox"));
	}
	for (const filter_action *a = res.actions; a; a = a->next) {
		if (a->kind == FA_DELIVER)
			CHECK(memchr(a->arg.p, '@', a->arg.len) != NULL);
		if (a->kind == FA_SAVE) {
			CHECK(a->arg.len > 0);
			for (size_t i = 0; i + 1 < a->arg.len; i++)
				CHECK(!(a->arg.p[i] == '.' && a->arg.p[i + 1] == '.'));
		}
		if (a->kind == FA_MAIL)
			CHECK(a->mail != NULL && !a->significant);
	}

	/* The matcher on the input split in two at its first NUL (or the middle). */
	const uint8_t *nul = memchr(data, 0, size);
	size_t cut = nul ? (size_t)(nul - data) : size / 2;
	sv v = sv_make((const char *)data, cut);
	sv k = sv_make((const char *)data + (nul ? cut + 1 : cut), size - cut - (nul ? 1 : 0));
	CHECK(sieve_match(SCMP_OCTET, SM_MATCHES, v, SV_LIT("*")));
	CHECK(sieve_match(SCMP_CASEMAP, SM_CONTAINS, v, SV_LIT("")));
	for (int c = SCMP_OCTET; c <= SCMP_NUMERIC; c++)
		CHECK(sieve_match((scomparator)c, SM_IS, v, v));
	if (sieve_match(SCMP_OCTET, SM_IS, v, k))
		CHECK(sieve_match(SCMP_CASEMAP, SM_IS, v, k) && sieve_match(SCMP_OCTET, SM_CONTAINS, v, k));
	(void)sieve_match(SCMP_CASEMAP, SM_MATCHES, v, k);
	arena_reset(pool_scratch, m);
	return 0;
}
