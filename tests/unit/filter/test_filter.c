/* The filter interpreter without the command line: parse errors (wording, line numbers), the
 * action list a run produces (kinds, significance, arguments), variables and conditions. */
#include <string.h>

#include "../unit.h"
#include "core/filter.h"
#include "core/message.h"
#include "expand/message.h"
#include "lib/arena.h"

static const char *message_text =
	"From: Alice <alice@example.org>\n"
	"To: bob@test.example, Carol <carol@x.example>\n"
	"Subject: Hello there\n"
	"\n"
	"Body line\n";

static bool user_vars(void *ctx, sv name, xbuf *out)
{
	(void)ctx;
	if (sv_eq_cstr(name, "local_part"))
		xbuf_puts(out, "bob");
	else if (sv_eq_cstr(name, "domain"))
		xbuf_puts(out, "test.example");
	else if (sv_eq_cstr(name, "home"))
		xbuf_puts(out, "/home/bob");
	else
		return false;
	return true;
}

/* RUN_USER_OB: the user is "ob" (not in To:), RUN_PREFIX_B: ...with prefix "b" (so the full
 * address bob@test.example is in To:). */
enum { RUN_FORBID_LOGWRITE = 1, RUN_USER_OB = 2, RUN_PREFIX_B = 4 };

/* Parse and run; returns the actions rendered one per line, then the outcome or error. */
static const char *run_filter_opts(const char *text, bool system, bool bounce, unsigned opts)
{
	arena *a = pool_scratch;
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	filter *f = filter_parse(a, sv_cstr(text), system, &err);
	if (!f) {
		xbuf_printf(&out, "parse error: %s", xbuf_cstr(&err));
		return xbuf_cstr(&out);
	}
	xp_env env;
	xp_env_init(&env, a);
	xp_provider p = { .get = user_vars };
	xp_env_push_provider(&env, &p);
	xp_message msg;
	xp_message_parse(a, sv_cstr(message_text), &msg);
	env.msg = &msg;
	filter_ctx ctx = { .env = &env, .msg = &msg, .local_part = SV_LIT("bob"),
		.domain = SV_LIT("test.example"), .error_message = bounce, .null_return_path = bounce,
		.first_delivery = true };
	ctx.sn[2] = 7;
	ctx.forbid_logwrite = opts & RUN_FORBID_LOGWRITE;
	if (opts & RUN_USER_OB)
		ctx.local_part = SV_LIT("ob");
	if (opts & RUN_PREFIX_B)
		ctx.prefix = SV_LIT("b");
	filter_result res;
	filter_run(f, &ctx, a, &res);
	for (const filter_action *act = res.actions; act; act = act->next) {
		filter_action_describe(act, &out);
		xbuf_puts(&out, act->significant ? " [s]\n" : "\n");
	}
	static const char *const outcomes[] = { "delivered", "not delivered", "fail", "freeze", "defer",
		"error" };
	xbuf_puts(&out, outcomes[res.outcome]);
	if (res.outcome == FILTER_ERROR)
		xbuf_printf(&out, ": %.*s", SV_ARG(res.error));
	xp_env_release(&env);
	return xbuf_cstr(&out);
}

static const char *run_filter(const char *text, bool system, bool bounce)
{
	return run_filter_opts(text, system, bounce, 0);
}

static const struct {
	const char *filter;
	bool system, bounce;
	const char *want;
} cases[] = {
	/* Deliveries and significance */
	{ "# Exim filter\ndeliver x@y.example\n", false, false,
		"Deliver message to: x@y.example [s]\ndelivered" },
	{ "# Exim filter\nunseen deliver x@y.example\n", false, false,
		"Unseen deliver message to: x@y.example\nnot delivered" },
	{ "# Exim filter\ndeliver carol\n", false, false,
		"Deliver message to: carol@test.example [s]\ndelivered" },
	{ "# Exim filter\nsave mail/inbox 640\npipe \"/bin/x $local_part\"\n", false, false,
		"Save message to: mail/inbox 0640 [s]\nPipe message to: /bin/x $local_part [s]\ndelivered" },
	{ "# Exim filter\nmail text hi\n", false, false,
		"Mail to: <default>\n   text: hi\nnot delivered" },
	{ "# Exim filter\nseen mail text hi\n", false, false,
		"Seen mail to: <default>\n   text: hi [s]\ndelivered" },
	{ "# Exim filter\nvacation\n", false, true,
		"vacation command ignored because return_path is empty\nnot delivered" },
	{ "# Exim filter\nseen finish\ndeliver x@y\n", false, false, "Seen finish\ndelivered" },
	{ "# Exim filter\ndeliver x@y errors_to bob@test.example\n", false, false,
		"Deliver message to: x@y errors_to bob@test.example [s]\ndelivered" },
	{ "# Exim filter\ndeliver x@y errors_to eve@test.example\n", false, false,
		"error: errors_to must point to the caller's address" },
	/* Conditions */
	{ "# Exim filter\nif $h_subject: contains hello then testprint yes else testprint no endif\n",
		false, false, "Testprint: yes\nnot delivered" },
	{ "# Exim filter\nif $h_subject: CONTAINS hello then testprint yes else testprint no endif\n",
		false, false, "Testprint: no\nnot delivered" },
	{ "# Exim filter\nif $h_subject: is not above 5 then testprint x endif\n", false, false,
		"error: malformed numerical string \"Hello there\"" },
	{ "# Exim filter\nif 2k is above 2047 and not 1 is below 0 then testprint ok endif\n", false,
		false, "Testprint: ok\nnot delivered" },
	{ "# Exim filter\nif $h_from: matches \"^([A-Z][a-z]+)\" then testprint $1 endif\n", false, false,
		"Testprint: Alice\nnot delivered" },
	{ "# Exim filter\nif foranyaddress $h_to: ($thisaddress ends x.example) then testprint "
		"$thisaddress endif\ntestprint \"[$thisaddress]\"\n", false, false,
		"Testprint: carol@x.example\nTestprint: []\nnot delivered" },
	{ "# Exim filter\nif personal then testprint p else testprint np endif\n", false, false,
		"Testprint: p\nnot delivered" },
	{ "# Exim filter\nif personal then testprint p else testprint np endif\n", false, true,
		"Testprint: np\nnot delivered" },
	{ "# Exim filter\nif error_message then testprint e endif\n", false, true,
		"Testprint: e\nnot delivered" },
	{ "# Exim filter\nif a is b then testprint 1 elif a is a then testprint 2 else testprint 3 endif\n",
		false, false, "Testprint: 2\nnot delivered" },
	{ "# Exim filter\nif not delivered then deliver a@b endif\nif delivered then testprint d endif\n",
		false, false, "Deliver message to: a@b [s]\nTestprint: d\ndelivered" },
	/* Variables */
	{ "# Exim filter\nadd 3 to n1\nadd -1 to n1\ntestprint \"$n1 $sn2 $home\"\n", false, false,
		"Add 3 to n1\nAdd -1 to n1\nTestprint: 2 7 /home/bob\nnot delivered" },
	{ "# Exim filter\nadd 1 to n10\n", false, false,
		"error: unknown variable \"n10\" in \"add\" command" },
	/* System filter commands */
	{ "# Exim filter\nheaders add \"X-A: 1\"\ntestprint $h_x-a:\nfail text \"no $h_x-a:\"\n", true,
		false, "Headers add \"X-A: 1\"\nTestprint: 1\nFail text \"no 1\"\nfail" },
	{ "# Exim filter\nheaders remove Subject\ntestprint \"[$h_subject:]\"\nfreeze\n", true, false,
		"Headers remove \"Subject\"\nTestprint: []\nFreeze text \"\"\nfreeze" },
	{ "# Exim filter\ndefer text later\n", true, false, "Defer text \"later\"\ndefer" },
	{ "# Exim filter\nlogfile /tmp/f 0644\nlogwrite \"$local_part\"\n", false, false,
		"Logfile /tmp/f\nLogwrite \"bob\\n\"\nnot delivered" },
	/* Parse errors */
	{ "# Exim filter\nfail\n", false, false,
		"parse error: filtering command \"fail\" is disabled: near line 3 of filter file" },
	{ "# Exim filter\nbogus\n", false, false,
		"parse error: unknown filtering command \"bogus\" near line 3 of filter file" },
	{ "# Exim filter\nif a is b then\n", false, false,
		"parse error: \"endif\" missing at end of filter file" },
	{ "# Exim filter\nif a is b deliver x endif\n", false, false,
		"parse error: \"and\" or \"or\" or \"then\" expected near line 2 of filter file, but found "
		"\"deliver\"" },
	{ "# Exim filter\nif a frob b then endif\n", false, false,
		"parse error: unrecognized condition word \"frob\" near line 2 of filter file" },
	{ "# Exim filter\n\n\nendif\n", false, false,
		"parse error: unexpected \"endif\" command near line 5 of filter file" },
	{ "# Exim filter\ntestprint \"abc\n", false, false,
		"parse error: quote missing at end of string in line 2" },
	{ "# Exim filter\nseen unseen deliver a\n", false, false,
		"parse error: \"seen\" or \"unseen\" repeated near line 2" },
	{ "# Exim filter\nheaders add \"X: y\"\n", false, false,
		"parse error: header addition and removal is available only in system filters: near line 2 "
		"of filter file" },
};

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		arena_mark m = arena_getmark(pool_scratch);
		CHECK_STR(run_filter(cases[i].filter, cases[i].system, cases[i].bounce), cases[i].want);
		arena_reset(pool_scratch, m);
	}
}

/* Context options a redirect router sets, and Exim's int arithmetic. */
static void test_options(void)
{
	CHECK_STR(run_filter_opts("# Exim filter\ntestprint a\nlogwrite x\n", false, false,
		RUN_FORBID_LOGWRITE), "Testprint: a\nerror: logwrite command forbidden");
	/* personal also accepts the address with prefix and suffix; equality, not "contains". */
	const char *p = "# Exim filter\nif personal then testprint p else testprint np endif\n";
	CHECK_STR(run_filter_opts(p, false, false, RUN_USER_OB), "Testprint: np\nnot delivered");
	CHECK_STR(run_filter_opts(p, false, false, RUN_USER_OB | RUN_PREFIX_B),
		"Testprint: p\nnot delivered");
	CHECK_STR(run_filter_opts("# Exim filter\nif personal alias BOB@test.example then testprint p "
		"else testprint np endif\n", false, false, RUN_USER_OB), "Testprint: p\nnot delivered");
	/* "contains" is not enough: "ob@test.example" is inside "bob@test.example". */
	CHECK_STR(run_filter_opts("# Exim filter\nif personal alias ob@test.example then testprint p "
		"else testprint np endif\n", false, false, RUN_USER_OB), "Testprint: np\nnot delivered");
	CHECK_STR(run_filter("# Exim filter\nadd 2147483647 to n1\nadd 1 to n1\ntestprint $n1\n",
		false, false), "Add 2147483647 to n1\nAdd 1 to n1\nTestprint: -2147483648\nnot delivered");
	CHECK_STR(run_filter("# Exim filter\nif 2147483648 is below 0 and 3000M is below 0 then "
		"testprint wrapped endif\n", false, false), "Testprint: wrapped\nnot delivered");
	CHECK_STR(run_filter("# Exim filter\nsave /x 789\nsave /y 77777777777\n", false, false),
		"Save message to: /x 0007 [s]\nSave message to: /y [s]\ndelivered");
}

/* A system filter's header changes applied to the message model for the spool. */
static void test_apply_headers(void)
{
	arena *a = pool_scratch;
	xbuf err;
	xbuf_init(&err, a);
	filter *f = filter_parse(a, SV_LIT("# Exim filter\nheaders add \"X-A: 1\\nReply-To: r@x\"\n"
		"headers remove \"subject : x-none\"\n"), true, &err);
	CHECK(f != NULL);
	if (!f)
		return;
	xp_env env;
	xp_env_init(&env, a);
	xp_message xm;
	xp_message_parse(a, sv_cstr(message_text), &xm);
	env.msg = &xm;
	filter_ctx ctx = { .env = &env, .msg = &xm };
	filter_result res;
	CHECK_INT(filter_run(f, &ctx, a, &res), FILTER_NOT_DELIVERED);
	message *m = message_new(a);
	message_add_header(m, 'F', SV_LIT("From: Alice <alice@example.org>\n"));
	message_add_header(m, ' ', SV_LIT("Subject: Hello\n  folded\n"));
	filter_apply_headers(m, &res);
	xbuf got;
	xbuf_init(&got, a);
	for (const msg_header *h = m->headers; h; h = h->next)
		xbuf_printf(&got, "%c %.*s", h->type, SV_ARG(h->text));
	CHECK_STR(xbuf_cstr(&got), "F From: Alice <alice@example.org>\n* Subject: Hello\n  folded\n"
		"  X-A: 1\nR Reply-To: r@x\n");
	xp_env_release(&env);
}

static void test_detect(void)
{
	CHECK(filter_is_exim_filter(SV_LIT("# Exim filter\n")));
	CHECK(filter_is_exim_filter(SV_LIT("  \n #EXIM  FILTER comment\n")));
	CHECK(!filter_is_exim_filter(SV_LIT("# Exim\nfilter\n")));
	CHECK(!filter_is_exim_filter(SV_LIT("user@example.com\n")));
	CHECK(!filter_is_exim_filter(SV_LIT("# Sieve filter\n")));
	CHECK(filter_is_sieve_filter(SV_LIT("#  sieve Filter\nkeep;\n")));
	CHECK(!filter_is_sieve_filter(SV_LIT("# Exim filter\n")));
	CHECK(!filter_is_exim_filter(SV_LIT("")));
}

/* Nesting beyond the bound is an error, not a crash. */
static void test_depth(void)
{
	xbuf text, err;
	xbuf_init(&text, pool_scratch);
	xbuf_init(&err, pool_scratch);
	xbuf_puts(&text, "# Exim filter\nif ");
	for (int i = 0; i < 5000; i++)
		xbuf_puts(&text, "not ( ");
	xbuf_puts(&text, "a is a");
	CHECK(filter_parse(pool_scratch, xbuf_sv(&text), false, &err) == NULL);
	CHECK(strstr(xbuf_cstr(&err), "nested too deeply") != NULL);
	xbuf_reset(&text);
	xbuf_puts(&text, "# Exim filter\n");
	for (int i = 0; i < 5000; i++)
		xbuf_puts(&text, "if a is a then ");
	CHECK(filter_parse(pool_scratch, xbuf_sv(&text), false, &err) == NULL);
	CHECK(strstr(xbuf_cstr(&err), "nested too deeply") != NULL);
	/* A long elif chain is not nesting. */
	xbuf_reset(&text);
	xbuf_puts(&text, "# Exim filter\nif a is b then testprint 0\n");
	for (int i = 0; i < 500; i++)
		xbuf_printf(&text, "elif a is b%d then testprint %d\n", i, i);
	xbuf_puts(&text, "elif a is a then testprint last endif\n");
	CHECK_STR(run_filter(xbuf_cstr(&text), false, false), "Testprint: last\nnot delivered");
}

int main(void)
{
	arena_init_pools();
	RUN(test_cases);
	RUN(test_options);
	RUN(test_apply_headers);
	RUN(test_detect);
	RUN(test_depth);
	return unit_report("test_filter");
}
