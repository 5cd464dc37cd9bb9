/* postern: the Exim-compatible mail transfer agent. Dispatches on the command line. */
#include <stdio.h>

#include "lib/arena.h"
#include "prog/cmdline.h"

int main(int argc, char **argv)
{
	arena_init_pools();
	cmdline cl;
	char err[512];
	if (!cmdline_parse(argc, argv, &cl, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	switch (cl.mode) {
	case MODE_BV:
		return bV_main(&cl);
	case MODE_BP:
		return bP_main(&cl);
	case MODE_BE:
	case MODE_BEM:
		return be_main(&cl);
	case MODE_NONE:
		break;
	}
	fprintf(stderr, "%s: no mode given (this build implements -bV, -bP, -be, -bem)\n", cl.called_as);
	return 1;
}
