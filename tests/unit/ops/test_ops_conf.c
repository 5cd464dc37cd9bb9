/* Operator rows that depend on the configuration (named lists, headers_charset,
 * print_topbitchars, check_rfc2047_length): ops_conf.conf is loaded, then ops_conf_cases.tsv is
 * checked (recorded with `CASES=ops_conf_cases CONF=ops_conf.conf record_ops.sh`). */
#include "conf/conf.h"
#include "lib/arena.h"
#include "ops_table.h"

int main(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	arena_init_pools();
	bool loaded = conf_load("ops_conf.conf", NULL, 0, &err);
	CHECK(loaded);
	if (!loaded)
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
	else
		CHECK(run_table("ops_conf_cases.tsv") > 20);
	xbuf_free(&err);
	return unit_report("test_ops_conf");
}
