/* Insertion-ordered hash table: an entry array in insertion order plus an open-addressing index
 * (linear probing) of positions into it. Removal marks the entry dead; the index keeps pointing
 * at it so probe chains stay intact, and both arrays are compacted at the next growth. */
#include "lib/hashtab.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct entry {
	sv key;
	void *val;
	uint32_t hash;
	bool dead;
} entry;

struct hashtab {
	arena *a;
	bool nocase;
	entry *entries;   /* insertion order; [0, used) */
	size_t used, cap; /* entries in use (live + dead) and allocated */
	size_t live;
	uint32_t *index;  /* 0 = empty slot, else entry position + 1 */
	size_t nslots;    /* power of two, kept >= 2 * cap */
};

static uint32_t hash_key(sv key, bool nocase)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < key.len; i++) {
		unsigned char c = (unsigned char)key.p[i];
		if (nocase && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 16777619u;
	}
	return h;
}

static bool keys_equal(const hashtab *h, sv a, sv b)
{
	return h->nocase ? sv_eqi(a, b) : sv_eq(a, b);
}

hashtab *hashtab_new(arena *a, int flags)
{
	hashtab *h = arena_calloc(a, 1, sizeof *h);
	h->a = a;
	h->nocase = (flags & HASHTAB_NOCASE) != 0;
	return h;
}

/* Slot holding key, or the empty slot where it would go; SIZE_MAX when the table has no index. */
static size_t probe(const hashtab *h, sv key, uint32_t hash)
{
	if (h->nslots == 0)
		return SIZE_MAX;
	size_t mask = h->nslots - 1;
	for (size_t s = hash & mask;; s = (s + 1) & mask) {
		uint32_t pos = h->index[s];
		if (pos == 0)
			return s;
		const entry *e = &h->entries[pos - 1];
		if (!e->dead && e->hash == hash && keys_equal(h, e->key, key))
			return s;
	}
}

static entry *lookup(const hashtab *h, sv key)
{
	size_t s = probe(h, key, hash_key(key, h->nocase));
	if (s == SIZE_MAX || h->index[s] == 0)
		return NULL;
	return &h->entries[h->index[s] - 1];
}

/* Make room for one more entry: compact away dead entries, grow, and rebuild the index. */
static void grow(hashtab *h)
{
	size_t cap = h->live + 1 > h->cap / 2 ? (h->cap ? h->cap * 2 : 8) : h->cap;
	if (cap > UINT32_MAX / 4) {
		fprintf(stderr, "postern: hash table too large\n");
		abort();
	}
	entry *ne = arena_calloc(h->a, cap, sizeof *ne);
	size_t n = 0;
	for (size_t i = 0; i < h->used; i++)
		if (!h->entries[i].dead)
			ne[n++] = h->entries[i];
	h->entries = ne;
	h->used = n;
	h->cap = cap;
	h->nslots = cap * 2;
	h->index = arena_calloc(h->a, h->nslots, sizeof *h->index);
	size_t mask = h->nslots - 1;
	for (size_t i = 0; i < n; i++) {
		size_t s = ne[i].hash & mask;
		while (h->index[s])
			s = (s + 1) & mask;
		h->index[s] = (uint32_t)(i + 1);
	}
}

static bool insert(hashtab *h, sv key, void *val, bool replace)
{
	entry *e = lookup(h, key);
	if (e) {
		if (replace)
			e->val = val;
		return false;
	}
	if (h->used == h->cap)
		grow(h);
	uint32_t hash = hash_key(key, h->nocase);
	size_t s = probe(h, key, hash);
	e = &h->entries[h->used];
	e->key = sv_copy(h->a, key);
	e->val = val;
	e->hash = hash;
	e->dead = false;
	h->index[s] = (uint32_t)(++h->used);
	h->live++;
	return true;
}

bool hashtab_put(hashtab *h, sv key, void *val) { return insert(h, key, val, true); }
bool hashtab_add(hashtab *h, sv key, void *val) { return insert(h, key, val, false); }

void *hashtab_get(const hashtab *h, sv key)
{
	const entry *e = lookup(h, key);
	return e ? e->val : NULL;
}

bool hashtab_find(const hashtab *h, sv key, void **val)
{
	const entry *e = lookup(h, key);
	if (e && val)
		*val = e->val;
	return e != NULL;
}

sv hashtab_key(const hashtab *h, sv key)
{
	const entry *e = lookup(h, key);
	return e ? e->key : SV_NULL;
}

bool hashtab_remove(hashtab *h, sv key)
{
	entry *e = lookup(h, key);
	if (!e)
		return false;
	e->dead = true;
	e->val = NULL;
	h->live--;
	return true;
}

size_t hashtab_count(const hashtab *h) { return h->live; }

void hashtab_clear(hashtab *h)
{
	h->used = h->live = 0;
	if (h->index)
		memset(h->index, 0, h->nslots * sizeof *h->index);
}

void hashtab_iter_init(hashtab_iter *it, const hashtab *h)
{
	it->h = h;
	it->next = 0;
}

bool hashtab_next(hashtab_iter *it, sv *key, void **val)
{
	const hashtab *h = it->h;
	while (it->next < h->used) {
		const entry *e = &h->entries[it->next++];
		if (e->dead)
			continue;
		if (key) *key = e->key;
		if (val) *val = e->val;
		return true;
	}
	return false;
}
