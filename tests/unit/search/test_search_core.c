/* search_find itself: type-spec parsing and its errors, partial matching order, "*" and "*@"
 * defaults, ret=key, caching and search_tidyup, taint rules, -bV line. Expected values were
 * taken from Exim 4.96 runs of the same lookups. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../unit.h"
#include "lookup_test.h"

#include "build_config.h"
#include "lib/debug.h"

static const char *spec_err(const char *s)
{
	static char o[512];
	xbuf err;
	xbuf_init(&err, NULL);
	search_spec spec;
	if (search_spec_parse(sv_cstr(s), &spec, &err))
		snprintf(o, sizeof o, "ok");
	else
		snprintf(o, sizeof o, "%s", xbuf_cstr(&err));
	xbuf_free(&err);
	return o;
}

static void test_spec_parse(void)
{
	search_spec s;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(search_spec_parse(SV_LIT("lsearch"), &s, &err));
	CHECK_INT(s.partial, -1);
	CHECK(!s.star && !s.starat && !s.ret_key);
	CHECK(s.opts == NULL);
	CHECK(search_spec_parse(SV_LIT("partial-lsearch*"), &s, &err));
	CHECK_INT(s.partial, 2);
	CHECK_STR(s.affix, "*.");
	CHECK(s.star);
	CHECK(search_spec_parse(SV_LIT("partial3-dsearch*@"), &s, &err));
	CHECK_INT(s.partial, 3);
	CHECK(s.starat && !s.star);
	CHECK(search_spec_parse(SV_LIT("partial(.)lsearch"), &s, &err));
	CHECK_STR(s.affix, ".");
	CHECK_INT(s.partial, 2);
	CHECK(search_spec_parse(SV_LIT("partial1()cdb"), &s, &err));
	CHECK_STR(s.affix, "");
	CHECK_INT(s.partial, 1);
	CHECK(search_spec_parse(SV_LIT("lsearch,ret=key"), &s, &err));
	CHECK(s.ret_key);
	CHECK(s.opts == NULL);
	CHECK(search_spec_parse(SV_LIT("dsearch,ret=full,filter=file"), &s, &err));
	CHECK_STR(s.opts, "ret=full,filter=file");
	CHECK(search_spec_parse(SV_LIT("lsearch*,ret=key,cache=no_rd"), &s, &err));
	CHECK(s.ret_key && s.star);
	CHECK_STR(s.opts, "cache=no_rd");
	CHECK_STR(spec_err("nosuch"), "unknown lookup type \"nosuch\"");
	CHECK_STR(spec_err("partial(xx)-lsearch"), "format error in lookup type \"partial(xx)-lsearch\"");
	CHECK_STR(spec_err("partial(ab)lsearch"), "format error in lookup type \"partial(ab)lsearch\"");
	CHECK_STR(spec_err("partial9x-lsearch"), "format error in lookup type \"partial9x-lsearch\"");
	CHECK_STR(spec_err("partial-passwd"), "\"partial\" is not permitted for lookup type \"passwd\"");
	CHECK_STR(spec_err("passwd*"), "defaults using \"*\" or \"*@\" are not permitted for lookup type \"passwd*\"");
	CHECK_STR(spec_err("passwd*@"), "defaults using \"*\" or \"*@\" are not permitted for lookup type \"passwd*@\"");
	CHECK_STR(spec_err("partial("), "format error in lookup type \"partial(\"");
	/* Exim 4.96 ends the name at the first '*'; what follows the star up to a comma is ignored. */
	CHECK(search_spec_parse(SV_LIT("lsearch*@*"), &s, &err));
	CHECK(s.starat && !s.star);
	CHECK(search_spec_parse(SV_LIT("lsearch**@"), &s, &err));
	CHECK(s.star && !s.starat);
	CHECK(search_spec_parse(SV_LIT("lsearch*@x,ret=key"), &s, &err));
	CHECK(s.starat && s.ret_key);
	CHECK_STR(spec_err("lsearch,ret=key*"), "unknown lookup type \"lsearch,ret=key\"");
	CHECK_STR(spec_err("lsearchxy*"), "unknown lookup type \"lsearchxy\"");
	xbuf_free(&err);
}

static void test_style_checks(void)
{
	search_spec s;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(search_spec_parse(SV_LIT("lsearch"), &s, &err));
	CHECK(!search_check_style(&s, false, true, &err));
	CHECK_STR(xbuf_cstr(&err), "missing {key} for single-key \"lsearch\" lookup");
	xbuf_reset(&err);
	CHECK(search_spec_parse(SV_LIT("passwd"), &s, &err));
	CHECK(!search_check_style(&s, true, false, &err));
	CHECK_STR(xbuf_cstr(&err), "a single key was given for lookup type \"passwd\", which is not a single-key lookup type");
	xbuf_free(&err);
}

static void test_partial(void)
{
	const char *f = lt_write("partial.txt",
		"*.wild.com: wildval\n"
		"*.fict.example: fict\n"
		"x.y.z: exact\n"
		".b.c: dotaffix\n"
		"b.c: noaffix\n"
		"*: star\n"
		"*@dom.example: perdomain\n"
		"user@dom.example: user\n");
	CHECK_STR(lt_lookup("partial-lsearch", f, "a.b.wild.com"), "wildval");
	CHECK_STR(lt_lookup("partial-lsearch", f, "wild.com"), "wildval");   /* *.wild.com matches wild.com */
	CHECK_STR(lt_lookup("lsearch", f, "a.b.wild.com"), "FAIL");
	CHECK_STR(lt_lookup("partial-lsearch", f, "x.y.z"), "exact");
	CHECK_STR(lt_lookup("partial-lsearch", f, "2250.dates.fict.example"), "fict");
	/* With a minimum of 3 components "*.fict.example" (2) is never tried. */
	CHECK_STR(lt_lookup("partial3-lsearch", f, "2250.dates.fict.example"), "FAIL");
	CHECK_STR(lt_lookup("partial(.)lsearch", f, "a.b.c"), "dotaffix");
	CHECK_STR(lt_lookup("partial1()lsearch", f, "a.b.c"), "noaffix");
	CHECK_STR(lt_lookup("partial-lsearch", f, "nomatch.example"), "FAIL");
	/* partial0 with the default affix ends with a lookup of "*". */
	CHECK_STR(lt_lookup("partial0-lsearch", f, "q.r"), "star");
	CHECK_STR(lt_lookup("partial-lsearch*", f, "q.r"), "star");
	CHECK_STR(lt_lookup("lsearch*", f, "x"), "star");
	CHECK_STR(lt_lookup("lsearch*@", f, "someone@dom.example"), "perdomain");
	CHECK_STR(lt_lookup("lsearch*@", f, "user@dom.example"), "user");
	CHECK_STR(lt_lookup("lsearch*@", f, "someone@other.example"), "star");
	CHECK_STR(lt_lookup("lsearch*@", f, "noat"), "star");
	/* No local part: "*@dom.example" is not tried for "@dom.example" (Exim 4.96). */
	CHECK_STR(lt_lookup("lsearch*@", f, "@dom.example"), "star");
	/* Edge cases checked against Exim 4.96. */
	const char *e = lt_write("edge.txt", "\"k\"data\nk2:v2\n*.a.com: star a\n.: dot\nq\\x: esc\n");
	CHECK_STR(lt_lookup("lsearch", e, "k"), "data");
	CHECK_STR(lt_lookup("lsearch", e, "k2"), "v2");
	CHECK_STR(lt_lookup("partial-lsearch", e, "*.a.com"), "star a");
	CHECK_STR(lt_lookup("partial0(.)lsearch", e, "x.y"), "dot");
	CHECK_STR(lt_lookup("partial-lsearch", e, "a..com"), "FAIL");
	CHECK_STR(lt_lookup("partial-lsearch", e, ".a.com"), "star a");
	CHECK_STR(lt_lookup("partial1-lsearch", e, "a.com."), "FAIL");
	CHECK_STR(lt_lookup("lsearch", e, "q\\x"), "esc");
	CHECK_STR(lt_lookup("partial0()lsearch", e, "x"), "FAIL");
	CHECK_STR(lt_lookup("partial0(ab.)lsearch", e, "x.y"), "SPEC: format error in lookup type \"partial0(ab.)lsearch\"");
	/* $1/$2 for a partial match */
	CHECK_STR(lt_lookup("partial-lsearch", f, "a.b.wild.com"), "wildval");
	sv wild, fixed;
	search_last_partial(&wild, &fixed);
	CHECK_STR(sv_dup(pool_scratch, wild), "a.b");
	CHECK_STR(sv_dup(pool_scratch, fixed), "wild.com");
}

static void test_ret_key_and_empty(void)
{
	const char *f = lt_write("rk.txt", "foo: bar\n*: star\n");
	CHECK_STR(lt_lookup("lsearch,ret=key", f, "foo"), "foo");
	CHECK_STR(lt_lookup("lsearch,ret=key", f, "x"), "FAIL");
	CHECK_STR(lt_lookup("lsearch*,ret=key", f, "x"), "x");
	CHECK_STR(lt_lookup("lsearch", f, ""), "FAIL");
	CHECK_STR(lt_lookup("lsearch*", f, ""), "star");          /* Exim 4.96: defaults still apply */
	CHECK_STR(lt_lookup("partial0-lsearch", f, ""), "star");
	CHECK_STR(lt_lookup("lsearch,ret=key", f, ""), "FAIL");
	CHECK_STR(lt_lookup("dsearch", lt_dir, ""), "FAIL");
}

static void test_cache(void)
{
	const char *f = lt_write("cache.txt", "k: one\n");
	CHECK_STR(lt_lookup("lsearch", f, "k"), "one");
	lt_write("cache.txt", "k: two\nnew: yes\n");
	/* Same process, same file: the cached result (and the cached "not found") are used. */
	CHECK_STR(lt_lookup("lsearch", f, "k"), "one");
	/* cache=no_rd reads the file again and refreshes the cache. */
	CHECK_STR(lt_lookup("lsearch,cache=no_rd", f, "k"), "two");
	search_tidyup();
	CHECK_STR(lt_lookup("lsearch", f, "k"), "two");
	CHECK_STR(lt_lookup("lsearch", f, "new"), "yes");
	CHECK_STR(lt_lookup("lsearch", f, "gone"), "FAIL");
	lt_write("cache.txt", "gone: back\n");
	CHECK_STR(lt_lookup("lsearch", f, "gone"), "FAIL"); /* cached failure */
	search_tidyup();
	CHECK_STR(lt_lookup("lsearch", f, "gone"), "back");
	/* Different options are cached separately. */
	CHECK_STR(lt_lookup("lsearch,ret=full", f, "gone"), "gone: back");
}

static char logged[512];
static void capture_log(const char *msg)
{
	snprintf(logged, sizeof logged, "%s", msg);
}

static void test_taint(void)
{
	const char *f = lt_write("taint.txt", "foo: bar\n");
	char want[600];
	snprintf(want, sizeof want, "DEFER: Tainted filename for search: '%s'", f);
	search_log_hook = capture_log;
	CHECK_STR(lt_lookup_ex("lsearch", f, "foo", true, false, 0), want);
	CHECK_STR(logged, want + 7);
	/* A tainted key for a single-key lookup is fine; the result is not tainted. */
	xbuf res, err;
	xbuf_init(&res, NULL);
	xbuf_init(&err, NULL);
	search_spec spec;
	CHECK(search_spec_parse(SV_LIT("lsearch"), &spec, &err));
	CHECK_INT(search_find(&spec, sv_cstr(f), sv_tainted(SV_LIT("foo")), &res, &err), SEARCH_OK);
	CHECK_INT(res.taint, 0);
	xbuf_free(&res);
	xbuf_free(&err);
#if LOOKUP_SQLITE
	/* sqlite takes its file from the query: a tainted file is refused the same way. */
	const char *db = lt_path("t.sqlite");
	snprintf(want, sizeof want, "DEFER: Tainted filename for search: '%s'", db);
	CHECK_STR(lt_lookup_ex("sqlite", db, "select 1", true, true, 0), want);
	/* sqlite has a file, so 4.96 does not check the query's quoting. */
	logged[0] = 0;
	CHECK_STR(lt_lookup_ex("sqlite", db, "select 'x'", false, true, 0), "x");
	CHECK_STR(logged, "");
#endif
#if LOOKUP_PGSQL
	/* Query-style with a quoting function: an unquoted tainted query is logged, then run (here it
	 * then defers for want of servers). */
	logged[0] = 0;
	CHECK(lt_starts(lt_lookup_ex("pgsql", NULL, "select 'x'", false, true, 0), "DEFER: "));
	CHECK_STR(logged, "tainted search query is not properly quoted: select 'x'");
	logged[0] = 0;
	unsigned qid = search_quoter_id(search_driver(SV_LIT("pgsql")));
	CHECK(lt_starts(lt_lookup_ex("pgsql", NULL, "select 'y'", false, true, qid), "DEFER: "));
	CHECK_STR(logged, "");
	/* Quoted for another lookup type does not count. */
	unsigned other = search_quoter_id(search_driver(SV_LIT("lsearch")));
	CHECK(lt_starts(lt_lookup_ex("pgsql", NULL, "select 'z'", false, true, other), "DEFER: "));
	CHECK_STR(logged, "tainted search query is not properly quoted: select 'z'");
#endif
	/* passwd has no quoting function: no warning for a tainted query. */
	logged[0] = 0;
	CHECK_STR(lt_lookup_ex("passwd", NULL, "root", false, true, 0), "*:0:0:root:/root:/bin/bash");
	CHECK_STR(logged, "");
	search_log_hook = lt_quiet_log;
}

static void test_registry(void)
{
	for (size_t i = 0; lookup_drivers[i]; i++) {
		CHECK_INT(search_quoter_id(lookup_drivers[i]), i + 1);
		CHECK(search_quoter_driver((unsigned)i + 1) == lookup_drivers[i]);
		if (lookup_drivers[i + 1])
			CHECK(strcmp(lookup_drivers[i]->name, lookup_drivers[i + 1]->name) < 0);
	}
	CHECK(search_quoter_driver(0) == NULL);
	CHECK(search_driver(SV_LIT("nosuch")) == NULL);
	xbuf v;
	xbuf_init(&v, NULL);
	search_version_report(&v);
	CHECK(strncmp(xbuf_cstr(&v), "Lookups (built-in): lsearch wildlsearch nwildlsearch iplsearch cdb ", 67) == 0);
	CHECK(v.len && v.p[v.len - 1] == '\n');
	CHECK(strstr(xbuf_cstr(&v), " dsearch ") != NULL);
	xbuf_free(&v);
}

static void test_handle_cache(void)
{
	/* More files than lookup_open_max (default 25): the oldest handles are closed and reopened
	 * on demand, and every lookup still answers. */
	char name[32], content[64];
	const char *paths[40];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "h%d.txt", i);
		snprintf(content, sizeof content, "k: v%d\n", i);
		paths[i] = strdup(lt_write(name, content));
	}
	int ok = 0;
	for (int round = 0; round < 2; round++) {
		search_tidyup(); /* second round: uncached results, handles reopened */
		for (int i = 0; i < 40; i++) {
			snprintf(content, sizeof content, "v%d", i);
			ok += strcmp(lt_lookup("lsearch", paths[i], "k"), content) == 0;
		}
	}
	CHECK_INT(ok, 80);
	for (int i = 0; i < 40; i++)
		free((void *)paths[i]);
	int fds = 0;
	for (int fd = 0; fd < 1024; fd++)
		fds += lseek(fd, 0, SEEK_CUR) >= 0;
	CHECK(fds < 25 + 10);
}

/* The open-time file checks behind lookup_info.check (Exim's modemask/owners/owngroups). */
static const char *file_check(const char *path, unsigned type, int modemask, const uid_t *owners,
	const gid_t *groups)
{
	static char o[512];
	int fd = open(path, O_RDONLY);
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = fd >= 0 && search_check_file(fd, "F", type, modemask, owners, groups, "lsearch", &err);
	snprintf(o, sizeof o, "%s", ok ? "ok" : xbuf_cstr(&err));
	if (fd >= 0)
		close(fd);
	xbuf_free(&err);
	return o;
}

static void test_file_checks(void)
{
	const char *f = lt_write("checked.txt", "a: b\n");
	CHECK(chmod(f, 0664) == 0);
	CHECK_STR(file_check(f, S_IFREG, 0, NULL, NULL), "ok");
	CHECK_STR(file_check(f, S_IFREG, 0002, NULL, NULL), "ok");
	CHECK_STR(file_check(f, S_IFREG, 0022, NULL, NULL), "F (lsearch lookup): file mode 0664 should not contain 0020");
	CHECK_STR(file_check(f, S_IFDIR, 0, NULL, NULL), "F is not a directory (lsearch lookup)");
	CHECK_STR(file_check("/", S_IFREG, 0, NULL, NULL), "F is not a regular file (lsearch lookup)");
	uid_t me[] = { 2, 12345, getuid() }, other[] = { 1, getuid() + 1 };
	gid_t mine[] = { 1, getgid() }, others[] = { 1, getgid() + 1 };
	CHECK_STR(file_check(f, S_IFREG, 0, me, mine), "ok");
	CHECK_STR(file_check(f, S_IFREG, 0, other, NULL), "F (lsearch lookup): file has wrong owner");
	CHECK_STR(file_check(f, S_IFREG, 0, NULL, others), "F (lsearch lookup): file has wrong group");
	/* search_find runs the type check at open, as Exim's lookups do. */
	CHECK_STR(lt_lookup("lsearch", "/dev/null", "a"), "DEFER: /dev/null is not a regular file (lsearch lookup)");
	CHECK_STR(lt_lookup("iplsearch", "/", "1.2.3.4"), "DEFER: / is not a regular file (lsearch lookup)");
}

int main(void)
{
	lt_init();
	RUN(test_spec_parse);
	RUN(test_style_checks);
	RUN(test_partial);
	RUN(test_ret_key_and_empty);
	RUN(test_cache);
	RUN(test_taint);
	RUN(test_registry);
	RUN(test_handle_cache);
	RUN(test_file_checks);
	search_tidyup();
	return unit_report("test_search_core");
}
