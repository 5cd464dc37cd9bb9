/* Sieve without the command line: the lexer's strings (escapes, text:, encoded characters,
 * number units), parse errors with Exim's texts and lines, the action lists runs produce (keep,
 * fileinto, redirect :copy, discard, stop, vacation), the matcher (comparators and match
 * types), header values as Exim takes them, and the vacation reply's fields. */
#include <string.h>

#include "../unit.h"
#include "core/sieve_internal.h"
#include "expand/message.h"
#include "lib/arena.h"

static const char *message_text =
	"From: Alice <alice@example.org>\n"
	"To: bob@test.example, Carol <carol@x.example>\n"
	"Subject: =?utf-8?Q?Caf=C3=A9?=\n"
	"  meeting\n"
	"X-Two: one\n"
	"X-Two: two\n"
	"\n"
	"Body line\n";

static xp_message msg;

static sieve_ctx make_ctx(void)
{
	return (sieve_ctx){ .msg = &msg, .return_path = SV_LIT("alice@example.org"), .local_part = SV_LIT("bob"),
		.domain = SV_LIT("test.example"), .vacation_directory = SV_LIT("/var/vac"), .message_size = 500 };
}

/* Run a script; returns the outcome and writes the actions as "kind:arg[*]" (* = significant). */
static filter_outcome run_script(const char *script, char *out, size_t outsz, const char **error)
{
	sieve_options o = { .vacation = true };
	sieve_program *p = sieve_parse(pool_scratch, sv_cstr(script), &o);
	sieve_ctx ctx = make_ctx();
	filter_result res;
	filter_outcome r = sieve_run(p, &ctx, pool_scratch, &res);
	out[0] = 0;
	for (const filter_action *a = res.actions; a; a = a->next) {
		const char *k = a->kind == FA_DELIVER ? "deliver" : a->kind == FA_SAVE ? "save"
			: a->kind == FA_MAIL ? "mail" : "other";
		size_t n = strlen(out);
		snprintf(out + n, outsz - n, "%s%s:%.*s%s", n ? " " : "", k,
			a->kind == FA_MAIL ? (int)a->mail->to.len : (int)a->arg.len,
			a->kind == FA_MAIL ? a->mail->to.p : a->arg.p, a->significant ? "*" : "");
	}
	*error = r == FILTER_ERROR ? sv_dup(pool_scratch, res.error) : NULL;
	return r;
}

static void test_runs(void)
{
	static const struct {
		const char *body;       /* after "# Sieve filter\n" */
		filter_outcome outcome;
		const char *actions;
		const char *error;
	} cases[] = {
		{ "", FILTER_NOT_DELIVERED, "save:inbox*", NULL },
		{ "keep;", FILTER_DELIVERED, "save:inbox*", NULL },
		{ "discard;", FILTER_DELIVERED, "", NULL },
		{ "require \"fileinto\";\nfileinto \"Work\";", FILTER_DELIVERED, "save:Work*", NULL },
		{ "require [\"fileinto\",\"copy\"];\nfileinto :copy \"Work\";", FILTER_NOT_DELIVERED,
			"save:Work save:inbox*", NULL },
		{ "redirect \"x@y.example\";", FILTER_DELIVERED, "deliver:x@y.example*", NULL },
		{ "require \"copy\";\nredirect :copy \"x@y.example\";", FILTER_NOT_DELIVERED,
			"deliver:x@y.example save:inbox*", NULL },
		{ "if header :contains \"subject\" \"café\" { discard; stop; }\nkeep;", FILTER_DELIVERED, "", NULL },
		{ "if header :is \"subject\" \"Café  meeting\" { discard; }", FILTER_DELIVERED, "", NULL },
		{ "if header :is \"x-two\" \"one two\" { discard; }", FILTER_DELIVERED, "", NULL },
		{ "if address :domain \"to\" \"X.EXAMPLE\" { discard; }", FILTER_DELIVERED, "", NULL },
		{ "if address :localpart :comparator \"i;octet\" \"from\" \"Alice\" { discard; }",
			FILTER_NOT_DELIVERED, "save:inbox*", NULL },
		{ "if size :over 499 { discard; }", FILTER_DELIVERED, "", NULL },
		{ "if size :under 500 { discard; }", FILTER_NOT_DELIVERED, "save:inbox*", NULL },
		{ "if size :over 1K { discard; }", FILTER_NOT_DELIVERED, "save:inbox*", NULL },
		{ "if not exists \"x-none\" { discard; }", FILTER_DELIVERED, "", NULL },
		{ "if exists [] { discard; }", FILTER_DELIVERED, "", NULL },
		{ "if anyof(false, allof(true, not false)) { discard; }", FILTER_DELIVERED, "", NULL },
		{ "if false { keep; } elsif false { keep; } else { discard; }", FILTER_DELIVERED, "", NULL },
		{ "stop;\nbogus;", FILTER_NOT_DELIVERED, "save:inbox*", NULL },
		{ "require \"fileinto\";\nfileinto \"A\";\nbogus;", FILTER_ERROR, "save:A* save:inbox*",
			"syntax error in line 4" },
		{ "if false { stop; }\nbogus;", FILTER_ERROR, "save:inbox*", "syntax error in line 3" },
		{ "if true { discard; bogus; }", FILTER_ERROR, "save:inbox*",
			"expecting command or closing brace in line 2" },
		{ "keep", FILTER_ERROR, "save:inbox*", "missing semicolon in line 3" },
		{ "fileinto \"x\";", FILTER_ERROR, "save:inbox*", "missing previous require \"fileinto\"; in line 2" },
		{ "require \"FILEINTO\";", FILTER_ERROR, "save:inbox*", "unknown capability in line 2" },
		{ "redirect \"local\";", FILTER_ERROR, "save:inbox*", "unqualified recipient address in line 2" },
		{ "require \"fileinto\";\nfileinto \"../x\";", FILTER_ERROR, "save:inbox*", "invalid folder in line 3" },
		{ "if size :over 1k { keep; }", FILTER_ERROR, "save:inbox*", "missing block in line 2" },
		{ "if address \"subject\" \"x\" { keep; }", FILTER_ERROR, "save:inbox*", "invalid header field in line 2" },
		{ "/* open", FILTER_ERROR, "save:inbox*", "missing end of comment in line 2" },
		{ "require \"vacation\";\nvacation \"r\"; vacation \"s\";", FILTER_ERROR, "mail:alice@example.org save:inbox*",
			"trying to execute vacation more than once in line 3" },
		/* :from is one valid address (Exim 4.96's texts, observed), checked even unexecuted. */
		{ "require \"vacation\";\nif false { vacation :from \"x@@\" \"r\"; }", FILTER_ERROR, "save:inbox*",
			"malformed address \"x@@\" (domain missing or malformed) in line 3" },
		{ "require \"vacation\";\nvacation :from \"\" \"r\";", FILTER_ERROR, "save:inbox*",
			"empty address in line 3" },
		{ "require \"vacation\";\nvacation :from \"@x\" \"r\";", FILTER_ERROR, "save:inbox*",
			"malformed address \"@x\" (no local part) in line 3" },
		{ "require \"vacation\";\nvacation :from \"<>\" \"r\";", FILTER_ERROR, "save:inbox*",
			"malformed address \"<>\" (missing or malformed local part) in line 3" },
		{ "require \"vacation\";\nvacation :from \"a b@c\" \"r\";", FILTER_ERROR, "save:inbox*",
			"malformed address \"a b@c\" (missing or malformed local part (expected word or \"<\")) in line 3" },
		{ "require \"vacation\";\nvacation :from \"a@b, c@d\" \"r\";", FILTER_ERROR, "save:inbox*",
			"malformed address \"a@b, c@d\" (malformed address: , c@d may not follow a@b) in line 3" },
		{ "require \"vacation\";\nvacation :from \"Me <x@y.z>\" \"r\";", FILTER_NOT_DELIVERED,
			"mail:alice@example.org save:inbox*", NULL },
		{ "require \"vacation\";\nvacation :addresses \"carol@x.example\" \"away\";", FILTER_NOT_DELIVERED,
			"mail:alice@example.org save:inbox*", NULL },
		{ "require \"enotify\";", FILTER_ERROR, "save:inbox*", "enotify disabled in line 2" },
		{ "if header :contains \"subject\" text:\nCaf\n.\n{ discard; }", FILTER_NOT_DELIVERED, "save:inbox*", NULL },
		{ "require \"encoded-character\";\nif header :contains \"subject\" \"${hex:43 61}f\" { discard; }",
			FILTER_DELIVERED, "", NULL },
		{ "if header :contains \"subject\" \"${hex:43 61}f\" { discard; }", FILTER_NOT_DELIVERED, "save:inbox*", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char script[600], acts[400];
		snprintf(script, sizeof script, "# Sieve filter\n%s\n", cases[i].body);
		const char *err;
		filter_outcome r = run_script(script, acts, sizeof acts, &err);
		if (r != cases[i].outcome)
			fprintf(stderr, "case %zu: %s\n", i, cases[i].body);
		CHECK_INT(r, cases[i].outcome);
		CHECK_STR(acts, cases[i].actions);
		CHECK_STR(err, cases[i].error);
	}
}

static void test_matcher(void)
{
	static const struct {
		scomparator cmp;
		smatch match;
		const char *value, *key;
		bool want;
	} cases[] = {
		{ SCMP_CASEMAP, SM_IS, "Hello", "hELLO", true },
		{ SCMP_OCTET, SM_IS, "Hello", "hello", false },
		{ SCMP_CASEMAP, SM_CONTAINS, "Hello world", "O W", true },
		{ SCMP_CASEMAP, SM_CONTAINS, "abc", "", true },
		{ SCMP_CASEMAP, SM_MATCHES, "Hello world", "h*D", true },
		{ SCMP_CASEMAP, SM_MATCHES, "Hello world", "h?llo*", true },
		{ SCMP_CASEMAP, SM_MATCHES, "Hello", "h???lo", false },
		{ SCMP_CASEMAP, SM_MATCHES, "a*b", "a\\*b", true },
		{ SCMP_CASEMAP, SM_MATCHES, "axb", "a\\*b", false },
		{ SCMP_CASEMAP, SM_MATCHES, "", "*", true },
		{ SCMP_CASEMAP, SM_MATCHES, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*c", false },
		{ SCMP_CASEMAP, SM_MATCHES, "Caf\xc3\xa9", "Caf?", false },      /* ? is one octet (Exim) */
		{ SCMP_CASEMAP, SM_MATCHES, "Caf\xc3\xa9", "Caf??", true },
		{ SCMP_NUMERIC, SM_IS, "12", "12x", true },
		{ SCMP_NUMERIC, SM_IS, "12", "012", false },                     /* Exim compares digits as written */
		{ SCMP_NUMERIC, SM_IS, "abc", "x", true },                       /* both "infinity" */
		{ SCMP_NUMERIC, SM_IS, "1", "x", false },
		{ SCMP_NUMERIC, SM_CONTAINS, "1", "1", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = sieve_match(cases[i].cmp, cases[i].match, sv_cstr(cases[i].value), sv_cstr(cases[i].key));
		if (got != cases[i].want)
			fprintf(stderr, "matcher case %zu\n", i);
		CHECK(got == cases[i].want);
	}
}

static void test_header_value(void)
{
	sv v = sieve_header_value(&msg, SV_LIT("subject"), pool_scratch);
	CHECK(sv_eq_cstr(v, "Caf\xc3\xa9  meeting") || sv_eq_cstr(v, "Caf\xc3\xa9 meeting"));
	CHECK(sv_eq_cstr(sieve_header_value(&msg, SV_LIT("X-TWO"), pool_scratch), "one two"));
	CHECK(sv_is_null(sieve_header_value(&msg, SV_LIT("X-None"), pool_scratch)));
}

static void test_vacation_reply(void)
{
	sieve_options o = { .vacation = true };
	sieve_program *p = sieve_parse(pool_scratch, sv_cstr("# Sieve filter\nrequire \"vacation\";\n"
		"vacation :days 3 :subject \"away\" \"I am away =\";\n"), &o);
	sieve_ctx ctx = make_ctx();
	filter_result res;
	sieve_run(p, &ctx, pool_scratch, &res);
	const filter_action *a = res.actions;
	CHECK(a && a->kind == FA_MAIL);
	if (!a || a->kind != FA_MAIL)
		return;
	CHECK_STR(sv_dup(pool_scratch, a->mail->to), "alice@example.org");
	CHECK_STR(sv_dup(pool_scratch, a->mail->from), "bob@test.example");
	CHECK_STR(sv_dup(pool_scratch, a->mail->subject), "away");
	CHECK_STR(sv_dup(pool_scratch, a->mail->text), "I am away =3D");
	/* MD5("away" "0" "I am away =") in upper-case hex, as Exim names the once file. */
	CHECK_STR(sv_dup(pool_scratch, a->mail->once), "/var/vac/32847D3183FB211A1089DD4B890B5EE6");
	CHECK_STR(sv_dup(pool_scratch, a->mail->once_repeat), "3d");

	/* No reply to a bounce. */
	ctx.return_path = SV_LIT("");
	sieve_run(p, &ctx, pool_scratch, &res);
	CHECK(res.actions && res.actions->kind == FA_SAVE);
}

static void test_bounds(void)
{
	/* Deep nesting is refused, not recursed into. */
	char *deep = arena_alloc(pool_scratch, 20000);
	strcpy(deep, "# Sieve filter\nif ");
	for (int i = 0; i < 2000; i++)
		strcat(deep, "not ");
	strcat(deep, "true { keep; }\n");
	const char *err;
	char acts[100];
	CHECK_INT(run_script(deep, acts, sizeof acts, &err), FILTER_ERROR);
	CHECK_STR(err, "nesting too deep in line 2");
}

int main(void)
{
	arena_init_pools();
	xp_message_parse(pool_perm, sv_cstr(message_text), &msg);
	RUN(test_runs);
	RUN(test_matcher);
	RUN(test_header_value);
	RUN(test_vacation_reply);
	RUN(test_bounds);
	return unit_report("test_sieve");
}
