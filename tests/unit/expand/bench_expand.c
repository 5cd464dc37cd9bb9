/* Throughput of the expansion engine on a mix of typical configuration strings: both
 * compile-every-time (xp_expand) and compile-once/evaluate-many (xp_eval). Not a test; run by
 * hand: build/tests/unit/expand/bench_expand [seconds-per-case] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expand/expand.h"

static const char *const mix[] = {
	"${if eq{$local_part}{postmaster}{yes}{no}}",
	"${lc:${extract{2}{:}{a:B:c}}}",
	"${if and{{match{abc.example.com}{\\N^[a-z]+\\.example\\.com$\\N}}{!eq{a}{b}}}{ok}{bad}}",
	"${map{a:b:c:d}{<$item>}}",
	"${sg{the quick brown fox}{o}{0}}",
	"${if forany{a:b:c}{eq{$item}{c}}{found}}",
	"${tr{hello}{el}{ip}}${length{3}{abcdef}}",
	"$qualify_domain ${substr{1}{3}{abcdefg}} ${if >{10}{9}{gt}}",
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	arena_init_pools();
	size_t n = sizeof mix / sizeof mix[0];
	xp_prog *progs[sizeof mix / sizeof mix[0]];
	arena *perm = arena_new("bench-programs");
	for (size_t i = 0; i < n; i++)
		progs[i] = xp_compile(perm, sv_cstr(mix[i]));
	/* argv[2] = "eval" or "compile" runs one mode only. */
	int first = argc > 2 && !strcmp(argv[2], "eval") ? 1 : 0;
	int last = argc > 2 && !strcmp(argv[2], "compile") ? 0 : 1;
	for (int mode = first; mode <= last; mode++) {
		/* Start each mode on an empty arena and take marks inside a block: arena_reset unmaps
		 * the blocks after a mark, so a mark near a block's end would map and unmap a block for
		 * every expansion and measure the kernel instead of the engine. */
		arena_clear(pool_scratch);
		xp_env env;
		xp_env_init(&env, pool_scratch);
		(void)arena_alloc(pool_scratch, 16);
		long long count = 0;
		double t0 = now(), t;
		do {
			for (int rep = 0; rep < 100; rep++) {
				for (size_t i = 0; i < n; i++) {
					arena_mark m = arena_getmark(pool_scratch);
					xbuf out, err;
					xbuf_init(&out, pool_scratch);
					xbuf_init(&err, pool_scratch);
					int rc = mode == 0 ? xp_expand(&env, sv_cstr(mix[i]), &out, &err)
							   : xp_eval(progs[i], &env, &out, &err);
					if (rc != XP_OK) {
						fprintf(stderr, "%s: %s\n", mix[i], xbuf_cstr(&err));
						return 1;
					}
					arena_reset(pool_scratch, m);
					count++;
				}
			}
			t = now() - t0;
		} while (t < secs);
		printf("%s: %.0f expansions/second (%lld in %.2fs, mix of %zu strings)\n",
			mode == 0 ? "compile+evaluate" : "evaluate precompiled", count / t, count, t, n);
		xp_env_release(&env);
	}
	return 0;
}
