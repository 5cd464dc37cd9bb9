/* Placeholder; replaced before landing. */
#include <stdio.h>
#include "prog/cmdline.h"
int bV_main(const cmdline *cl) { (void)cl; printf("Postern\n"); return 0; }
