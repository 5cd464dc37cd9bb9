/* Sieve filters (RFC 5228) as Exim 4.96 implements them (Exim's filter document, chapter "Sieve
 * filter files"): the core language and the extensions Exim has: fileinto, copy, envelope,
 * subaddress, vacation, comparator-i;ascii-numeric, encoded-character and enotify (mailto).
 *
 * Two steps, like the Exim filter (core/filter.h). sieve_parse() reads the script into an
 * immutable tree, bounded in nesting and size. Exim interprets while it parses, so what it does
 * on a syntax error depends on where the error is: commands before it have run, and a "stop"
 * before it hides it. To behave the same, a syntax error does not reject the whole script: the
 * tree keeps what was parsed up to the error and marks the place; sieve_run() runs that tree and
 * reports the error when the run reaches the mark or ends without a "stop".
 *
 * sieve_run() produces the same action list as filter_run() (core/filter.h), so the redirect
 * router and -bf treat both languages alike:
 *   redirect       FA_DELIVER, arg = the address (always qualified); significant unless :copy
 *   keep/fileinto  FA_SAVE, arg = the folder ("inbox" for keep; relative names stay relative,
 *                  as Exim's: the file transport decides where they go); mode -1
 *   vacation       FA_MAIL with a filter_mail (to, from, subject, extra_headers, text, once,
 *                  once_repeat set; not significant)
 *   notify         FA_MAIL (mailto only), not significant
 * The implicit keep, when still in force at the end (and after an error, as RFC 5228 and Exim
 * want), is an FA_SAVE of "inbox". Outcomes: FILTER_NOT_DELIVERED "Implicit keep",
 * FILTER_DELIVERED "No implicit keep", FILTER_ERROR with error = "<reason> in line <n>".
 */
#ifndef POSTERN_CORE_SIEVE_H
#define POSTERN_CORE_SIEVE_H

#include <stdbool.h>

#include "core/filter.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/str.h"

enum {
	SIEVE_MAX_SCRIPT = 1 << 20,   /* bytes of script parsed */
	SIEVE_MAX_DEPTH = 32,         /* nesting of blocks and of tests */
	SIEVE_MAX_NODES = 20000,      /* commands + tests + strings in one script */
	SIEVE_MAX_STRING = 1 << 16,   /* one string (quoted or text:) */
};

typedef struct sieve_program sieve_program;

/* What the router enables (Exim: "vacation disabled" / "enotify disabled" otherwise). */
typedef struct sieve_options {
	bool vacation;                /* sieve_vacation_directory set (or testing with -bf) */
	bool enotify;                 /* sieve_enotify_mailto_owner set */
	/* Called when the script requires "vacation" (NULL: nothing to check). Exim 4.96 opens
	 * (and tidies) the vacation directory there: false makes the require a Sieve error,
	 * "unable to open vacation directory" (observed). */
	bool (*vacation_open)(void *ctx);
	void *vacation_ctx;
} sieve_options;

/* Parse text (which starts with "# Sieve filter"). Never NULL: a syntax error is kept inside. */
sieve_program *sieve_parse(arena *a, sv text, const sieve_options *o);
/* The syntax error, if any ("missing semicolon in line 3"); SV_NULL: none. */
sv sieve_parse_error(const sieve_program *p);

typedef struct sieve_ctx {
	xp_message *msg;              /* the headers tested */
	sv return_path;               /* envelope "from" ("" for a bounce) */
	sv local_part, domain;        /* the recipient (envelope "to"; vacation's own address) */
	sv prefix, suffix;            /* its affixes (part of envelope "to" :localpart) */
	sv useraddress;               /* sieve_useraddress (SV_NULL: the whole local part) */
	sv subaddress;                /* sieve_subaddress (SV_NULL: none) */
	sv vacation_directory;        /* where vacation keeps its once files (SV_NULL: none) */
	sv enotify_mailto_owner;      /* the From: of notifications */
	long long message_size;
} sieve_ctx;

/* Run the program for one message and recipient. Actions and strings are allocated in a. */
filter_outcome sieve_run(const sieve_program *p, const sieve_ctx *ctx, arena *a, filter_result *res);

#endif
