/* -bf / -bF helpers (prog/bf.c, prog/bf_forward.c). */
#ifndef POSTERN_PROG_BF_H
#define POSTERN_PROG_BF_H

#include "lib/arena.h"
#include "lib/str.h"

/* Test a traditional .forward file: print what it generates, Exim's way. Returns the exit
 * status. Unqualified addresses get @qualify, unqualified "\\local" items @domain (observed). */
int bf_test_forward(sv text, sv qualify, sv domain, arena *a);

/* Test a Sieve filter: print Exim's one-line verdict ("Implicit keep", "No implicit keep" or
 * "Sieve error: ..."). Exim exits 0 even after an error; so does this. (bf_sieve.c) */
struct sieve_ctx;
int bf_test_sieve(sv text, const struct sieve_ctx *ctx, arena *a);

#endif
