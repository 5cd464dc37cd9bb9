/* The caller's full name from the gecos field (gecos_pattern / gecos_name), cases observed with
 * Exim 4.96 -bm by a user whose gecos is "PostgreSQL administrator,,,". */
#include "lib/arena.h"
#include "prog/bm_gecos.h"
#include "../unit.h"

int main(void)
{
	arena *a = arena_new("test");
	static const struct { const char *gecos, *login, *pattern, *name, *want; } cases[] = {
		{ "PostgreSQL administrator,,,", "postgres", NULL, NULL, "PostgreSQL administrator,,," },
		{ "PostgreSQL administrator,,,", "postgres", "^([^,:]*)", NULL, "PostgreSQL administrator,,," },
		{ "PostgreSQL administrator,,,", "postgres", "^([^,:]*)", "<$1>", "<PostgreSQL administrator>" },
		{ "PostgreSQL administrator,,,", "postgres", "^nomatch(.*)", "<$1>", "PostgreSQL administrator,,," },
		/* '&' is the login with a capital, before the pattern sees the field */
		{ "& Smith,room 1", "john", NULL, NULL, "John Smith,room 1" },
		{ "& Smith,room 1", "john", "^([^,]*),(.*)", "$2: $1", "room 1: John Smith" },
		{ "", "x", "^(.*)$", "[$1]", "[]" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(bm_gecos_name(a, cases[i].gecos, cases[i].login, cases[i].pattern, cases[i].name), cases[i].want);
	return unit_report("gecos");
}
