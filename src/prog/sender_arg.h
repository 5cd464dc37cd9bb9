/* The -f (and -r) argument of the sendmail interface, read as Exim 4.96 reads it.
 *
 * Observed: "" and "<>" (white space around it too) are the null sender; otherwise the
 * argument is one address in the address syntax of SMTP commands and header lines (a phrase and
 * comments allowed, "Name <a@b>" is a@b), UTF-8 domains allowed (then marked SMTPUTF8 by the
 * caller), a domain literal only with allow_domain_literals, a dot ending the domain only with
 * strip_trailing_dot (and then dropped); an unqualified local part gets qualify_domain. Refusals
 * go to stderr only (no log line), as
 *
 *   exim: bad -f address "<argument>": <reason>
 *
 * with the address parser's reasons ("missing or malformed local part (expected word or \"<\")",
 * "domain missing or malformed", "malformed address: x may not follow a@b", "empty address",
 * "invalid UTF-8 byte sequence", ...) and, for an argument ending in a dot, the parsed address
 * with that dot in the quotes: 'bad -f address "a@b.": domain is malformed (trailing dot not
 * allowed)'.
 */
#ifndef POSTERN_PROG_SENDER_ARG_H
#define POSTERN_PROG_SENDER_ARG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"

/* Exim judges the argument twice (observed): its syntax where -f stands on the command line
 * (before a later unknown option is reported), and what depends on the configuration
 * (allow_domain_literals, strip_trailing_dot) once that is read, in every mode (-bp, -q, -bh,
 * -bP, -M ...; after the "purging the environment" warning; with -bV after the version lines).
 *
 * The syntax: false with Exim's refusal line (without newline) in msg. */
bool sender_arg_syntax_ok(const char *given, char *msg, size_t msglen);

/* The sender ("" for the null sender), qualified, in a; NULL after writing the refusal to
 * stderr. */
const char *sender_arg_parse(arena *a, const char *given, const char *qualify_domain);

#endif
