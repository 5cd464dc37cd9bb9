/* List matching for domains, local parts, addresses, hosts and plain strings. Expected answers
 * are those of Exim 4.96's ${if match_domain / match_local_part / match_address / match_ip /
 * inlist} on the same lists. */
#include "../unit.h"
#include "lookup_test.h"

static const char *named(const char *kind, const char *name)
{
	static const struct { const char *kind, *name, *text; } lists[] = {
		{ "domain", "dl", "a.com : *.b.com" },
		{ "domain", "dl2", "!x.com : +dl" },
		{ "domain", "loop", "+loop" },
		{ "domain", "dyn", "$var" },
		{ "address", "al", "u@a.com" },
		{ "localpart", "ll", "^post" },
		{ "host", "hl", "10.0.0.0/8" },
	};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
		if (strcmp(lists[i].kind, kind) == 0 && strcmp(lists[i].name, name) == 0)
			return lists[i].text;
	return NULL;
}

static int expand_calls;
static int fake_expand(void *ectx, sv in, xbuf *out, xbuf *err)
{
	expand_calls++;
	if (sv_eq_cstr(in, "$var")) {
		xbuf_puts(out, "dyn.example");
		return 0;
	}
	xbuf_putsv(out, in);
	return 0;
}

static match_ctx ctx = { .expand = fake_expand, .primary_hostname = "test.example" };

/* "y", "n" or "DEFER: msg" */
static const char *m(enum match_kind kind, const char *subject, const char *list)
{
	static char out[8][1024];
	static int n;
	char *o = out[n++ % 8];
	xbuf err;
	xbuf_init(&err, NULL);
	bool caseless = kind != MATCH_STRING;
	int rc = match_isinlist(sv_cstr(subject), sv_cstr(list), 0, kind, caseless, &ctx, &err);
	snprintf(o, 1024, "%s%s", rc == SEARCH_OK ? "y" : rc == SEARCH_FAIL ? "n" : "DEFER: ",
		rc == SEARCH_DEFER ? xbuf_cstr(&err) : "");
	xbuf_free(&err);
	return o;
}

#define D(s, l) m(MATCH_DOMAIN, s, l)
#define LP(s, l) m(MATCH_LOCALPART, s, l)
#define A(s, l) m(MATCH_ADDRESS, s, l)
#define H(s, l) m(MATCH_HOST, s, l)

static void test_domains(void)
{
	char list[512];
	const char *dom = lt_write("dom.txt", "a.com\n*.wild.org\n# comment\n^re\\d+$ # trailing\n!neg.com\nNeg.org\n");
	const char *l = lt_write("l.txt", "foo: bar\n*.wild.com: wildval\npath: x\n");
	CHECK_STR(D("a.com", "+nosuch"), "DEFER: unable to complete match against \"+nosuch\": unknown named domain list \"+nosuch\"");
	CHECK_STR(D("a.com", "+dl"), "y");
	CHECK_STR(D("x.b.com", "+dl2"), "y");
	CHECK_STR(D("x.com", "+dl2"), "n");
	CHECK_STR(D("A.COM", "a.com"), "y");
	CHECK_STR(D("a.com", "^A\\.COM$"), "y");
	CHECK_STR(D("a.com", "^(?-i)A\\.COM$"), "n");
	CHECK_STR(D("re12", dom), "y");
	CHECK_STR(D("neg.com", dom), "n");
	snprintf(list, sizeof list, "!%s", dom);
	CHECK_STR(D("neg.com", list), "y");
	CHECK_STR(D("neg.org", dom), "y");
	CHECK_STR(D("x.wild.org", dom), "y");
	CHECK_STR(D("comment", dom), "n");
	const char *withnamed = lt_write("named.txt", "other.example\n+dl\n");
	CHECK_STR(D("x.b.com", withnamed), "n"); /* 4.96: no named lists inside files */
	CHECK_STR(D("+dl", withnamed), "y");
	CHECK_STR(D("x.y", "/nonexist/file"), "DEFER: unable to complete match against \"/nonexist/file\": failed to open /nonexist/file when checking \"/nonexist/file\": No such file or directory");
	CHECK_STR(D("test.example", "@"), "y");
	CHECK_STR(D("other.example", "@"), "n");
	CHECK(lt_starts(D("test.example", "@mx_any"), "DEFER: unable to complete match against \"@mx_any\": \"@mx_any\" in a domain list needs DNS"));
	CHECK_STR(D("x.y", "!a:!b"), "y");
	CHECK_STR(D("a", "!a:!b"), "n");
	CHECK_STR(D("a.com", " ! a.com : *"), "n");
	CHECK_STR(D("b.com", " ! a.com : *"), "y");
	CHECK_STR(D("a.com", "+dl : +dl"), "y");
	CHECK_STR(D("a.com", "!!a.com"), "y");
	CHECK_STR(D("a.com", "! !a.com"), "y");
	CHECK_STR(D("a.com", " a.com "), "y");
	CHECK_STR(D("x.y", "lsearch;/nonexist"), "DEFER: unable to complete match against \"lsearch;/nonexist\": failed to open /nonexist for linear search: No such file or directory");
	snprintf(list, sizeof list, "partial-lsearch;%s", l);
	CHECK_STR(D("a.com", list), "n");
	CHECK_STR(D("a.b.wild.com", list), "y");
	snprintf(list, sizeof list, "nosuch;%s", l);
	CHECK(lt_starts(D("x", list), "DEFER: unable to complete match against \"nosuch;"));
	CHECK(strstr(D("x", list), "\": unknown lookup type \"nosuch\"") != NULL);
	CHECK_STR(D("a.com", "<; a.com; b"), "y");
	CHECK_STR(D("a.com", "*"), "y");
	CHECK_STR(D("", "*"), "y");
	CHECK_STR(D("", ""), "n");
	CHECK_STR(D("", ":"), "y");
	CHECK_STR(D("donkey.ex", "*key.ex"), "y");
	CHECK_STR(D("cipher.key.ex", "*key.ex"), "y");
	CHECK_STR(D("key.exx", "*key.ex"), "n");
	CHECK_STR(D("x", "^(bad"), "DEFER: unable to complete match against \"^(bad\": regular expression error: missing closing parenthesis at offset 5 while compiling ^(bad");
	CHECK_STR(D("a.com", "+loop"), "DEFER: unable to complete match against \"+loop\": named lists nested too deeply at \"+loop\"");
	/* Named lists with "$" are expanded each time; others are cached per subject. */
	expand_calls = 0;
	CHECK_STR(D("dyn.example", "+dyn"), "y");
	CHECK_STR(D("dyn.example", "+dyn"), "y");
	CHECK_INT(expand_calls, 2);
	expand_calls = 0;
	CHECK_STR(D("cached.b.com", "+dl"), "y");
	CHECK_STR(D("cached.b.com", "+dl"), "y");
	CHECK_INT(expand_calls, 1);
	search_tidyup(); /* forgets cached named-list results */
	CHECK_STR(D("cached.b.com", "+dl"), "y");
	CHECK_INT(expand_calls, 2);
	CHECK_STR(D("[127.0.0.1]", "@[]"), "y");
	CHECK_STR(D("[192.0.2.99]", "@[]"), "n");
	/* The lookup's data is returned for $domain_data. */
	xbuf data, err;
	xbuf_init(&data, NULL);
	xbuf_init(&err, NULL);
	match_ctx c2 = ctx;
	c2.matched_data = &data;
	snprintf(list, sizeof list, "lsearch;%s", l);
	CHECK_INT(match_isinlist(SV_LIT("foo"), sv_cstr(list), 0, MATCH_DOMAIN, true, &c2, &err), SEARCH_OK);
	CHECK_STR(xbuf_cstr(&data), "bar");
	CHECK_INT(match_isinlist(SV_LIT("x.y.com"), SV_LIT("q.com : *.y.com"), 0, MATCH_DOMAIN, true, &c2, &err), SEARCH_OK);
	CHECK_STR(xbuf_cstr(&data), "*.y.com");
	CHECK_INT(match_isinlist(SV_LIT("test.example"), SV_LIT("@"), 0, MATCH_DOMAIN, true, &c2, &err), SEARCH_OK);
	CHECK_STR(xbuf_cstr(&data), "test.example");
	xbuf_free(&data);
	xbuf_free(&err);
}

static const char *numvars(void)
{
	static char o[256];
	sv v[10];
	size_t n = match_last_numeric(v, 10);
	o[0] = 0;
	for (size_t i = 0; i < n; i++)
		snprintf(o + strlen(o), sizeof o - strlen(o), "%s" SV_FMT, i ? "|" : "", SV_ARG(v[i]));
	return o;
}

static void test_numeric_vars(void)
{
	/* Exim: ${if match_domain{a.b.c}{*.b.c}{<$0:$1>}} gives <a.b.c:a>, and for ^a\.(b) <a.b:b>. */
	CHECK_STR(D("a.b.c", "*.b.c"), "y");
	CHECK_STR(numvars(), "a.b.c|a");
	CHECK_STR(D("a.b.c", "x : ^a\\.(b)"), "y");
	CHECK_STR(numvars(), "a.b.c|b");
	CHECK_STR(D("a.b.c", "a.b.c"), "y");
	CHECK_STR(numvars(), "");
	CHECK_STR(D("a.b.c", "^(x)?a"), "y");
	CHECK_STR(numvars(), "a.b.c");
}

static void test_local_parts(void)
{
	const char *lp = lt_write("lp.txt", "a # c\nnot#comment # c\n");
	CHECK_STR(LP("postmaster", "+ll"), "y");
	CHECK_STR(LP("Post", "post"), "y");
	CHECK_STR(LP("Post", "+caseful:post"), "n");
	CHECK_STR(LP("post", "+caseful:post"), "y");
	CHECK_STR(LP("x", "@"), "n");
	CHECK_STR(LP("x", lp), "n");
	CHECK_STR(LP("a", lp), "y");
	CHECK_STR(LP("not#comment", lp), "y");
	CHECK_STR(LP("user-suffix", "*-suffix"), "y");
}

static void test_addresses(void)
{
	char list[512];
	const char *l4 = lt_write("l4.txt", "a.com: bad : >*\n*: worse\nu@x.com: yes\n");
	CHECK_STR(A("u@a.com", "+al"), "y");
	CHECK_STR(A("U@A.com", "u@a.com"), "y");
	CHECK_STR(A("u@a.com", "a.com"), "y");
	CHECK_STR(A("u@a.com", "*.com"), "y");
	CHECK_STR(A("u@a.com", "*@a.com"), "y");
	CHECK_STR(A("u@a.com", "u*@a.com"), "n");
	CHECK_STR(A("u@a.com", "*u@a.com"), "y");
	CHECK_STR(A("u@a.com", "^u@"), "y");
	snprintf(list, sizeof list, "@@lsearch;%s", l4);
	CHECK_STR(A("u@a.com", list), "n");
	CHECK_STR(A("bad@a.com", list), "y");
	CHECK_STR(A("worse@a.com", list), "y"); /* via the ">*" chain */
	CHECK_STR(A("good@a.com", list), "n");
	CHECK_STR(A("x@nowhere.com", list), "n");
	snprintf(list, sizeof list, "lsearch*@;%s", l4);
	CHECK_STR(A("u@x.com", list), "y");
	snprintf(list, sizeof list, "lsearch;%s", l4);
	CHECK_STR(A("u@a.com", list), "n");
	CHECK_STR(A("u@x.com", list), "y");
	CHECK_STR(A("U@X.com", list), "y");
	snprintf(list, sizeof list, "partial-lsearch;%s", l4);
	CHECK_STR(A("u@x.com", list), "y"); /* partial- is ignored (and logged) */
	char want[600];
	snprintf(want, sizeof want, "partial matching is not applicable to whole-address lookups: "
		"ignored \"partial-\" in \"%s\"", list);
	CHECK_STR(lt_last_log, want);
	snprintf(list, sizeof list, "*@lsearch;%s", l4);
	CHECK_STR(A("u@x.com", list), "n");
	/* Lookups see the domain (and, without +caseful, the local part) in lower case; cdb is
	 * case-sensitive, so this shows the key used. */
	if (lt_have("cdb")) {
		char cl[600];
		lt_write("addr.in", "+7,1:u@x.com->y\n+5,1:x.com->l\n\n");
		lt_sh("cdb -c %s/addr.cdb < %s/addr.in", lt_dir, lt_dir);
		snprintf(cl, sizeof cl, "cdb;%s/addr.cdb", lt_dir);
		CHECK_STR(A("U@X.COM", cl), "y");
		snprintf(cl, sizeof cl, "+caseful : cdb;%s/addr.cdb", lt_dir);
		CHECK_STR(A("U@X.COM", cl), "n");
		CHECK_STR(A("u@X.COM", cl), "y");
		snprintf(cl, sizeof cl, "*@cdb;%s/addr.cdb", lt_dir);
		CHECK_STR(A("U@X.COM", cl), "y");
	}
	CHECK_STR(A("u@a.com", "u@+dl"), "y");
	CHECK_STR(A("u@q.b.com", "*@+dl"), "y");
	CHECK_STR(A("u@q.c.com", "*@+dl"), "n");
	CHECK_STR(A("", ":"), "y");
	CHECK_STR(A("", "^$"), "y");
	CHECK_STR(A("", "*@a.com"), "n");
	lt_last_log[0] = 0;
	CHECK_STR(A("a@b@c.com", "a@b@c.com"), "y");
	CHECK_STR(A("a@b@c.com", "a@b@*"), "y");
	CHECK_STR(A("a@b@c.com", "*@b@c.com"), "y");
	CHECK_STR(A("a@c.com", "@c.com"), "n");
	CHECK_STR(A("a@c.com", "a@"), "n");
	CHECK_STR(A("@c.com", "@c.com"), "y");
	CHECK_STR(A("a@c.com", "*"), "y");
	CHECK_STR(A("A@c.com", "^a@"), "y");
	CHECK_STR(A("A@c.com", "+caseful:^a@"), "n");
	CHECK_STR(A("u", "u"), "n");
	CHECK_STR(lt_last_log, "no @ found in the subject of an address list match: subject=\"u\" pattern=\"u\"");
	CHECK_STR(A("u", "u@a.com"), "n");
	/* Exim's wording when a list item cannot be decided (checked with 4.96). */
	CHECK_STR(D("a/b", "dsearch;/tmp"), "DEFER: unable to complete match against \"dsearch;/tmp\": key for dsearch lookup contains a slash: a/b");
	CHECK_STR(A("Mixed@Example.COM", "+caseful : mixed@example.com"), "n");
	CHECK_STR(A("Mixed@Example.COM", "+caseful : Mixed@example.com"), "y");
}

static void test_hosts(void)
{
	char list[512];
	const char *ip = lt_write("ip.txt", "1.2.3.4: one\n10.0.0.0/8 ten\n\"2001:db8::/32\": doc\n");
	const char *n = lt_write("n.txt", "10.1.2.0/24: net24\n10.1.2.3: net\n"
		"2001.0db8.0000.0000.0000.0000.0000.0001: v6\n2001.0db8.0000.0000.0000.0000.0000.0000/64: v6n\n");
	CHECK_STR(H("10.1.2.3", "+hl"), "y");
	CHECK_STR(H("10.1.2.3", "10.1.2.3"), "y");
	CHECK_STR(H("10.1.2.3", "10.0.0.0/8"), "y");
	CHECK_STR(H("11.1.2.3", "10.0.0.0/8"), "n");
	CHECK_STR(H("::ffff:10.1.2.3", "10.0.0.0/8"), "y");
	CHECK_STR(H("2001:db8::1", "<; 2001:db8::/32"), "y");
	CHECK_STR(H("2001:db8::1", "2001::db8::::/32"), "y"); /* doubled colons in a colon list */
	CHECK_STR(H("2001:db9::1", "<; 2001:db8::/32"), "n");
	CHECK_STR(H("10.1.2.3", "<; 2001:db8::/32"), "n");
	snprintf(list, sizeof list, "net24-lsearch;%s", n);
	CHECK_STR(H("10.1.2.3", list), "y");
	snprintf(list, sizeof list, "net-lsearch;%s", n);
	CHECK_STR(H("10.1.2.3", list), "y");
	CHECK_STR(H("10.1.2.4", list), "n");
	CHECK_STR(H("2001:db8:0:0:0:0:0:1", list), "y");
	snprintf(list, sizeof list, "net64-lsearch;%s", n);
	CHECK_STR(H("2001:db8::1", list), "y");
	snprintf(list, sizeof list, "iplsearch;%s", ip);
	CHECK_STR(H("10.1.2.3", list), "y");
	snprintf(list, sizeof list, "net-iplsearch;%s", ip);
	CHECK_STR(H("10.1.2.3", list), "y");
	CHECK_STR(H("2001:db8::7", list), "y");
	CHECK_STR(H("10.1.2.3", "*"), "y");
	CHECK_STR(H("10.1.2.3", "foo.example"), "n");
	CHECK_STR(H("10.1.2.3", "*.example"), "n");
	CHECK_STR(H("10.1.2.3", ":"), "n");
	CHECK_STR(H("", ":"), "y");
	CHECK_STR(H("", "*"), "y");
	CHECK_STR(H("", "10.0.0.0/8"), "n");
	CHECK_STR(H("x", "1.2.3.4"), "DEFER: \"x\" is not an IP address");
	CHECK_STR(H("10.1.2.3", "<; ::ffff:10.1.2.0/120"), "n");
	CHECK_STR(H("::ffff:10.1.2.3", "<; ::ffff:10.1.2.3"), "n");
	CHECK_STR(H("::ffff:10.1.2.3", "10.1.2.3"), "y");
	CHECK_STR(H("1.2.3.00", "1.2.3.0"), "DEFER: \"1.2.3.00\" is not an IP address");
	/* A mask beyond the address length means every bit (Exim 4.96). */
	CHECK_STR(H("10.1.2.3", "10.1.2.0/33"), "n");
	CHECK_STR(H("10.1.2.3", "10.1.2.3/33"), "y");
	CHECK_STR(H("10.1.2.3", "10.1.2.3/4294967328"), "y");
	CHECK_STR(H("::1", "<; ::1/129"), "y");
	CHECK_STR(H("::2", "<; ::1/129"), "n");
	/* Exim reads an empty mask as /0; Postern refuses it (FINDINGS.md). */
	CHECK_STR(H("9.9.9.9", "10.1.2.3/"), "n");
	CHECK_STR(H("10.1.2.3", "@[]"), "n");
	CHECK_STR(H("127.0.0.1", "@[]"), "y");
	CHECK_STR(H("10.1.2.3", "+include_unknown : *.example"), "y");
	CHECK_STR(H("10.1.2.3", "+ignore_unknown : *.example : 10.1.2.3"), "y");
	CHECK_STR(H("10.1.2.3", "*.example : 10.1.2.3"), "n"); /* an unknown name ends the list */
	CHECK_STR(H("10.1.2.3", "10.1.2.3 : *.example"), "y");
	/* With a known host name, name patterns apply. */
	match_ctx c2 = ctx;
	c2.host_name = "mail.friend.example";
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK_INT(match_isinlist(SV_LIT("192.0.2.1"), SV_LIT("*.friend.example"), 0, MATCH_HOST, true, &c2, &err), SEARCH_OK);
	CHECK_INT(match_isinlist(SV_LIT("192.0.2.1"), SV_LIT("^mail\\."), 0, MATCH_HOST, true, &c2, &err), SEARCH_OK);
	CHECK_INT(match_isinlist(SV_LIT("192.0.2.1"), SV_LIT("MAIL.friend.example"), 0, MATCH_HOST, true, &c2, &err), SEARCH_OK);
	CHECK_INT(match_isinlist(SV_LIT("192.0.2.1"), SV_LIT("*.enemy.example"), 0, MATCH_HOST, true, &c2, &err), SEARCH_FAIL);
	const char *names = lt_write("names.txt", "mail.friend.example: known\n");
	snprintf(list, sizeof list, "lsearch;%s", names);
	CHECK_INT(match_isinlist(SV_LIT("192.0.2.1"), sv_cstr(list), 0, MATCH_HOST, true, &c2, &err), SEARCH_OK);
	xbuf_free(&err);
}

static int fake_resolver(const char *name, const char *ip, xbuf *err)
{
	if (strcmp(name, "localhost") == 0)
		return strcmp(ip, "127.0.0.1") == 0 ? SEARCH_OK : SEARCH_FAIL;
	if (strcmp(name, "flaky.example") == 0) {
		xbuf_puts(err, "temporary DNS failure");
		return SEARCH_DEFER;
	}
	return MATCH_NAME_UNKNOWN;
}

static void test_host_name_resolution(void)
{
	/* Without a resolver (${if match_ip}), names are unknown: Exim 4.96 gives n for both. */
	CHECK_STR(H("127.0.0.1", "localhost"), "n");
	CHECK_STR(H("10.0.0.1", "localhost : 10.0.0.1"), "n");
	match_host_lookup_hook = fake_resolver;
	CHECK_STR(H("127.0.0.1", "localhost"), "y");
	CHECK_STR(H("10.0.0.1", "localhost : 10.0.0.1"), "y");
	CHECK_STR(H("10.0.0.1", "nosuch.invalid : 10.0.0.1"), "n");
	CHECK_STR(H("10.0.0.1", "+ignore_unknown : nosuch.invalid : 10.0.0.1"), "y");
	CHECK_STR(H("10.0.0.1", "flaky.example : 10.0.0.1"),
		"DEFER: unable to complete match against \"flaky.example\": temporary DNS failure");
	CHECK_STR(H("10.0.0.1", "+ignore_defer : flaky.example : 10.0.0.1"), "y");
	CHECK_STR(H("10.0.0.1", "+include_defer : flaky.example"), "y");
	match_host_lookup_hook = NULL;
}

static void test_strings(void)
{
	CHECK_STR(m(MATCH_STRING, "a", "A:b"), "n");
	xbuf e0;
	xbuf_init(&e0, NULL);
	/* Domains are caseless even when the caller asks for exact case. */
	CHECK_INT(match_isinlist(SV_LIT("A.com"), SV_LIT("a.com"), 0, MATCH_DOMAIN, false, &ctx, &e0), SEARCH_OK);
	CHECK_INT(match_isinlist(SV_LIT("U@A.com"), SV_LIT("U@a.com"), 0, MATCH_ADDRESS, false, &ctx, &e0), SEARCH_OK);
	CHECK_INT(match_isinlist(SV_LIT("U@A.com"), SV_LIT("u@a.com"), 0, MATCH_ADDRESS, false, &ctx, &e0), SEARCH_FAIL);
	xbuf_free(&e0);
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK_INT(match_isinlist(SV_LIT("a"), SV_LIT("A:b"), 0, MATCH_STRING, true, &ctx, &err), SEARCH_OK);
	xbuf_free(&err);
	CHECK_STR(m(MATCH_STRING, "a", "*"), "n");
	CHECK_STR(m(MATCH_STRING, "abc", "^a"), "n");
	CHECK_STR(m(MATCH_STRING, "a", "!b"), "n");
	CHECK_STR(m(MATCH_STRING, "!b", "!b"), "y");
	CHECK_STR(m(MATCH_STRING, "+dl", "+dl"), "y");
	CHECK_STR(m(MATCH_STRING, "a.com", "+dl"), "n");
	CHECK_STR(m(MATCH_STRING, "x:y", "x::y : z"), "y");
	CHECK_STR(m(MATCH_STRING, "", ""), "n");
	/* match_string_item: the single-pattern form used by wildlsearch. */
	CHECK(match_string_item(SV_LIT("abc"), SV_LIT("^a"), false, &err));
	CHECK(match_string_item(SV_LIT("ABC"), SV_LIT("*bc"), true, &err));
	CHECK(!match_string_item(SV_LIT("ABC"), SV_LIT("*bc"), false, &err));
	CHECK(match_string_item(SV_LIT("Abc"), SV_LIT("abc"), true, &err));
}

int main(void)
{
	lt_init();
	match_named_list_hook = named;
	RUN(test_domains);
	RUN(test_numeric_vars);
	RUN(test_local_parts);
	RUN(test_addresses);
	RUN(test_hosts);
	RUN(test_host_name_resolution);
	RUN(test_strings);
	search_tidyup();
	return unit_report("test_match");
}
