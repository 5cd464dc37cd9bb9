/* Fuzz lib/hashtab: random operation sequences checked against a simple model.
 *
 * The input is a program: the first byte picks a case-sensitive or NOCASE table, then each group
 * of three bytes is one operation (put, add, remove, get, find, key, clear, iterate) on a short
 * key over a tiny alphabet (so keys collide, differ only in case, and contain NULs). The model is
 * an insertion-ordered array searched linearly. After every operation the table must agree with
 * it on the return value, the count, the stored spelling and taint of keys, and iteration order.
 * Keys are built in a reused buffer, so a table that kept the caller's pointer would fail. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/hashtab.h"

#define CHECK(cond) FUZZ_CHECK(cond, g_data, g_size)
#define MAX_KEY 6
#define MAX_ENTRIES 2048

static const uint8_t *g_data;
static size_t g_size;
static arena *pool;

typedef struct model_entry {
	char key[MAX_KEY];
	size_t len;
	int taint;
	void *val;
} model_entry;

static model_entry model[MAX_ENTRIES];
static size_t model_n;
static bool nocase;
static char values[256]; /* values are pointers into this array, never NULL */

static bool key_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (nocase) {
			if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
			if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
		}
		if (x != y)
			return false;
	}
	return true;
}

static long model_find(sv key)
{
	for (size_t i = 0; i < model_n; i++)
		if (key_eq(model[i].key, model[i].len, key.p, key.len))
			return (long)i;
	return -1;
}

static void model_append(sv key, void *val)
{
	model_entry *e = &model[model_n++];
	memcpy(e->key, key.p, key.len);
	e->len = key.len;
	e->taint = key.taint;
	e->val = val;
}

static void check_iteration(hashtab *h, bool rewrite)
{
	hashtab_iter it;
	hashtab_iter_init(&it, h);
	sv k;
	void *v;
	size_t i = 0;
	while (hashtab_next(&it, &k, &v)) {
		CHECK(i < model_n);
		CHECK(sv_eq(k, sv_make(model[i].key, model[i].len)));
		CHECK(k.taint == model[i].taint);
		CHECK(v == model[i].val);
		if (rewrite) { /* put of an existing key is allowed while iterating */
			void *nv = &values[(i * 7) % 256];
			CHECK(!hashtab_put(h, k, nv));
			model[i].val = nv;
		}
		i++;
	}
	CHECK(i == model_n);
	CHECK(!hashtab_next(&it, NULL, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char alphabet[8] = { 'a', 'A', 'b', 'B', 'z', '_', '\0', '\xe9' };
	if (size < 1)
		return 0;
	g_data = data;
	g_size = size;
	if (!pool) {
		pool = arena_new("fuzz");
		arena_alloc(pool, 1); /* so marks fall inside a block that resets keep */
	}
	arena_mark mark = arena_getmark(pool);
	nocase = data[0] & 1;
	hashtab *h = hashtab_new(pool, nocase ? HASHTAB_NOCASE : HASHTAB_CASE);
	model_n = 0;
	char keybuf[MAX_KEY];

	for (size_t i = 1; i + 3 <= size; i += 3) {
		unsigned op = data[i] & 7, len = (data[i] >> 3) % (MAX_KEY + 1);
		uint32_t kbits = (uint32_t)data[i + 1] | (uint32_t)data[i + 2] << 8 | (uint32_t)(data[i] >> 6) << 16;
		for (unsigned k = 0; k < len; k++)
			keybuf[k] = alphabet[(kbits >> (3 * k)) & 7];
		sv key = sv_make(keybuf, len);
		key.taint = (data[i + 2] >> 7) & 1;
		void *val = &values[data[i + 1]];
		long at = model_find(key);

		switch (op) {
		case 0: /* put */
			if (at < 0 && model_n == MAX_ENTRIES)
				break;
			CHECK(hashtab_put(h, key, val) == (at < 0));
			if (at < 0)
				model_append(key, val);
			else
				model[at].val = val;
			break;
		case 1: /* add */
			if (at < 0 && model_n == MAX_ENTRIES)
				break;
			CHECK(hashtab_add(h, key, val) == (at < 0));
			if (at < 0)
				model_append(key, val);
			break;
		case 2: /* remove */
			CHECK(hashtab_remove(h, key) == (at >= 0));
			if (at >= 0) {
				memmove(&model[at], &model[at + 1], (model_n - (size_t)at - 1) * sizeof model[0]);
				model_n--;
			}
			break;
		case 3: /* get */
			CHECK(hashtab_get(h, key) == (at < 0 ? NULL : model[at].val));
			break;
		case 4: { /* find */
			void *got = (void *)1;
			CHECK(hashtab_find(h, key, &got) == (at >= 0));
			CHECK(at < 0 ? got == (void *)1 : got == model[at].val);
			CHECK(hashtab_find(h, key, NULL) == (at >= 0));
			break;
		}
		case 5: { /* key: the first-inserted spelling, with its taint */
			sv k = hashtab_key(h, key);
			if (at < 0) {
				CHECK(sv_is_null(k));
			} else {
				CHECK(sv_eq(k, sv_make(model[at].key, model[at].len)));
				CHECK(k.taint == model[at].taint);
				CHECK(k.p != keybuf);
			}
			break;
		}
		case 6: /* clear, only now and then so tables get big */
			if (data[i + 1] < 8) {
				hashtab_clear(h);
				model_n = 0;
			}
			break;
		case 7:
			check_iteration(h, data[i + 1] & 1);
			break;
		}
		CHECK(hashtab_count(h) == model_n);
		/* Scribble over the key buffer: the table must hold its own copies. */
		memset(keybuf, 0x55, sizeof keybuf);
	}
	check_iteration(h, false);
	arena_reset(pool, mark);
	return 0;
}
