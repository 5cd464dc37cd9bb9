/* hashtab.h: insert/replace/remove, case folding, insertion order, growth and compaction. */
#include "lib/hashtab.h"
#include "../unit.h"

#include <stdio.h>

static arena *A;

static void test_basic(void)
{
	hashtab *h = hashtab_new(A, HASHTAB_CASE);
	static int one = 1, two = 2, three = 3;
	CHECK_INT(hashtab_count(h), 0);
	CHECK(hashtab_get(h, SV_LIT("x")) == NULL);
	CHECK(!hashtab_remove(h, SV_LIT("x")));
	CHECK(hashtab_put(h, SV_LIT("alpha"), &one));
	CHECK(hashtab_put(h, SV_LIT("beta"), &two));
	CHECK(!hashtab_put(h, SV_LIT("alpha"), &three)); /* replace */
	CHECK(hashtab_get(h, SV_LIT("alpha")) == &three);
	CHECK(!hashtab_add(h, SV_LIT("beta"), &one));    /* add does not replace */
	CHECK(hashtab_get(h, SV_LIT("beta")) == &two);
	CHECK(hashtab_get(h, SV_LIT("ALPHA")) == NULL);  /* case-sensitive */
	CHECK_INT(hashtab_count(h), 2);
	void *v = &one;
	CHECK(!hashtab_find(h, SV_LIT("gamma"), &v));
	CHECK(v == &one);
	CHECK(hashtab_put(h, SV_LIT("null"), NULL));
	CHECK(hashtab_find(h, SV_LIT("null"), &v));
	CHECK(v == NULL);
	CHECK(hashtab_put(h, SV_LIT(""), &one));       /* the empty key is a key */
	CHECK(hashtab_get(h, SV_LIT("")) == &one);
	/* Keys are copied: the caller's buffer may change afterwards. */
	char buf[8] = "temp";
	CHECK(hashtab_put(h, sv_cstr(buf), &two));
	buf[0] = 'X';
	CHECK(hashtab_get(h, SV_LIT("temp")) == &two);
	CHECK(hashtab_get(h, sv_cstr(buf)) == NULL);
}

static void test_nocase(void)
{
	hashtab *h = hashtab_new(A, HASHTAB_NOCASE);
	static int one = 1, two = 2;
	CHECK(hashtab_put(h, SV_LIT("Domain_List"), &one));
	CHECK(hashtab_get(h, SV_LIT("domain_list")) == &one);
	CHECK(hashtab_get(h, SV_LIT("DOMAIN_LIST")) == &one);
	CHECK(!hashtab_put(h, SV_LIT("DOMAIN_list"), &two));
	CHECK(hashtab_get(h, SV_LIT("domain_list")) == &two);
	CHECK(sv_eq_cstr(hashtab_key(h, SV_LIT("domain_LIST")), "Domain_List"));
	CHECK(sv_is_null(hashtab_key(h, SV_LIT("other"))));
	CHECK_INT(hashtab_count(h), 1);
	CHECK(hashtab_remove(h, SV_LIT("domain_list")));
	CHECK_INT(hashtab_count(h), 0);
}

static void test_order_and_growth(void)
{
	hashtab *h = hashtab_new(A, HASHTAB_CASE);
	static int vals[1000];
	char name[32];
	for (int i = 0; i < 1000; i++) {
		vals[i] = i;
		snprintf(name, sizeof name, "key%d", i);
		CHECK(hashtab_put(h, sv_cstr(name), &vals[i]) == true);
	}
	CHECK_INT(hashtab_count(h), 1000);
	int misses = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "key%d", i);
		if (hashtab_get(h, sv_cstr(name)) != &vals[i])
			misses++;
	}
	CHECK_INT(misses, 0);
	/* Remove the even keys; iteration gives the odd ones in insertion order. */
	for (int i = 0; i < 1000; i += 2) {
		snprintf(name, sizeof name, "key%d", i);
		CHECK(hashtab_remove(h, sv_cstr(name)));
	}
	CHECK_INT(hashtab_count(h), 500);
	hashtab_iter it;
	hashtab_iter_init(&it, h);
	sv k;
	void *v;
	int expect = 1, bad = 0, n = 0;
	while (hashtab_next(&it, &k, &v)) {
		snprintf(name, sizeof name, "key%d", expect);
		if (!sv_eq_cstr(k, name) || v != &vals[expect])
			bad++;
		expect += 2;
		n++;
	}
	CHECK_INT(n, 500);
	CHECK_INT(bad, 0);
	/* Re-adding a removed key puts it at the end; further growth compacts the dead entries. */
	CHECK(hashtab_put(h, SV_LIT("key0"), &vals[0]));
	for (int i = 1000; i < 3000; i++) {
		snprintf(name, sizeof name, "key%d", i);
		hashtab_put(h, sv_cstr(name), NULL);
		snprintf(name, sizeof name, "key%d", i);
		hashtab_remove(h, sv_cstr(name));
	}
	CHECK_INT(hashtab_count(h), 501);
	hashtab_iter_init(&it, h);
	sv last = SV_NULL;
	while (hashtab_next(&it, &k, NULL))
		last = k;
	CHECK(sv_eq_cstr(last, "key0"));
	CHECK(hashtab_get(h, SV_LIT("key999")) == &vals[999]);
	CHECK(hashtab_get(h, SV_LIT("key998")) == NULL);
	hashtab_clear(h);
	CHECK_INT(hashtab_count(h), 0);
	CHECK(hashtab_get(h, SV_LIT("key999")) == NULL);
	hashtab_iter_init(&it, h);
	CHECK(!hashtab_next(&it, NULL, NULL));
	CHECK(hashtab_put(h, SV_LIT("again"), &vals[1]));
	CHECK(hashtab_get(h, SV_LIT("again")) == &vals[1]);
}

static void test_taint_kept(void)
{
	hashtab *h = hashtab_new(A, HASHTAB_CASE);
	hashtab_put(h, sv_tainted(SV_LIT("from-outside")), NULL);
	hashtab_iter it;
	hashtab_iter_init(&it, h);
	sv k;
	CHECK(hashtab_next(&it, &k, NULL));
	CHECK_INT(k.taint, 1);
}

int main(void)
{
	A = arena_new("test_hashtab");
	RUN(test_basic);
	RUN(test_nocase);
	RUN(test_order_and_growth);
	RUN(test_taint_kept);
	arena_free(A);
	return unit_report("test_hashtab");
}
