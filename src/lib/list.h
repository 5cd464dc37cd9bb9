/* Exim lists: items separated by ':' (or the character after a leading '<', e.g. "<; a;b"),
 * a doubled separator stands for one literal separator character, and whitespace around items is
 * dropped. Taint of the list carries to every item. */
#ifndef POSTERN_LIB_LIST_H
#define POSTERN_LIB_LIST_H

#include <stdbool.h>

#include "lib/str.h"

typedef struct list_iter {
	sv rest;  /* unread part of the list */
	int sep;  /* separator in force, decided at the first list_next */
	int want; /* as given to list_iter_init */
} list_iter;

/* sep: 0 = ':' unless the list starts with "<c"; > 0 = exactly that character (no "<c");
 * < 0 = -sep unless the list starts with "<c". */
void list_iter_init(list_iter *it, sv list, int sep);
/* Next item into *item (reset first). false at the end of the list. */
bool list_next(list_iter *it, xbuf *item);
/* The separator a list uses (after its "<c" prefix, if any). */
int list_separator(sv list, int sep);
int list_count(sv list, int sep);
/* Append an item to a list being built, doubling separator characters inside it (as ${map} does).
 * A leading separator is added when the list is not empty. */
void list_append_item(xbuf *list, int sep, sv item);

#endif
