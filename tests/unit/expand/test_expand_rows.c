/* Table-driven checks of items, conditions and operators through the engine: every row's
 * expected text was recorded from Exim 4.96 `-be` (see gen_rows.py). The result is compared the
 * way -be prints it: the expansion, or "Failed: <message>". */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "expand/expand.h"
#include "tests/unit/unit.h"

static const struct row {
	const char *expr, *want;
} rows[] = {
#include "rows.h"
};

/* Replace every @D@ with dir. */
static char *subst(const char *s, const char *dir)
{
	xbuf b;
	xbuf_init(&b, NULL);
	for (const char *p = s; *p;) {
		if (!strncmp(p, "@D@", 3)) {
			xbuf_puts(&b, dir);
			p += 3;
		} else {
			xbuf_putc(&b, *p++);
		}
	}
	return b.p ? b.p : strdup("");
}

int main(void)
{
	arena_init_pools();
	/* Exim runs -be with an emptied environment; ${env} rows expect that. */
	clearenv();
	char cwd[4096], dir[4200];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	snprintf(dir, sizeof dir, "%s/data", cwd);
	int failed_before = unit_failed;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xp_env env;
		xp_env_init(&env, pool_scratch);
		char *expr = subst(rows[i].expr, dir), *want = subst(rows[i].want, dir);
		xbuf out, err, got;
		xbuf_init(&out, pool_scratch);
		xbuf_init(&err, pool_scratch);
		xbuf_init(&got, pool_scratch);
		int rc = xp_expand(&env, sv_cstr(expr), &out, &err);
		if (rc == XP_OK)
			xbuf_putsv(&got, xbuf_sv(&out));
		else
			xbuf_printf(&got, "Failed: %s", xbuf_cstr(&err));
		if (strcmp(xbuf_cstr(&got), want) != 0)
			fprintf(stderr, "row %zu: %s\n", i + 1, rows[i].expr);
		CHECK_STR(xbuf_cstr(&got), want);
		xp_env_release(&env);
		free(expr);
		free(want);
		arena_clear(pool_scratch);
	}
	printf("%zu rows, %d failed\n", sizeof rows / sizeof rows[0], unit_failed - failed_before);
	return unit_report("test_expand_rows");
}
