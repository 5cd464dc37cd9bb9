/* Operator table without configuration: ops_cases.tsv (see ops_table.h, record_ops.sh). */
#include "ops_table.h"

int main(void)
{
	CHECK(run_table("ops_cases.tsv") > 400);
	return unit_report("test_ops_table");
}
