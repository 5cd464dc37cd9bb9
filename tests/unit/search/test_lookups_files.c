/* File and database lookups, with their files made at test time (cdb with tinycdb's `cdb`,
 * dbm with exim_dbmbuild, lmdb with mdb_load, sqlite with libsqlite3). Expected results and
 * error texts follow Exim 4.96 runs of the same lookups. */
#include "../unit.h"
#include "lookup_test.h"

#include "build_config.h"

#if LOOKUP_SQLITE
#include <sqlite3.h>
#endif

static void test_lsearch_format(void)
{
	const char *f = lt_write("l.txt",
		"foo: bar\n"
		"\"quoted key\": qv\n"
		"multi: line1\n"
		"  line2\n"
		"# comment\n"
		"baz\n"
		"k2   data two  \n"
		"\n"
		"   not continued after a blank line\n"
		"stop: a\n"
		"#c\n"
		"  not after a comment\n"
		"\"q\\tk\"  : tab\n"
		"\"a:b\" colon key\n"
		"UPPER: caseless\n"
		"dup: first\n"
		"dup: second\n"
		"colondata:  :fail: x\n"
		"crlf: value\r\n");
	CHECK_STR(lt_lookup("lsearch", f, "foo"), "bar");
	CHECK_STR(lt_lookup("lsearch", f, "quoted key"), "qv");
	CHECK_STR(lt_lookup("lsearch", f, "multi"), "line1 line2");
	CHECK_STR(lt_lookup("lsearch", f, "baz"), "");
	CHECK_STR(lt_lookup("lsearch", f, "k2"), "data two");
	CHECK_STR(lt_lookup("lsearch,ret=full", f, "k2"), "k2   data two");
	CHECK_STR(lt_lookup("lsearch", f, "stop"), "a");
	CHECK_STR(lt_lookup("lsearch", f, "q\tk"), "tab");
	CHECK_STR(lt_lookup("lsearch,ret=full", f, "q\tk"), "q\tk  : tab");
	CHECK_STR(lt_lookup("lsearch", f, "a:b"), "colon key");
	CHECK_STR(lt_lookup("lsearch", f, "upper"), "caseless");
	CHECK_STR(lt_lookup("lsearch", f, "FOO"), "bar");
	CHECK_STR(lt_lookup("lsearch", f, "dup"), "first");
	CHECK_STR(lt_lookup("lsearch", f, "colondata"), ":fail: x");
	CHECK_STR(lt_lookup("lsearch", f, "crlf"), "value");
	CHECK_STR(lt_lookup("lsearch", f, "comment"), "FAIL");
	CHECK_STR(lt_lookup("lsearch", f, "#"), "FAIL");
	CHECK_STR(lt_lookup("lsearch", f, "line2"), "FAIL");
	CHECK_STR(lt_lookup("lsearch", f, "fo"), "FAIL");
	CHECK_STR(lt_lookup("lsearch", "relative", "x"),
		"DEFER: failed to open relative for linear search: No such file or directory");
	CHECK_STR(lt_lookup("lsearch", "/nonexist", "x"),
		"DEFER: failed to open /nonexist for linear search: No such file or directory");
	CHECK_STR(lt_lookup("wildlsearch", "/nonexist", "x"),
		"DEFER: failed to open /nonexist for linear search: No such file or directory");
	/* A file without a final newline, and an empty file. */
	const char *g = lt_write("nonl.txt", "last: line");
	CHECK_STR(lt_lookup("lsearch", g, "last"), "line");
	const char *e = lt_write("empty.txt", "");
	CHECK_STR(lt_lookup("lsearch", e, "x"), "FAIL");
}

static void test_wildlsearch(void)
{
	const char *f = lt_write("w.txt",
		"*.a.b.c: star suffix\n"
		"*fish: anyfish\n"
		"^\\d+\\.num\\.example$: regex\n"
		"^(?-i)CaSe$: caseful\n"
		"\"^a b$\": quoted regex\n"
		"literal.example: lit\n");
	CHECK_STR(lt_lookup("nwildlsearch", f, "x.a.b.c"), "star suffix");
	CHECK_STR(lt_lookup("nwildlsearch", f, "X.A.B.C"), "star suffix");
	CHECK_STR(lt_lookup("nwildlsearch", f, "goldfish"), "anyfish");
	CHECK_STR(lt_lookup("nwildlsearch", f, "123.num.example"), "regex");
	CHECK_STR(lt_lookup("nwildlsearch", f, "123.NUM.example"), "regex");
	CHECK_STR(lt_lookup("nwildlsearch", f, "abc.num.example"), "FAIL");
	CHECK_STR(lt_lookup("nwildlsearch", f, "CaSe"), "caseful");
	CHECK_STR(lt_lookup("nwildlsearch", f, "case"), "FAIL");
	CHECK_STR(lt_lookup("nwildlsearch", f, "a b"), "quoted regex");
	CHECK_STR(lt_lookup("nwildlsearch", f, "LITERAL.example"), "lit");
	CHECK_STR(lt_lookup("lsearch", f, "goldfish"), "FAIL");
	/* Without the expansion engine linked in, wildlsearch keys are used as they are. */
	CHECK_STR(lt_lookup("wildlsearch", f, "x.a.b.c"), "star suffix");
	const char *n = lt_write("nested.txt", "inner.example\n");
	char content[512];
	snprintf(content, sizeof content, "lsearch;%s: via nested lookup\n", n);
	const char *o = lt_write("outer.txt", content);
	CHECK_STR(lt_lookup("nwildlsearch", o, "inner.example"), "via nested lookup");
	CHECK_STR(lt_lookup("nwildlsearch", o, "other.example"), "FAIL");
	/* A key that looks up its own file cannot recurse. */
	char selfref[600];
	snprintf(selfref, sizeof selfref, "nwildlsearch;%s/self.txt: loop\nk: plain\n", lt_dir);
	const char *self = lt_write("self.txt", selfref);
	CHECK(lt_defer_starts(lt_lookup("nwildlsearch", self, "k"), "DEFER: recursive nwildlsearch lookup in "));
	/* A chain of distinct files is bounded too. */
	for (int i = 0; i < 12; i++) {
		char name[32], line[600];
		snprintf(name, sizeof name, "chain%d.txt", i);
		snprintf(line, sizeof line, "nwildlsearch;%s/chain%d.txt: level%d\n", lt_dir, i + 1, i);
		lt_write(name, line);
	}
	lt_write("chain12.txt", "k: end\n");
	CHECK(lt_defer_starts(lt_lookup("nwildlsearch", lt_path("chain0.txt"), "k"), "DEFER: lookups nested more than 8 deep"));
	CHECK_STR(lt_lookup("nwildlsearch", lt_path("chain6.txt"), "k"), "level6");
	const char *bad = lt_write("badre.txt", "^(bad: x\n");
	CHECK(lt_defer_starts(lt_lookup("nwildlsearch", bad, "x"), "DEFER: regular expression error"));
}

static void test_iplsearch(void)
{
	const char *f = lt_write("ip.txt",
		"1.2.3.4: one\n"
		"\"::1\": v6 one\n"
		"10.0.0.0/8 ten\n"
		"\"2001:db8::/32\": doc\n"
		"  cont\n"
		"0.0.0.0/0: any4\n");
	CHECK_STR(lt_lookup("iplsearch", f, "1.2.3.4"), "one");
	CHECK_STR(lt_lookup("iplsearch", f, "10.9.8.7"), "ten");
	CHECK_STR(lt_lookup("iplsearch,ret=full", f, "10.9.8.7"), "10.0.0.0/8 ten");
	CHECK_STR(lt_lookup("iplsearch,ret=full", f, "2001:db8::5"), "2001:db8::/32: doc cont");
	CHECK_STR(lt_lookup("iplsearch", f, "::1"), "v6 one");
	CHECK_STR(lt_lookup("iplsearch", f, "::ffff:1.2.3.4"), "one");
	CHECK_STR(lt_lookup("iplsearch", f, "99.1.1.1"), "any4");
	CHECK_STR(lt_lookup("iplsearch", f, "2002::1"), "FAIL");
	CHECK_STR(lt_lookup("iplsearch", f, "x"), "DEFER: lookup of \"x\" gave DEFER: \"x\" is not a valid iplsearch key (an IP address, "
		"with optional CIDR mask, is wanted): in a host list, use net-iplsearch as the search type");
	CHECK_STR(lt_lookup("iplsearch", f, "10.0.0.0/8"), "DEFER: lookup of \"10.0.0.0/8\" gave DEFER: \"10.0.0.0/8\" is not a valid iplsearch key "
		"(an IP address, with optional CIDR mask, is wanted): in a host list, use net-iplsearch as the search type");
}

static void test_dsearch(void)
{
	lt_sh("mkdir -p %s/dd/sub && touch %s/dd/file.txt && ln -sf file.txt %s/dd/link", lt_dir, lt_dir, lt_dir);
	const char *d = lt_path("dd");
	char want[600];
	CHECK_STR(lt_lookup("dsearch", d, "file.txt"), "file.txt");
	snprintf(want, sizeof want, "%s/file.txt", d);
	CHECK_STR(lt_lookup("dsearch,ret=full", d, "file.txt"), want);
	CHECK_STR(lt_lookup("dsearch,filter=file", d, "file.txt"), "file.txt");
	CHECK_STR(lt_lookup("dsearch,filter=dir", d, "file.txt"), "FAIL");
	CHECK_STR(lt_lookup("dsearch,filter=dir", d, "sub"), "sub");
	CHECK_STR(lt_lookup("dsearch,filter=subdir", d, "sub"), "sub");
	CHECK_STR(lt_lookup("dsearch,filter=subdir", d, ".."), "FAIL");
	CHECK_STR(lt_lookup("dsearch,filter=dir", d, ".."), "..");
	CHECK_STR(lt_lookup("dsearch,filter=file", d, "link"), "FAIL"); /* lstat: a link is not a file */
	CHECK_STR(lt_lookup("dsearch", d, "link"), "link");
	CHECK_STR(lt_lookup("dsearch", d, "missing"), "FAIL");
	CHECK_STR(lt_lookup("dsearch", d, "a/b"), "DEFER: lookup of \"a/b\" gave DEFER: key for dsearch lookup contains a slash: a/b");
	CHECK_STR(lt_lookup("dsearch", "relative", "x"),
		"DEFER: failed to open relative for directory search: No such file or directory");
	CHECK_STR(lt_lookup("dsearch", "/nonexist", "x"),
		"DEFER: failed to open /nonexist for directory search: No such file or directory");
}

static void test_cdb(void)
{
	if (!lt_have("cdb")) {
		printf("SKIP cdb tests: tinycdb's cdb tool not installed\n");
		return;
	}
	const char *src = lt_write("cdb.in", "+3,4:abc->defg\n+1,0:e->\n+5,12:multi->with\nnewline\n+3,1:abc->2\n\n");
	const char *db = lt_path("t.cdb");
	CHECK_INT(lt_sh("cdb -c %s < %s", db, src), 0);
	CHECK_STR(lt_lookup("cdb", db, "abc"), "defg"); /* the first of duplicate keys */
	CHECK_STR(lt_lookup("cdb", db, "e"), "");
	CHECK_STR(lt_lookup("cdb", db, "multi"), "with\nnewline");
	CHECK_STR(lt_lookup("cdb", db, "ABC"), "FAIL");
	CHECK_STR(lt_lookup("cdb", db, "nothere"), "FAIL");
	/* Many keys, so the hash tables have collisions and several slots. */
	FILE *f = fopen(lt_path("big.in"), "w");
	for (int i = 0; i < 2000; i++) {
		char k[32], v[32];
		snprintf(k, sizeof k, "key%d", i);
		snprintf(v, sizeof v, "value%d", i * 7);
		fprintf(f, "+%zu,%zu:%s->%s\n", strlen(k), strlen(v), k, v);
	}
	fputs("\n", f);
	fclose(f);
	const char *big = lt_path("big.cdb");
	CHECK_INT(lt_sh("cdb -c %s < %s", big, lt_path("big.in")), 0);
	int ok = 0;
	for (int i = 0; i < 2000; i++) {
		char k[32], v[32];
		snprintf(k, sizeof k, "key%d", i);
		snprintf(v, sizeof v, "value%d", i * 7);
		ok += strcmp(lt_lookup("cdb", big, k), v) == 0;
	}
	CHECK_INT(ok, 2000);
	CHECK_STR(lt_lookup("cdb", big, "key2000"), "FAIL");
	CHECK_STR(lt_lookup("cdb", "/nonexist", "x"), "DEFER: failed to open /nonexist for cdb lookup: No such file or directory");
	/* Truncated and corrupt files never crash. */
	const char *shortf = lt_write("short.cdb", "tiny");
	char want[600];
	snprintf(want, sizeof want, "DEFER: failed to open %s too short for cdb lookup: Success", shortf);
	CHECK_STR(lt_lookup("cdb", shortf, "x"), want);
	lt_sh("head -c 2100 %s > %s", big, lt_path("trunc.cdb"));
	const char *r = lt_lookup("cdb", lt_path("trunc.cdb"), "key5");
	CHECK(strcmp(r, "FAIL") == 0 || lt_defer_starts(r, "DEFER: cdb: corrupt cdb file"));
	lt_sh("mkdir -p %s/adir", lt_dir);
	snprintf(want, sizeof want, "DEFER: failed to open cannot read header from %s/adir for cdb lookup: Is a directory", lt_dir);
	CHECK_STR(lt_lookup("cdb", lt_path("adir"), "x"), want);
	snprintf(want, sizeof want, "DEFER: %s/adir is not a regular file (lsearch lookup)", lt_dir);
	CHECK_STR(lt_lookup("lsearch", lt_path("adir"), "x"), want);
	CHECK_STR(lt_lookup("iplsearch", "/dev/null", "1.2.3.4"), "DEFER: /dev/null is not a regular file (lsearch lookup)");
	lt_sh("cd %s && head -c 2048 /dev/urandom > junk.cdb && cat cdb.in >> junk.cdb", lt_dir);
	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		r = lt_lookup("cdb", lt_path("junk.cdb"), k);
		CHECK(r != NULL);
	}
}

static void test_dbm(void)
{
#if LOOKUP_DBM
	if (!lt_have("exim_dbmbuild")) {
		printf("SKIP dbm tests: exim_dbmbuild not installed\n");
		return;
	}
	const char *src = lt_write("dbm.in", "alpha: one\nbeta: two words\n\"with space\": sp\n");
	const char *db = lt_path("aliases.db");
	CHECK_INT(lt_sh("exim_dbmbuild %s %s >/dev/null", src, db), 0);
	CHECK_STR(lt_lookup("dbm", db, "alpha"), "one");
	CHECK_STR(lt_lookup("dbm", db, "beta"), "two words");
	CHECK_STR(lt_lookup("dbm", db, "with space"), "sp");
	CHECK_STR(lt_lookup("dbm", db, "gamma"), "FAIL");
	CHECK_STR(lt_lookup("dbmnz", db, "alpha"), "FAIL"); /* keys were stored with their NUL */
	CHECK_STR(lt_lookup("partial-dbm", db, "x.alpha"), "FAIL");
	const char *nz = lt_path("nz.db");
	CHECK_INT(lt_sh("exim_dbmbuild -nozero %s %s >/dev/null", src, nz), 0);
	CHECK_STR(lt_lookup("dbmnz", nz, "alpha"), "one");
	CHECK_STR(lt_lookup("dbm", nz, "alpha"), "FAIL");
	/* dbmjz: list items joined with NULs, no terminator (Cyrus sasldb style); db_load -T reads
	 * \00 as a NUL byte. */
	if (lt_have("db_load")) {
		const char *jzsrc = lt_write("jz.txt", "user\\00realm\\00userPassword\nsecret\n");
		const char *jz = lt_path("jz.db");
		CHECK_INT(lt_sh("db_load -T -t hash -f %s %s", jzsrc, jz), 0);
		CHECK_STR(lt_lookup("dbmjz", jz, "user:realm:userPassword"), "secret");
		CHECK_STR(lt_lookup("dbmjz", jz, "<; user;realm;userPassword"), "secret");
		CHECK_STR(lt_lookup("dbmjz", jz, "user:realm"), "FAIL");
		CHECK_STR(lt_lookup("dbm", jz, "user"), "FAIL");
	}
	char want[600];
	snprintf(want, sizeof want, "DEFER: failed to open %s as a db (v4.1+) file: No such file or directory",
		"/nonexist");
	CHECK_STR(lt_lookup("dbm", "/nonexist", "x"), want);
#else
	printf("SKIP dbm tests: built without Berkeley DB\n");
#endif
}

static void test_json(void)
{
#if LOOKUP_JSON
	const char *f = lt_write("j.json",
		"{\"a\": {\"b\": \"bee\", \"n\": 42, \"arr\": [10, \"two\", {\"x\": true}]},\n"
		" \"s\": \"quoted \\\"str\\\"\", \"nul\": null, \"f\": false, \"obj\": {\"k\": 1}, \"r\": 2.5}\n");
	CHECK_STR(lt_lookup("json", f, "a:b"), "bee");
	CHECK_STR(lt_lookup("json", f, "a:n"), "42");
	CHECK_STR(lt_lookup("json", f, "a:arr:0"), "10");
	CHECK_STR(lt_lookup("json", f, "a:arr:1"), "two");
	CHECK_STR(lt_lookup("json", f, "a:arr:2:x"), "true");
	CHECK_STR(lt_lookup("json", f, "a:arr:3"), "FAIL");
	CHECK_STR(lt_lookup("json", f, "s"), "quoted \"str\"");
	CHECK_STR(lt_lookup("json", f, "f"), "false");
	CHECK_STR(lt_lookup("json", f, "nul"), "FAIL");
	CHECK_STR(lt_lookup("json", f, "obj"), "{\"k\": 1}");
	CHECK_STR(lt_lookup("json", f, "a:arr"), "[10, \"two\", {\"x\": true}]");
	CHECK_STR(lt_lookup("json", f, "r"), "2.500000");
	CHECK_STR(lt_lookup("json", f, "<; a;b"), "bee");
	CHECK_STR(lt_lookup("json", f, "a:b:c"), "FAIL");
	CHECK_STR(lt_lookup("json", f, "missing"), "FAIL");
	CHECK_STR(lt_lookup("json", f, "a:0"), "FAIL");
	const char *bad = lt_write("bad.json", "{\"a\": ");
	CHECK(lt_defer_starts(lt_lookup("json", bad, "a"), "DEFER: json error"));
#else
	printf("SKIP json tests: built without jansson\n");
#endif
}

static void test_lmdb(void)
{
#if LOOKUP_LMDB
	if (!lt_have("mdb_load")) {
		printf("SKIP lmdb tests: mdb_load not installed\n");
		return;
	}
	const char *dump = lt_write("lm.txt", "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n"
		" first\n 1\n second\n A=1 B=2\n third\n \nDATA=END\n");
	const char *db = lt_path("lm.mdb");
	CHECK_INT(lt_sh("mdb_load -n -f %s %s", dump, db), 0);
	CHECK_STR(lt_lookup("lmdb", db, "first"), "1");
	CHECK_STR(lt_lookup("lmdb", db, "second"), "A=1 B=2");
	CHECK_STR(lt_lookup("lmdb", db, "third"), "");
	CHECK_STR(lt_lookup("lmdb", db, "fourth"), "FAIL");
	CHECK_STR(lt_lookup("lmdb*", db, "fourth"), "FAIL");
	CHECK_STR(lt_lookup("lmdb,ret=key", db, "first"), "first");
	CHECK_STR(lt_lookup("lmdb", "relative.mdb", "first"), "DEFER: absolute file name expected for \"lmdb\" lookup");
	CHECK(lt_defer_starts(lt_lookup("lmdb", "/nonexist", "x"), "DEFER: LMDB: Unable to open environment with /nonexist: "));
#else
	printf("SKIP lmdb tests: built without liblmdb\n");
#endif
}

static void test_sqlite(void)
{
#if LOOKUP_SQLITE
	const char *db = lt_path("s.sqlite");
	sqlite3 *h;
	CHECK_INT(sqlite3_open(db, &h), SQLITE_OK);
	CHECK_INT(sqlite3_exec(h, "create table t(a,b); insert into t values('k','v');"
		"insert into t values('sp ace','q\"x'); insert into t values('', NULL);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	CHECK_STR(lt_lookup("sqlite", db, "select b from t where a='k'"), "v");
	CHECK_STR(lt_lookup("sqlite", db, "select a,b from t"), "a=k b=v \na=\"sp ace\" b=q\"x \na=\"\" b=<NULL> ");
	CHECK_STR(lt_lookup("sqlite", db, "select b from t where a=''"), "<NULL>");
	CHECK_STR(lt_lookup("sqlite", db, "select a from t where a='zz'"), "FAIL");
	CHECK_STR(lt_lookup("sqlite", db, "selec b from t"), "FAIL"); /* 4.96: errors fail the lookup */
	CHECK_STR(lt_lookup("sqlite", db, "select 1 as \"x y\", 2.5, x'4142'"), "x y=1 2.5=2.5 x'4142'=AB ");
	CHECK_STR(lt_lookup("sqlite", db, "select a from t where a='k'; select 'second'"), "k\nsecond");
	/* Splitting "/file query" for the expansion engine. */
	search_spec spec;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(search_spec_parse(SV_LIT("sqlite"), &spec, &err));
	sv file, rest;
	CHECK(search_split_query_file(&spec, SV_LIT("/x/y.db select 1"), &file, &rest, &err));
	CHECK_STR(sv_dup(pool_scratch, file), "/x/y.db");
	CHECK_STR(sv_dup(pool_scratch, rest), "select 1");
	CHECK(!search_split_query_file(&spec, SV_LIT("select 1"), &file, &rest, &err));
	CHECK_STR(xbuf_cstr(&err), "absolute file name expected for \"sqlite\" lookup");
	xbuf_reset(&err);
	CHECK(search_spec_parse(SV_LIT("sqlite,file=/a/b.db"), &spec, &err));
	CHECK(search_split_query_file(&spec, SV_LIT("select 2"), &file, &rest, &err));
	CHECK_STR(sv_dup(pool_scratch, file), "/a/b.db");
	CHECK_STR(sv_dup(pool_scratch, rest), "select 2");
	/* quote_sqlite doubles single quotes only. */
	const lookup_info *li = search_driver(SV_LIT("sqlite"));
	xbuf q;
	xbuf_init(&q, NULL);
	CHECK(li->quote(SV_LIT("it's \"x\"\n"), SV_NULL, &q, &err));
	CHECK_STR(xbuf_cstr(&q), "it''s \"x\"\n");
	xbuf_free(&q);
	xbuf_free(&err);
#else
	printf("SKIP sqlite tests: built without libsqlite3\n");
#endif
}

static void test_passwd(void)
{
	CHECK_STR(lt_query("passwd", "root"), "*:0:0:root:/root:/bin/bash");
	CHECK_STR(lt_query("passwd", "nosuchuserx"), "FAIL");
	CHECK_STR(lt_query("passwd", ""), "FAIL");
	CHECK(search_driver(SV_LIT("passwd"))->quote == NULL);
}

int main(void)
{
	lt_init();
	RUN(test_lsearch_format);
	RUN(test_wildlsearch);
	RUN(test_iplsearch);
	RUN(test_dsearch);
	RUN(test_cdb);
	RUN(test_dbm);
	RUN(test_json);
	RUN(test_lmdb);
	RUN(test_sqlite);
	RUN(test_passwd);
	search_tidyup();
	return unit_report("test_lookups_files");
}
