/* -bf on a Sieve filter. Exim 4.96 prints only its verdict after the "Testing Sieve filter
 * file" line (observed; what the script would do shows only with -d): "Implicit keep", "No
 * implicit keep", or "Sieve error: <reason> in line <n>", and exits 0 in every case. Vacation
 * is allowed in test mode (there is no router to name a directory), enotify is not. */
#include <stdio.h>

#include "core/sieve.h"
#include "lib/debug.h"
#include "prog/bf.h"

int bf_test_sieve(sv text, const sieve_ctx *ctx, arena *a)
{
	sieve_options o = { .vacation = true, .enotify = false };
	sieve_program *p = sieve_parse(a, text, &o);
	filter_result res;
	sieve_run(p, ctx, a, &res);
	xbuf line;
	xbuf_init(&line, a);
	/* The actions are debugging output, as Exim's -d+filter shows them. */
	for (const filter_action *act = res.actions; act; act = act->next) {
		xbuf_reset(&line);
		filter_action_describe(act, &line);
		DEBUG(D_FILTER) debug_printf("%s\n", xbuf_cstr(&line));
	}
	switch (res.outcome) {
	case FILTER_ERROR:
		printf("Sieve error: %.*s\n", SV_ARG(res.error));
		break;
	case FILTER_NOT_DELIVERED:
		printf("Implicit keep\n");
		break;
	default:
		printf("No implicit keep\n");
		break;
	}
	return 0;
}
