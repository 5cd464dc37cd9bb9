/* The line format shared by lsearch, wildlsearch, nwildlsearch and iplsearch:
 *   key: data            key ends at ':' or white space; "quoted keys" allow both
 *     continuation       lines starting with white space continue the data (one space joins)
 *   # comment            comment and empty lines are skipped between entries; as in Exim 4.96
 *                        (though not its documentation) they also end a continued entry
 * Lines are bounded (LSEARCH_MAX_LINE); longer ones make the lookup defer. */
#ifndef POSTERN_DRIVERS_LOOKUPS_LSEARCH_FILE_H
#define POSTERN_DRIVERS_LOOKUPS_LSEARCH_FILE_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/str.h"
#include "search/search.h"

#define LSEARCH_MAX_LINE (1024 * 1024)

/* Does the file's key match the lookup key? SEARCH_OK = yes, SEARCH_FAIL = no,
 * SEARCH_DEFER = stop with err set. */
typedef int (*lsearch_match_fn)(sv filekey, sv key, void *ctx, xbuf *err);

/* Scan f from the start for the first entry whose key matches; its data (or with ret_full the
 * de-quoted key followed by the rest of the line) goes to result. */
int lsearch_scan(FILE *f, sv key, lsearch_match_fn match, void *ctx, bool ret_full, xbuf *result,
	xbuf *err);

/* Shared open/close for the family: "failed to open X for linear search: <strerror>". */
void *lsearch_open(const char *filename, xbuf *errmsg);
void lsearch_close(void *handle);
/* The lookup_info.check of the family: a regular file, plus the optional mode/owner checks. */
bool lsearch_check(void *handle, const char *filename, int modemask, const uid_t *owners,
	const gid_t *owngroups, xbuf *errmsg);

/* Is ret=full among the comma-separated options? */
bool lsearch_opt_ret_full(const char *opts);

#endif
