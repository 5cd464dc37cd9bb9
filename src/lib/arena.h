/* Arenas: bump allocators whose memory is released all at once.
 *
 * Lifetimes mirror Exim's store pools. Each process has one arena per lifetime:
 *   pool_perm     until the process exits
 *   pool_config   the loaded configuration; made read-only (arena_protect) after load
 *   pool_conn     one SMTP connection
 *   pool_msg      one message
 *   pool_scratch  short work; callers take a mark and reset to it (an expansion, a lookup)
 *   pool_search   lookup results cached for the life of a message (search_tidyup resets it)
 *
 * Allocation never fails: out of memory aborts the process (after logging), because every caller
 * running out of memory mid-protocol has no better recovery than the process supervisor's.
 * Sizes are overflow-checked (arena_calloc). Memory is 16-byte aligned.
 */
#ifndef POSTERN_LIB_ARENA_H
#define POSTERN_LIB_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

/* A point to come back to: everything allocated after the mark is released by arena_reset. */
typedef struct arena_mark {
	void *block;
	size_t used;
} arena_mark;

arena *arena_new(const char *name);
void arena_free(arena *a);

void *arena_alloc(arena *a, size_t size);
void *arena_calloc(arena *a, size_t n, size_t size);
/* Grow the most recent allocation in place when possible, else copy. old may be NULL. */
void *arena_realloc(arena *a, void *old, size_t oldsize, size_t newsize);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
void *arena_memdup(arena *a, const void *p, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);

arena_mark arena_getmark(const arena *a);
void arena_reset(arena *a, arena_mark m);
void arena_clear(arena *a);           /* release everything */
void arena_protect(arena *a);         /* make every block read-only; further allocation aborts */
void arena_unprotect(arena *a);
size_t arena_bytes_in_use(const arena *a);
const char *arena_name(const arena *a);

extern arena *pool_perm, *pool_config, *pool_conn, *pool_msg, *pool_scratch, *pool_search;
void arena_init_pools(void);

#endif
