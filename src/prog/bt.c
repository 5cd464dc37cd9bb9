/* Placeholder until address testing lands (owned by the routing helper). */
#include <stdio.h>

#include "prog/cmdline.h"

int bt_main(const cmdline *cl)
{
	fprintf(stderr, "%s: address testing (-bt, -bv) is not built yet\n", cl->called_as);
	return 1;
}
