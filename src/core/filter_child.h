/* Interpreting a filter in a child process that has given up root for a user (the system filter
 * under system_filter_user, a user's .forward filter under the router's uid): the child runs the
 * interpretation and hands the filter_result back in bytes (filter_wire.c); the answer is
 * bounded in size and time. */
#ifndef POSTERN_CORE_FILTER_CHILD_H
#define POSTERN_CORE_FILTER_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/filter.h"
#include "lib/arena.h"

/* Interprets the filter in the child and fills res (allocated in a). */
typedef void (*filter_child_fn)(void *ctx, arena *a, filter_result *res);

typedef enum {
	FCHILD_OK,
	FCHILD_PIPE,       /* pipe() failed (errno in detail) */
	FCHILD_FORK,       /* fork() failed (errno in detail) */
	FCHILD_SETID,      /* the child could not become uid/gid */
	FCHILD_STATUS,     /* the child failed otherwise (wait status in detail) */
	FCHILD_TOO_BIG,    /* its answer was larger than max_result (the child is killed) */
	FCHILD_TIMEOUT,    /* no complete answer within timeout_ms (the child is killed) */
	FCHILD_MALFORMED,  /* its answer did not decode */
} filter_child_status;

typedef struct filter_child_opts {
	uid_t uid;
	gid_t gid;
	bool gid_as_group;   /* supplementary groups: just gid (else none) */
	size_t max_result;
	int timeout_ms;
} filter_child_opts;

/* Run fn(ctx) in a child as o->uid/o->gid and take its result into res (allocated in a).
 * detail: errno for FCHILD_PIPE/FORK, the wait status for FCHILD_STATUS, else 0. */
filter_child_status filter_child_run(const filter_child_opts *o, filter_child_fn fn, void *ctx, arena *a,
	filter_result *res, int *detail);

#endif
