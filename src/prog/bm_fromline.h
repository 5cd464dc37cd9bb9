/* The UUCP "From " line at the start of a locally submitted message (Exim "The UUCP From
 * line"): recognised by uucp_from_pattern, removed from the message, and for a trusted caller
 * who gave no -f the source of the envelope sender (uucp_from_sender, default "$1"). */
#ifndef POSTERN_PROG_BM_FROMLINE_H
#define POSTERN_PROG_BM_FROMLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "expand/expand.h"
#include "lib/str.h"

/* Longest first line looked at. */
#define BM_FROMLINE_MAX 1024

/* p..n holds the start of the input (up to and including the first newline when there is one
 * within BM_FROMLINE_MAX bytes). Returns the length of a matching From line including its line
 * end (0: none); sets *sender to the expanded uucp_from_sender (with $1.. from the match) when
 * sender is not NULL. */
size_t bm_uucp_from_line(const char *p, size_t n, xp_env *env, xbuf *sender);

#endif
