/* -bf / -bF helpers (prog/bf.c, prog/bf_forward.c). */
#ifndef POSTERN_PROG_BF_H
#define POSTERN_PROG_BF_H

#include "lib/arena.h"
#include "lib/str.h"

/* Test a traditional .forward file: print what it generates, Exim's way. Returns the exit
 * status. Unqualified addresses get @qualify, unqualified "\\local" items @domain (observed). */
int bf_test_forward(sv text, sv qualify, sv domain, arena *a);

#endif
