/* Fuzz the expansion engine: any bytes as an expansion string, compiled once, evaluated twice.
 *
 * Every forbid flag is set (no ${run}, ${readfile}, ${readsocket}, ${lookup}, exists, perl,
 * dlfunc), and the link-time sandbox (fuzz_sandbox.h) refuses whatever else could reach the file
 * system or network (list items naming files, lookups inside lists, ${stat:}, $spool_space).
 * The configuration is the built-in default, so +local_domains and friends exist.
 *
 * Invariants: the result code is one of XP_OK/XP_FORCEFAIL/XP_ERROR (an error may have an empty
 * message: Exim 4.96 prints a bare "Failed: " for "${env"); no result exceeds the output bound; and a program that reads no clock, load or random source
 * gives the same code, text and taint when evaluated again in a fresh environment (compiled
 * programs are immutable and all state is in the environment). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"
#include "expand/expand.h"
#include "fuzz_check.h"
#include "fuzz_sandbox.h"
#include "lib/arena.h"
#include "search/search.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)
#define MAX_OUTPUT ((size_t)1 << 20)

static arena *A;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	arena_init_pools();
	A = arena_new("fuzz-expand");
	arena_alloc(A, 1); /* marks then fall inside a kept block */
	xbuf err;
	xbuf_init(&err, NULL);
	/* The sandbox hides every installed configuration, so this is the embedded default. */
	fuzz_sandbox_enter();
	bool ok = conf_load(NULL, NULL, 0, &err);
	fuzz_sandbox_leave();
	if (!ok) {
		fprintf(stderr, "fuzz_expand: default configuration failed: %s\n", xbuf_cstr(&err));
		abort();
	}
	xbuf_free(&err);
	return 0;
}

/* Sources whose value may change between two evaluations. */
static bool reads_changing_state(const uint8_t *data, size_t size)
{
	static const char *const words[] = { "tod", "randint", "load_average", "prvs", "time", "uptime" };
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (memmem(data, size, words[i], strlen(words[i])))
			return true;
	return false;
}

static int eval_once(const xp_prog *p, xbuf *out, xbuf *err)
{
	xp_env env;
	xp_env_init(&env, A);
	env.forbid = RDO_BLACKHOLE | RDO_DEFER | RDO_EXISTS | RDO_FAIL | RDO_FILTER | RDO_FREEZE |
		RDO_INCLUDE | RDO_LOG | RDO_LOOKUP | RDO_PERL | RDO_READFILE | RDO_READSOCK | RDO_RUN |
		RDO_DLFUNC;
	env.max_output = MAX_OUTPUT;
	int rc = xp_eval(p, &env, out, err);
	xp_env_release(&env);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	arena_mark mark = arena_getmark(A);
	fuzz_sandbox_enter();
	xp_prog *p = xp_compile(A, sv_make((const char *)data, size));
	CHECK(p != NULL);

	xbuf out1, err1, out2, err2;
	xbuf_init(&out1, A);
	xbuf_init(&err1, A);
	xbuf_init(&out2, A);
	xbuf_init(&err2, A);
	int rc1 = eval_once(p, &out1, &err1);
	CHECK(rc1 == XP_OK || rc1 == XP_FORCEFAIL || rc1 == XP_ERROR);
	CHECK(out1.len <= MAX_OUTPUT);

	if (!reads_changing_state(data, size)) {
		search_tidyup();
		int rc2 = eval_once(p, &out2, &err2);
		CHECK(rc2 == rc1);
		if (rc1 == XP_OK) {
			CHECK(sv_eq(xbuf_sv(&out1), xbuf_sv(&out2)));
			CHECK(out1.taint == out2.taint);
		} else {
			CHECK(sv_eq(xbuf_sv(&err1), xbuf_sv(&err2)));
		}
	}
	search_tidyup();
	fuzz_sandbox_leave();
	arena_reset(A, mark);
	return 0;
}
