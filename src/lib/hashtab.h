/* String-keyed hash table in an arena, iterated in insertion order.
 *
 * Used for macros, named lists and lookup caches: keys are copied into the table's arena (with
 * their taint), values are caller pointers. A table made with HASHTAB_NOCASE compares keys
 * ASCII-case-insensitively and keeps each key as first inserted.
 *
 * Iteration visits live entries in the order they were first inserted; replacing a value keeps
 * the entry's place, removing and re-adding moves it to the end. Modifying the table during an
 * iteration is allowed only through hashtab_put of an existing key.
 *
 * All memory comes from the arena given to hashtab_new; resetting that arena past the table's
 * creation destroys it. Growth leaves the old arrays in the arena until it is reset (the arena
 * cannot free), so a table that churns many removals belongs in a short-lived arena.
 */
#ifndef POSTERN_LIB_HASHTAB_H
#define POSTERN_LIB_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

typedef struct hashtab hashtab;

enum { HASHTAB_CASE = 0, HASHTAB_NOCASE = 1 };

hashtab *hashtab_new(arena *a, int flags);
/* Value stored under key, or NULL when absent (store non-NULL values, or use hashtab_find). */
void *hashtab_get(const hashtab *h, sv key);
bool hashtab_find(const hashtab *h, sv key, void **val);
/* The stored key (the first-inserted spelling for a NOCASE table), or SV_NULL when absent. */
sv hashtab_key(const hashtab *h, sv key);
/* Insert or replace. true when the key was new. */
bool hashtab_put(hashtab *h, sv key, void *val);
/* Insert only when absent: false (and no change) when the key is already there. */
bool hashtab_add(hashtab *h, sv key, void *val);
bool hashtab_remove(hashtab *h, sv key);
size_t hashtab_count(const hashtab *h);
void hashtab_clear(hashtab *h);

typedef struct hashtab_iter {
	const hashtab *h;
	size_t next;
} hashtab_iter;

void hashtab_iter_init(hashtab_iter *it, const hashtab *h);
/* Next live entry; key and val may be NULL. false at the end. */
bool hashtab_next(hashtab_iter *it, sv *key, void **val);

#endif
