/* Running a user's filter under the user's uid (redirect_filter_user.c). */
#ifndef POSTERN_DRIVERS_ROUTERS_REDIRECT_FILTER_USER_H
#define POSTERN_DRIVERS_ROUTERS_REDIRECT_FILTER_USER_H

#include <stdbool.h>

#include "core/addr.h"
#include "core/filter.h"
#include "core/filter_child.h"
#include "lib/arena.h"

/* Interprets the filter and fills res (allocated in a). */
typedef filter_child_fn rf_interpret_fn;

/* Must the filter of a run in a child: the router set a uid other than root's and this process
 * is root (otherwise it runs where it is, as before). */
bool rf_needs_user(const address_item *a);

/* Run fn in a child as a's uid/gid (supplementary groups: just the gid) and take its result.
 * false: the child failed; why says how (Exim's "failure to transfer data from subprocess"). */
bool rf_interpret_as_user(const address_item *a, rf_interpret_fn fn, void *ctx, arena *ar,
	filter_result *res, const char **why);

#endif
