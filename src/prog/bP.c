/* Placeholder while this session's helpers build the real mode; replaced before landing. */
#include <stdio.h>
#include "prog/cmdline.h"
int bP_main(const cmdline *cl) { (void)cl; fprintf(stderr, "not built yet\n"); return 1; }
