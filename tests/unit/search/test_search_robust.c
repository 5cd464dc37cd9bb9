/* Robustness: random and hostile input to the list matcher, the lsearch-format reader, the cdb
 * reader and spec parsing must give an answer (OK, FAIL or DEFER) and never crash or hang.
 * Deterministic (fixed seed) so failures reproduce; meant to be run under ASan/UBSan too. */
#include "../unit.h"
#include "lookup_test.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Bytes weighted towards the characters that mean something in lists and lookups. */
static void random_text(char *buf, size_t n)
{
	static const char special[] = ":;!@*^+/<>\\\"#$.,()[] \t\n0123456789abcf-=";
	for (size_t i = 0; i < n; i++)
		buf[i] = rnd(4) ? special[rnd(sizeof special - 1)] : (char)rnd(256);
}

static void test_random_lists(void)
{
	const enum match_kind kinds[] = { MATCH_DOMAIN, MATCH_LOCALPART, MATCH_ADDRESS, MATCH_HOST, MATCH_STRING };
	static const char *subjects[] = { "a.b.c", "user@example.com", "10.1.2.3", "2001:db8::1", "", "x" };
	match_ctx ctx = { .primary_hostname = "test.example" };
	char list[300];
	int answered = 0, total = 0;
	for (int i = 0; i < 4000; i++) {
		size_t n = rnd(sizeof list);
		random_text(list, n);
		/* Keep file and lookup items away from real paths: only our temp dir or none. */
		for (size_t k = 0; k < n; k++)
			if (list[k] == '/')
				list[k] = 'q';
		enum match_kind kind = kinds[rnd(5)];
		const char *subj = subjects[rnd(6)];
		if (kind == MATCH_HOST && !(strchr(subj, '.') && subj[0] == '1') && strchr(subj, ':') == NULL)
			subj = "10.1.2.3";
		xbuf err;
		xbuf_init(&err, NULL);
		int rc = match_isinlist(sv_cstr(subj), sv_make(list, n), 0, kind, rnd(2), &ctx, &err);
		total++;
		answered += rc == SEARCH_OK || rc == SEARCH_FAIL || (rc == SEARCH_DEFER && err.len > 0);
		xbuf_free(&err);
	}
	CHECK_INT(answered, total);
}

static void test_random_lsearch_files(void)
{
	char content[600];
	int answered = 0;
	for (int i = 0; i < 300; i++) {
		size_t n = rnd(sizeof content - 1);
		random_text(content, n);
		content[n] = 0;
		/* Embedded NULs end the C string early; that is fine for the file written. */
		const char *f = lt_write("rand.txt", content);
		search_tidyup();
		const char *types[] = { "lsearch", "nwildlsearch", "iplsearch", "partial0-lsearch*", "lsearch,ret=full" };
		const char *keys[] = { "a", "1.2.3.4", "a.b.c", "\"", "#", ":" };
		const char *r = lt_lookup(types[rnd(5)], f, keys[rnd(6)]);
		answered += r != NULL;
	}
	CHECK_INT(answered, 300);
}

static void test_random_specs(void)
{
	char spec[64];
	int ok = 0;
	for (int i = 0; i < 3000; i++) {
		size_t n = rnd(sizeof spec - 1);
		random_text(spec, n);
		if (rnd(2) && n > 8)
			memcpy(spec, "partial", 7);
		spec[n] = 0;
		xbuf err;
		xbuf_init(&err, NULL);
		search_spec s;
		bool parsed = search_spec_parse(sv_make(spec, n), &s, &err);
		ok += parsed ? s.li != NULL : err.len > 0;
		xbuf_free(&err);
	}
	CHECK_INT(ok, 3000);
}

static void test_deep_and_long(void)
{
	/* Very long items, long lists and many negations. */
	xbuf big;
	xbuf_init(&big, NULL);
	for (int i = 0; i < 20000; i++)
		xbuf_puts(&big, "!x.example:");
	xbuf_puts(&big, "*");
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK_INT(match_isinlist(SV_LIT("a.example"), xbuf_sv(&big), 0, MATCH_DOMAIN, true, NULL, &err), SEARCH_OK);
	xbuf_reset(&big);
	for (int i = 0; i < 100000; i++)
		xbuf_putc(&big, 'a');
	CHECK_INT(match_isinlist(xbuf_sv(&big), xbuf_sv(&big), 0, MATCH_DOMAIN, true, NULL, &err), SEARCH_OK);
	const char *f = lt_path("long.txt");
	FILE *fp = fopen(f, "w");
	for (int i = 0; i < 3 * 1024 * 1024; i++)
		fputc('k', fp);
	fputs(": v\nshort: ok\n", fp);
	fclose(fp);
	CHECK(lt_defer_starts(lt_lookup("lsearch", f, "short"), "DEFER: line longer than"));
	xbuf_free(&big);
	xbuf_free(&err);
}

int main(void)
{
	lt_init();
	/* Random items may name relative files (lmdb creates lock files): keep them in the temp dir. */
	if (chdir(lt_dir) != 0)
		return 1;
	RUN(test_random_lists);
	RUN(test_random_lsearch_files);
	RUN(test_random_specs);
	RUN(test_deep_and_long);
	search_tidyup();
	return unit_report("test_search_robust");
}
