/* The engine's own contracts: compile once / evaluate many, providers, taint, forbid flags,
 * bounds (nesting, output size, socket timeouts), stacking of $value/$item, hooks, messages. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expand/expand.h"
#include "expand/message.h"
#include "search/search.h"
#include "tests/unit/unit.h"

static xp_env env;
static xbuf out, err;

static void fresh(void)
{
	arena_clear(pool_scratch);
	xp_env_init(&env, pool_scratch);
	xbuf_init(&out, pool_scratch);
	xbuf_init(&err, pool_scratch);
}

/* Expand s; returns the result text or "Failed: ..." / "Forced: ...". */
static const char *ex(const char *s)
{
	xbuf_reset(&out);
	xbuf_reset(&err);
	int rc = xp_expand(&env, sv_cstr(s), &out, &err);
	if (rc == XP_OK)
		return xbuf_cstr(&out);
	return arena_printf(pool_scratch, "%s: %s", rc == XP_FORCEFAIL ? "Forced" : "Failed", xbuf_cstr(&err));
}

/* A provider: $who comes from ctx; $secret is tainted data from outside. */
static bool who_get(void *ctx, sv name, xbuf *o)
{
	if (sv_eq_cstr(name, "who")) {
		xbuf_puts(o, ctx);
		return true;
	}
	if (sv_eq_cstr(name, "secret")) {
		xbuf_puts(o, "data/f.txt");
		o->taint = 1;
		return true;
	}
	if (sv_eq_cstr(name, "primary_hostname")) {
		xbuf_puts(o, "override.example");
		return true;
	}
	return false;
}

static void test_compile_once(void)
{
	fresh();
	xp_prog *p = xp_compile(pool_scratch, SV_LIT("<${if eq{$who}{a}{A}{other:$who}}>"));
	const char *names[] = { "a", "b", "a" }, *want[] = { "<A>", "<other:b>", "<A>" };
	for (int i = 0; i < 3; i++) {
		xp_env e;
		xp_env_init(&e, pool_scratch);
		xp_provider prov = { .get = who_get, .ctx = (void *)names[i] };
		xp_env_push_provider(&e, &prov);
		xbuf o, er;
		xbuf_init(&o, pool_scratch);
		xbuf_init(&er, pool_scratch);
		CHECK_INT(xp_eval(p, &e, &o, &er), XP_OK);
		CHECK_STR(xbuf_cstr(&o), want[i]);
	}
	/* A syntax error is kept in the tree and reported at evaluation, every time. */
	xp_prog *bad = xp_compile(pool_scratch, SV_LIT("ok ${if eq{a}"));
	for (int i = 0; i < 2; i++) {
		xbuf o, er;
		xbuf_init(&o, pool_scratch);
		xbuf_init(&er, pool_scratch);
		CHECK_INT(xp_eval(bad, &env, &o, &er), XP_ERROR);
		CHECK_STR(xbuf_cstr(&er), "missing 2nd string in {} after \"eq\"");
	}
}

static void test_providers_and_registry(void)
{
	fresh();
	CHECK_STR(ex("$who"), "Failed: unknown variable name \"who\"");
	xp_provider prov = { .get = who_get, .ctx = "me" };
	xp_env_push_provider(&env, &prov);
	CHECK_STR(ex("$who ${who}"), "me me");
	CHECK_STR(ex("$primary_hostname"), "override.example");
	static const xp_var_def extra[] = { { "postern_test_var", NULL, "fixed-value" } };
	xp_var_register(extra, 1);
	CHECK_STR(ex("$postern_test_var"), "fixed-value");
	CHECK_STR(ex("${if def:postern_test_var{y}{n}}"), "y");
	xp_env_set_aclvar(&env, SV_LIT("acl_m_count"), SV_LIT("3"));
	CHECK_STR(ex("$acl_m_count/$acl_c0/${if def:acl_m_count{set}}"), "3//set");
	/* A registered table is searched before the built-in one, so a later layer can give a
	 * built-in name (empty by default) its real value. */
	CHECK_STR(ex("[$sender_host_name]"), "[]");
	static const xp_var_def later[] = { { "sender_host_name", NULL, "host.example" } };
	xp_var_register(later, 1);
	CHECK_STR(ex("[$sender_host_name]"), "[host.example]");
}

/* An ACL variable keeps its storage: a session's env->state lasts the whole connection, and an
 * acl_m variable is set and emptied once per message, so a copy per value grew the connection's
 * arena with every message. Values read back right, taint included. */
static void test_aclvar_storage_reused(void)
{
	fresh();
	arena *state = arena_new("test-aclvar-state");
	env.state = state;
	xp_env_set_aclvar(&env, SV_LIT("acl_m_sender"), SV_LIT("first@example.com"));
	size_t used = arena_bytes_in_use(state);
	for (int i = 0; i < 1000; i++) {
		char v[32];
		snprintf(v, sizeof v, "s%03d@example.com", i);
		xp_env_set_aclvar(&env, SV_LIT("acl_m_sender"), sv_cstr(v));
		CHECK_STR(ex("$acl_m_sender"), v);
		xp_env_set_aclvar(&env, SV_LIT("acl_m_sender"), SV_LIT(""));
		CHECK_STR(ex("<$acl_m_sender>"), "<>");
	}
	CHECK_INT(arena_bytes_in_use(state), used);
	xp_env_set_aclvar(&env, SV_LIT("acl_m_sender"), sv_tainted(SV_LIT("t@example.com")));
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("$acl_m_sender"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "t@example.com");
	CHECK_INT(out.taint, 1);
	xp_env_set_aclvar(&env, SV_LIT("acl_m_sender"), SV_LIT("u"));
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("$acl_m_sender"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "u");
	CHECK_INT(out.taint, 0);
	CHECK_INT(arena_bytes_in_use(state), used);
	/* longer than the storage: a new one */
	xp_env_set_aclvar(&env, SV_LIT("acl_m_sender"), SV_LIT("a much longer value than any before it"));
	CHECK_STR(ex("$acl_m_sender"), "a much longer value than any before it");
	CHECK(arena_bytes_in_use(state) > used);
	arena_free(state);
	env.state = NULL;
}

/* $lookup_dnssec_authenticated: what the last DNS-based lookup reported; other expansions and
 * lookups leave it alone, a dnssec_never lookup clears it. */
static void test_lookup_dnssec_authenticated(void)
{
	fresh();
	CHECK_STR(ex("[$lookup_dnssec_authenticated]"), "[]");
	search_set_dnssec_authenticated("yes");
	CHECK_STR(ex("[$lookup_dnssec_authenticated]"), "[yes]");
	CHECK_STR(ex("${if eq{$lookup_dnssec_authenticated}{yes}{Y}{N}}"), "Y");
	search_set_dnssec_authenticated("no");
	CHECK_STR(ex("[${lookup_dnssec_authenticated}]"), "[no]");
	search_set_dnssec_authenticated(NULL);
	CHECK_STR(ex("[$lookup_dnssec_authenticated]"), "[]");
}

static void test_taint(void)
{
	fresh();
	xp_provider prov = { .get = who_get, .ctx = "me" };
	xp_env_push_provider(&env, &prov);
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("literal"), &out, &err), XP_OK);
	CHECK_INT(out.taint, 0);
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("x${lc:$secret}"), &out, &err), XP_OK);
	CHECK_INT(out.taint, 1);
	CHECK_STR(ex("${expand:$secret}"),
		"Failed: internal expansion of \"data/f.txt\" failed: attempt to expand tainted string 'data/f.txt'");
	/* Exim 4.96 reports a tainted file name as a refused open. */
	CHECK(strncmp(ex("${readfile{$secret}}"), "Failed: failed to open data/f.txt: Permission denied (euid=", 58) == 0);
	CHECK_STR(ex("${readfile{data/f.txt}{,}}"), "l1,l2,");
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("${readfile{data/f.txt}}"), &out, &err), XP_OK);
	CHECK_INT(out.taint, 1); /* file contents come from outside */
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("${lookup{alpha}lsearch{data/ls.txt}}"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "one");
	CHECK_INT(out.taint, 0); /* Exim 4.96: lookup results are untainted */
}

/* A quoted tainted value keeps its lookup's quoter through concatenation with literals and other
 * parts quoted the same way; any unquoted or differently quoted tainted part clears it. */
static void test_quoter_through_concatenation(void)
{
	static const struct { const char *src; int taint; const char *quoted_for; } rows[] = {
		{ "select '${quote_pgsql:$secret}'", 1, "pgsql" },
		{ "${quote_pgsql:$secret}", 1, "pgsql" },
		{ "a ${quote_pgsql:$secret} b ${quote_pgsql:$secret} $who", 1, "pgsql" },
		{ "select '$secret'", 1, NULL },
		{ "${quote_pgsql:$secret}$secret", 1, NULL },
		{ "${quote_pgsql:$secret}${quote_redis:$secret}", 1, NULL },
		{ "${lc:${quote_pgsql:$secret}}", 1, NULL }, /* changed after quoting: no longer quoted */
		{ "plain $who", 0, NULL },
	};
	fresh();
	xp_provider prov = { .get = who_get, .ctx = "me" };
	xp_env_push_provider(&env, &prov);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf_reset(&out);
		CHECK_INT(xp_expand(&env, sv_cstr(rows[i].src), &out, &err), XP_OK);
		CHECK_INT(out.taint, rows[i].taint);
		unsigned want = rows[i].quoted_for ? search_quoter_id(search_driver(sv_cstr(rows[i].quoted_for))) : 0;
		if (rows[i].quoted_for)
			CHECK(want != 0);
		if (out.quoter != want)
			fprintf(stderr, "quoter row %zu: %s\n", i, rows[i].src);
		CHECK_INT(out.quoter, want);
	}
}

static void test_forbid(void)
{
	fresh();
	env.forbid = RDO_RUN | RDO_READFILE | RDO_LOOKUP | RDO_EXISTS | RDO_READSOCK | RDO_PERL | RDO_DLFUNC;
	CHECK_STR(ex("${perl{f}}"), "Failed: Perl calls are not permitted");
	CHECK_STR(ex("${dlfunc{a}{b}}"), "Failed: dynamically-loaded functions are not permitted");
	CHECK_STR(ex("${run{/bin/true}}"), "Failed: running a command is not permitted");
	CHECK_STR(ex("${readfile{data/f.txt}}"), "Failed: file insertions are not permitted");
	CHECK_STR(ex("${lookup{a}lsearch{data/ls.txt}}"), "Failed: lookup expansions are not permitted");
	CHECK_STR(ex("${if exists{/}}"), "Failed: File existence tests are not permitted");
	CHECK_STR(ex("${readsocket{/nonexist}{x}}"), "Failed: socket insertions are not permitted");
	/* Forbidden things in branches not taken are not errors. */
	CHECK_STR(ex("${if eq{a}{b}{${run{/bin/true}}}{fine}}"), "fine");
}

static void test_skip_has_no_side_effects(void)
{
	fresh();
	char path[] = "/tmp/postern-xp-skip-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	char *e = arena_printf(pool_scratch, "${if eq{a}{b}{${run{/usr/bin/touch %s}}}{skipped}}", path);
	CHECK_STR(ex(e), "skipped");
	struct stat st;
	CHECK(stat(path, &st) != 0);
	e = arena_printf(pool_scratch, "${run{/usr/bin/touch %s}{ran}}", path);
	CHECK_STR(ex(e), "ran");
	CHECK(stat(path, &st) == 0);
	unlink(path);
}

static void test_bounds(void)
{
	fresh();
	/* 100000 nested ${if: an error, not a stack overflow. */
	size_t n = 100000;
	xbuf deep;
	xbuf_init(&deep, NULL);
	for (size_t i = 0; i < n; i++)
		xbuf_puts(&deep, "${if eq{a}{a}{");
	xbuf_putc(&deep, 'x');
	for (size_t i = 0; i < n; i++)
		xbuf_puts(&deep, "}}");
	CHECK_STR(ex(xbuf_cstr(&deep)), "Failed: expansion is too deeply nested (limit 1000)");
	xbuf_reset(&deep);
	for (size_t i = 0; i < n; i++)
		xbuf_puts(&deep, "${if and{{");
	CHECK(strncmp(ex(xbuf_cstr(&deep)), "Failed: ", 8) == 0);
	xbuf_free(&deep);
	/* Nesting within the limits works. */
	CHECK_STR(ex("${if eq{a}{a}{${if eq{b}{b}{${if eq{c}{c}{deep}}}}}}"), "deep");
	/* Output size is bounded. */
	env.max_output = 1000;
	CHECK_STR(ex("${map{1:2:3:4:5:6:7:8:9:10}{${map{1:2:3:4:5:6:7:8:9:10}{0123456789}}}}"),
		"Failed: expansion result is too long (limit 1000 bytes)");
	/* A command's output is bounded too. */
	CHECK_STR(ex("${run{/bin/sh -c 'yes | head -c 5000'}}"),
		"Failed: output of ${run} command is too long (limit 1000 bytes)");
	env.max_output = 0;
}

static void test_value_and_item_stacking(void)
{
	fresh();
	CHECK_STR(ex("${lookup{alpha}lsearch{data/ls.txt}{[$value ${lookup{beta}lsearch{data/ls.txt}{$value}}"
		" $value]}}<$value>"), "[one two words one]<>");
	CHECK_STR(ex("${map{a:b}{${map{1:2}{$item}}$item}}<$item>"), "1::2a:1::2b<>");
	CHECK_STR(ex("${reduce{1:2:3}{x}{$value$item}}<$value>"), "x123<>");
	CHECK_STR(ex("${if match{abc}{(b)}{$1${if match{xyz}{(y)}{$1}}$1}}<$1>"), "byb<>");
}

static int acl_hook(void *ctx, sv name, const sv *args, int nargs, xbuf *o, xbuf *e)
{
	(void)ctx;
	if (sv_eq_cstr(name, "deny")) {
		xbuf_puts(e, "denied");
		return XP_FORCEFAIL;
	}
	xbuf_printf(o, SV_FMT "(%d:" SV_FMT ")", SV_ARG(name), nargs, SV_ARG(nargs ? args[0] : SV_LIT("")));
	return XP_OK;
}

/* An acl_cond hook: "ok" accepts, "no" denies (both with a message), "later" defers. */
static int acl_cond_hook(void *ctx, sv name, const sv *args, int nargs, bool *accepted, xbuf *o, xbuf *e)
{
	(void)ctx;
	if (sv_eq_cstr(name, "later")) {
		xbuf_puts(e, "DEFER from acl \"later\"");
		return XP_ERROR;
	}
	*accepted = sv_eq_cstr(name, "ok");
	xbuf_printf(o, "msg %d %s", nargs, nargs ? sv_dup(pool_scratch, args[0]) : "-");
	return XP_OK;
}

static void test_hooks(void)
{
	fresh();
	CHECK_STR(ex("${acl{check}{x}}"), "Failed: ERROR from acl \"check\"");
	xp_hooks h = { .acl = acl_hook };
	env.hooks = &h;
	CHECK_STR(ex("${acl{check}{x}{y}}"), "check(2:x)");
	CHECK_STR(ex("${if acl{{check}}{yes}{no}}"), "yes");
	CHECK_STR(ex("${if acl{{deny}}{yes}{no}}"), "no");
	CHECK_STR(ex("${if acl{{check}{a}}{yes:$value}{no}}"), "yes:check(1:a)");
	/* With acl_cond, deny is false and its message is $value too (Exim 4.96). */
	xp_hooks hc = { .acl = acl_hook, .acl_cond = acl_cond_hook };
	env.hooks = &hc;
	CHECK_STR(ex("${if acl{{ok}{a}}{Y:$value}{N:$value}}"), "Y:msg 1 a");
	CHECK_STR(ex("${if acl{{no}{b}{c}}{Y:$value}{N:$value}}"), "N:msg 2 b");
	CHECK_STR(ex("${if acl{{later}}{Y}{N}}"), "Failed: DEFER from acl \"later\"");
	CHECK_STR(ex("${if !acl{{no}}{Y}{N}}"), "Y");
	env.hooks = &h;
	CHECK_STR(ex("${perl{f}}"), "Failed: A setting of perl_startup is needed when using the Perl interpreter");
	CHECK_STR(ex("${dlfunc{a}{b}}"), "Failed: \"${dlfunc\" encountered, but this facility is not included in this binary");
	CHECK_STR(ex("${if radius{x}}"), "Failed: support for \"radius\" not compiled");
}

static void test_message(void)
{
	fresh();
	static const char text[] = "Subject: one\n two\nX-A: 1\nX-A: 2\n\nbody\n\nend\n";
	xp_message m;
	xp_message_parse(pool_scratch, sv_make(text, sizeof text - 1), &m);
	CHECK_INT(m.nheaders, 3);
	env.msg = &m;
	CHECK_STR(ex("[$h_subject:]"), "[one\n two]");
	CHECK_STR(ex("[$h_x-a:][$rh_x-a:][$lh_x-a:]"), "[1\n2][ 1\n 2\n][ 1: 2]");
	CHECK_STR(ex("${if def:h_x-a:{y}{n}}${if def:h_nope:{y}{n}}"), "yn");
	CHECK_STR(ex("$message_body|$body_linecount|$message_linecount|$message_size"), "body  end |2|7|43");
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("$h_subject:"), &out, &err), XP_OK);
	CHECK_INT(out.taint, 1);
	/* Unlike Exim 4.96 the body is tainted (it comes from the sender; expanding it would run
	 * what it contains); as in Exim a missing header is an untainted "". */
	CHECK_STR(ex("${expand:$message_body}"),
		"Failed: internal expansion of \"body  end \" failed: attempt to expand tainted string 'body  end '");
	CHECK_STR(ex("${expand:$message_body_end}"),
		"Failed: internal expansion of \"body  end \" failed: attempt to expand tainted string 'body  end '");
	CHECK_STR(ex("${expand:${substr{10}{1}{$h_subject:}}}"), ""); /* empty: nothing tainted left */
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("$h_nope:"), &out, &err), XP_OK);
	CHECK_INT(out.taint, 0);
	env.msg = NULL;
	CHECK_STR(ex("[$h_subject:][$message_body]"), "[][]");
}

static void test_expand_bool(void)
{
	fresh();
	bool r = true;
	CHECK_INT(xp_expand_bool(&env, SV_LIT("${if eq{a}{b}}"), &r, &err), XP_OK);
	CHECK(!r);
	CHECK_INT(xp_expand_bool(&env, SV_LIT(" yes "), &r, &err), XP_OK);
	CHECK(r);
	CHECK_INT(xp_expand_bool(&env, SV_LIT("No"), &r, &err), XP_OK);
	CHECK(!r);
	CHECK_INT(xp_expand_bool(&env, SV_LIT("${if eq{a}{b}{}fail}"), &r, &err), XP_FORCEFAIL);
}

/* readsocket against a local unix-domain server: a reply, an eol replacement, and a timeout
 * when the server never answers. */
static void test_readsocket(void)
{
	fresh();
	char path[] = "/tmp/postern-xp-sock-XXXXXX";
	int tfd = mkstemp(path);
	close(tfd);
	unlink(path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0);
	listen(ls, 4);
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 2; i++) {
			int c = accept(ls, NULL, NULL);
			char buf[64];
			ssize_t n = read(c, buf, sizeof buf);
			if (i == 0 && n > 0) {
				(void)!write(c, "got ", 4);
				(void)!write(c, buf, (size_t)n);
				(void)!write(c, "\nbye\n", 5);
				close(c);
			} else {
				sleep(3); /* never answers the second request in time */
				close(c);
			}
		}
		_exit(0);
	}
	close(ls);
	char *e = arena_printf(pool_scratch, "${readsocket{%s}{hello}{2s}{|}}", path);
	CHECK_STR(ex(e), "got hello|bye|");
	time_t t0 = time(NULL);
	e = arena_printf(pool_scratch, "${readsocket{%s}{hello}{1s}}", path);
	CHECK_STR(ex(e), "Failed: socket read timed out");
	CHECK(time(NULL) - t0 <= 2);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	e = arena_printf(pool_scratch, "${readsocket{%s}{x}{1s}{}{fallback}}", path);
	CHECK_STR(ex(e), "fallback");
}

/* cache=yes: an identical request is answered from the cache; a request without it drops the
 * answers cached for that socket. The server numbers its answers, so a reconnection shows. */
static void test_readsocket_cache(void)
{
	fresh();
	char path[] = "/tmp/postern-xp-sock-XXXXXX";
	int tfd = mkstemp(path);
	close(tfd);
	unlink(path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0);
	listen(ls, 8);
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 1; i <= 5; i++) {
			int c = accept(ls, NULL, NULL);
			char buf[64];
			ssize_t n = read(c, buf, sizeof buf);
			char reply[96];
			int len = snprintf(reply, sizeof reply, "%d:%.*s\n", i, n > 0 ? (int)n : 0, buf);
			(void)!write(c, reply, (size_t)len);
			close(c);
		}
		_exit(0);
	}
	close(ls);
	const char *q = arena_printf(pool_scratch, "${readsocket{%s}{a}{1s:cache=yes}{}}", path);
	CHECK_STR(ex(q), "1:a");
	CHECK_STR(ex(q), "1:a"); /* from the cache */
	CHECK_STR(ex(arena_printf(pool_scratch, "${readsocket{%s}{b}{1s:cache=yes}{}}", path)), "2:b");
	CHECK_STR(ex(arena_printf(pool_scratch, "${readsocket{%s}{b}{5s:cache=yes}{|}}", path)), "2:b|");
	/* Without cache=yes: a fresh answer, and the cached ones for this socket are dropped. */
	CHECK_STR(ex(arena_printf(pool_scratch, "${readsocket{%s}{a}{1s}{}}", path)), "3:a");
	CHECK_STR(ex(q), "4:a");
	CHECK_STR(ex(q), "4:a");
	CHECK_STR(ex(arena_printf(pool_scratch, "${readsocket{%s}{b}{1s:cache=yes}{}}", path)), "5:b");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
}

int main(void)
{
	arena_init_pools();
	clearenv();
	RUN(test_compile_once);
	RUN(test_providers_and_registry);
	RUN(test_aclvar_storage_reused);
	RUN(test_lookup_dnssec_authenticated);
	RUN(test_taint);
	RUN(test_quoter_through_concatenation);
	RUN(test_forbid);
	RUN(test_skip_has_no_side_effects);
	RUN(test_bounds);
	RUN(test_value_and_item_stacking);
	RUN(test_hooks);
	RUN(test_message);
	RUN(test_expand_bool);
	RUN(test_readsocket);
	RUN(test_readsocket_cache);
	xp_env_release(&env);
	return unit_report("test_expand_engine");
}
