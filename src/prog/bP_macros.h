/* -bP macros in Exim 4.96's order (see bP_macros.c). */
#ifndef POSTERN_PROG_BP_MACROS_H
#define POSTERN_PROG_BP_MACROS_H

#include "conf/conf_dump.h"

/* Calls emit for every macro: builtins in the order Exim prints them, then the configuration's
 * and -D macros in definition order. */
void bp_macros_in_exim_order(void (*emit)(void *ctx, const conf_macro *m), void *ctx);

#endif
