/* Placeholder until the mode lands (owned by the helper building it). */
#include <stdio.h>

#include "prog/cmdline.h"

int bp_main(const cmdline *cl)
{
	fprintf(stderr, "%s: this mode is not built yet\n", cl->called_as);
	return 1;
}
