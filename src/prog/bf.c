/* Placeholder until address testing lands (owned by the filter helper). */
#include <stdio.h>

#include "prog/cmdline.h"

int bf_main(const cmdline *cl)
{
	fprintf(stderr, "%s: filter testing (-bf, -bF) is not built yet\n", cl->called_as);
	return 1;
}
