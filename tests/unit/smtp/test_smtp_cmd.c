/* SMTP command parsing (src/mail/smtp_cmd.c). Every expected reply below was observed from
 * Exim 4.96 -bh with dsn_advertise_hosts = * and prdr_enable = true. */
#include "../unit.h"
#include "lib/arena.h"
#include "mail/smtp_cmd.h"

static const smtp_features all = { .dsn = true, .prdr = true, .smtputf8 = true, .eightbitmime = true };

/* "OK <address>" or "<code> <text>" */
static const char *run(bool rcpt, const char *arg, const smtp_features *f)
{
	static char out[512];
	char work[512];
	xbuf msg;
	xbuf_init(&msg, pool_scratch);
	xbuf addr;
	xbuf_init(&addr, pool_scratch);
	smtp_addr_result r = { .msg = &msg, .addr = &addr };
	sv a = sv_cstr(arg);
	bool ok;
	if (rcpt) { smtp_rcpt_params p; ok = smtp_parse_rcpt(a, work, f, &p, &r); }
	else { smtp_mail_params p; ok = smtp_parse_mail(a, work, f, &p, &r); }
	if (ok) snprintf(out, sizeof out, "OK %.*s%s", SV_ARG(r.address), r.has_domain ? "" : " (no domain)");
	else snprintf(out, sizeof out, "%d %s", r.code, xbuf_cstr(&msg));
	return out;
}

static const struct { bool rcpt; const char *arg, *want; } cases[] = {
	{ 0, "<a@b>", "OK a@b" },
	{ 0, "<>", "OK " " (no domain)" },
	{ 0, "a@b", "OK a@b" },
	{ 0, "<a@b> SIZE=100 BODY=8BITMIME", "OK a@b" },
	{ 0, "<a@b> RET=foo", "501 Value for RET is invalid" },
	{ 0, "<a@b> FOO=bar", "501 <a@b> FOO=bar: malformed address: FOO=bar may not follow <a@b> " },
	{ 0, "<a@b> RET=HDRS RET=FULL", "501 RET can be specified once only" },
	{ 0, "<a@b> ENVID=a ENVID=b", "501 ENVID can be specified once only" },
	{ 0, "<a@b> BODY=foo", "501 invalid data for BODY" },
	{ 0, "<a@b> BODY=BINARYMIME", "501 invalid data for BODY" },
	{ 0, "<a@b> SMTPUTF8=x", "501 <a@b> SMTPUTF8=x: malformed address: SMTPUTF8=x may not follow <a@b> " },
	{ 0, "<a@b>SIZE=10", "501 <a@b>SIZE=10: malformed address: SIZE=10 may not follow <a@b>" },
	{ 0, "<", "501 <: missing or malformed local part" },
	{ 0, "<a@b", "501 <a@b: '>' missing at end of address" },
	{ 0, "a@b@c", "501 a@b@c: malformed address: @c may not follow a@b" },
	{ 0, "<a", "501 <a: \"@\" or \".\" expected after \"a\"" },
	{ 0, "\"a b\"@c", "OK \"a b\"@c" },
	{ 0, "<a@b> x y", "501 <a@b> x y: malformed address: x y may not follow <a@b> " },
	{ 0, "<a@[1.2.3.4]>", "501 <a@[1.2.3.4]>: domain literals not allowed" },
	{ 0, "<a@b.>", "501 <a@b.>: domain missing or malformed" },
	{ 0, "<@x:a@b>", "OK a@b" },
	{ 0, "a@b (comment)", "OK a@b" },
	{ 0, "Name <a@b>", "OK a@b" },
	{ 0, "<a@b> RET=HDRS ENVID=x FOO", "501 <a@b> RET=HDRS ENVID=x FOO: malformed address: RET=HDRS ENVID=x FOO may not follow <a@b> " },
	{ 0, "<a@b>\tSIZE=1", "OK a@b" },
	{ 0, "<a@b> SIZE= 5", "501 <a@b> SIZE= 5: malformed address: SIZE= 5 may not follow <a@b> " },
	{ 0, "a@b c", "501 a@b c: malformed address: c may not follow a@b " },
	{ 0, "<a@b> PRDR=1", "OK a@b" },
	{ 1, "<u@example.com> NOTIFY=SUCCESS ORCPT=rfc822;u@example.com", "OK u@example.com" },
	{ 1, "<c@d> NOTIFY=NEVER,SUCCESS", "501 Invalid value for NOTIFY parameter" },
	{ 1, "<c@d> NOTIFY=FOO", "501 Invalid value for NOTIFY parameter" },
	{ 1, "<c@d> NOTIFY=NEVER NOTIFY=SUCCESS", "501 NOTIFY can be specified once only" },
	{ 1, "<c@d> ORCPT=bad", "OK c@d" },
	{ 1, "<>", "501 <>: missing or malformed local part" },
	{ 1, "<c@d>x", "501 <c@d>x: malformed address: x may not follow <c@d>" },
	{ 1, "<postmaster>", "OK postmaster (no domain)" },
	{ 1, "<@r1,@r2:x@y>", "OK x@y" },
	{ 1, "a.@b", "OK a.@b" },
	{ 1, ".a@b", "OK .a@b" },
	{ 1, "a..b@c", "OK a..b@c" },
	{ 1, "a@b..c", "501 a@b..c: domain missing or malformed" },
	{ 1, "a@.b", "501 a@.b: domain missing or malformed" },
	{ 1, "a@", "501 a@: domain missing or malformed" },
	{ 1, "@b", "501 @b: no local part" },
	{ 1, "<a@b>>", "501 <a@b>>: malformed address: > may not follow <a@b>" },
	{ 1, "<<a@b>>", "501 <<a@b>>: missing or malformed local part" },
	{ 1, "\"a@b", "501 \"a@b: unmatched doublequote in local part" },
	{ 1, "a(x)@b", "OK a@b" },
	{ 1, "a @ b", "501 a @=b: domain missing or malformed" },
	{ 1, "a@b c", "501 a@b=c: malformed address: =c may not follow a@b" },
	{ 1, "<a@b> <c@d>", "501 <a@b>=<c@d>: malformed address: =<c@d> may not follow <a@b>" },
	{ 1, "a@-b", "501 a@-b: domain missing or malformed" },
	{ 1, "a@b_c", "501 a@b_c: malformed address: _c may not follow a@b" },
	{ 1, "<@a:>", "501 <@a:>: missing or malformed local part" },
	{ 1, "<@:c@d>", "501 <@:c@d>: domain missing or malformed" },
	{ 1, "x<a@b>", "OK a@b" },
	{ 1, "a b c <a@b>", "OK a@b" },
	{ 1, "a,b@c", "501 a,b@c: missing or malformed local part (expected word or \"<\")" },
	{ 1, "a;b@c", "501 a;b@c: malformed address: ;b@c may not follow a" },
	{ 1, "a@b;c", "501 a@b;c: malformed address: ;c may not follow a@b" },
	{ 1, "a@b>", "501 a@b>: malformed address: > may not follow a@b" },
	{ 1, "<a@b> NOTIFY=SUCCESS ORCPT=rfc822;u@example.com.very.long", "OK a@b" },
	{ 1, "a@b (c", "501 a@b=(c: malformed address: =(c may not follow a@b" },
	{ 1, "<x@y.z >", "501 <x@y.z=>: malformed address: => may not follow <x@y.z" },
	{ 1, "a@b:c", "501 a@b:c: malformed address: :c may not follow a@b" },
	{ 1, "a@\xc3\xa9", "501 a@\xc3\xa9: domain missing or malformed" },
	{ 1, "\xc3\xa9@b", "OK \xc3\xa9@b" },
	{ 1, "a:b@c", "501 a:b@c: missing or malformed local part (expected word or \"<\")" },
	{ 1, "a)b@c", "501 a)b@c: missing or malformed local part (expected word or \"<\")" },
	{ 1, "a\"b\"@c", "501 a\"b\"@c: missing or malformed local part (expected word or \"<\")" },
	{ 1, "a@b-", "OK a@b-" },
	{ 1, "a@b.-c", "501 a@b.-c: domain missing or malformed" },
	{ 1, "\"x\"", "OK \"x\" (no domain)" },
	{ 1, "x y <a@b", "501 x y=<a@b: '>' missing at end of address" },
	{ 1, "x y <a@b> z", "501 x y <a@b>=z: malformed address: =z may not follow x y <a@b>" },
	{ 1, "(c)<a@b>", "OK a@b" },
	{ 1, "a(b", "OK a (no domain)" },
	{ 1, "<a.b", "501 <a.b: \"@\" or \".\" expected after \"a.b\"" },
	{ 1, "<a@b.c", "501 <a@b.c: '>' missing at end of address" },
	{ 1, "<a@b c>", "501 <a@b=c>: malformed address: =c> may not follow <a@b" },
	/* Exim checks allow_domain_literals in angle brackets only: a bare literal is read. */
	{ 1, "a@[1.2.3.4", "501 a@[1.2.3.4: malformed domain literal" },
	{ 1, "a@[x]", "OK a@[x]" },
	{ 1, "<a@[x]>", "501 <a@[x]>: domain literals not allowed" },   /* Exim: checked at "[" */
	{ 1, "<@[1.2.3.4]:a@b.c>", "501 <@[1.2.3.4]:a@b.c>: domain literals not allowed" },
	{ 1, "@", "501 @: domain missing or malformed" },
	{ 1, "<@>", "501 <@>: domain missing or malformed" },
	{ 1, "a@b,c@d", "501 a@b,c@d: malformed address: ,c@d may not follow a@b" },
	{ 1, "<a@b> x=1 y", "501 <a@b> x=1=y: malformed address: x=1=y may not follow <a@b> " },
	{ 1, "<a@b> \"x y\"", "501 <a@b>=\"x y\": malformed address: =\"x y\" may not follow <a@b>" },
	{ 1, "<a@b> NOTIFY=SUCCESS,FAILURE,DELAY", "OK a@b" },
	{ 1, "<a@b> NOTIFY=never", "OK a@b" },
	{ 1, "<a@b> NOTIFY=NEVER,", "501 Invalid value for NOTIFY parameter" },
	{ 1, "<u@example.com> NOTIFY=SUCCESS ORCPT=rfc822;u@example.com.x.y", "OK u@example.com" },
};

static void test_mail_rcpt(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(run(cases[i].rcpt, cases[i].arg, &all), cases[i].want);
	/* Without DSN advertised, NOTIFY is not a parameter; Exim truncates what follows at 32. */
	smtp_features nodsn = { .eightbitmime = true };
	CHECK_STR(run(true, "<u@example.com> NOTIFY=SUCCESS ORCPT=rfc822;u@example.com", &nodsn),
		"501 <u@example.com> NOTIFY=SUCCESS ORCPT=rfc822;u@example.com: malformed address: "
		"NOTIFY=SUCCESS ORCPT=rfc822;u@ex may not follow <u@example.com> ");
	/* Exim 4.96 takes PRDR, RET, ENVID and BODY it did not advertise and ignores them;
	 * SMTPUTF8 not advertised is an error of its own. */
	CHECK_STR(run(false, "<a@b> PRDR", &nodsn), "OK a@b");
	CHECK_STR(run(false, "<a@b> RET=x ENVID=y", &nodsn), "OK a@b");
	smtp_features plain = { 0 };
	CHECK_STR(run(false, "<a@b> BODY=nonsense", &plain), "OK a@b");
	CHECK_STR(run(false, "<a@b> SMTPUTF8", &plain), "501 SMTPUTF8 used when not advertised");
	/* After HELO nothing is a parameter. */
	smtp_features helo = { .no_params = true };
	CHECK_STR(run(false, "<a@b> SIZE=5", &helo), "501 <a@b> SIZE=5: malformed address: SIZE=5 may not follow <a@b> ");
}

static void test_params(void)
{
	char work[128];
	xbuf msg;
	xbuf_init(&msg, pool_scratch);
	xbuf addr;
	xbuf_init(&addr, pool_scratch);
	smtp_addr_result r = { .msg = &msg, .addr = &addr };
	smtp_mail_params p;
	CHECK(smtp_parse_mail(sv_cstr("<a@b> SIZE=-1 RET=HDRS ENVID=x+2By AUTH=<> SMTPUTF8 PRDR BODY=7bit"), work, &all, &p, &r));
	CHECK(p.size_given && p.size_clamped && p.size == 2147483647);
	CHECK_INT(p.ret, 2);
	CHECK_INT(p.body, 7);
	CHECK(p.smtputf8 && p.prdr && p.auth_given && p.envid_given);
	CHECK(sv_eq_cstr(p.envid, "x+2By"));
	CHECK(sv_eq_cstr(p.auth, "<>"));
	CHECK(smtp_parse_mail(sv_cstr("<a@b> SIZE=abc"), work, &all, &p, &r));
	CHECK(p.size == 0 && !p.size_clamped);
	CHECK(smtp_parse_mail(sv_cstr("<a@b> SIZE=60000000"), work, &all, &p, &r));
	CHECK(p.size == 60000000);
	smtp_rcpt_params rp;
	CHECK(smtp_parse_rcpt(sv_cstr("<a@b> NOTIFY=FAILURE,DELAY ORCPT=rfc822;x+40y"), work, &all, &rp, &r));
	CHECK_INT(rp.notify, 0x18);
	CHECK(sv_eq_cstr(rp.orcpt, "rfc822;x+40y"));
	sv tainted = sv_tainted(sv_cstr("<a@b>"));
	CHECK(smtp_parse_rcpt(tainted, work, &all, &rp, &r));
	CHECK(r.address.taint == 1);
}

static void test_split(void)
{
	static const struct { const char *line; smtp_verb v; const char *arg; } t[] = {
		{ "EHLO x", SMTP_EHLO, "x" }, { "helo  x  ", SMTP_HELO, "x" }, { "HELOx", SMTP_UNKNOWN, "" },
		{ "MAIL FROM:<a@b>", SMTP_MAIL, "<a@b>" }, { "mail from: <a@b>", SMTP_MAIL, "<a@b>" },
		{ "MAIL  FROM:<a@b>", SMTP_UNKNOWN, "" }, { "MAIL FROM <a@b>", SMTP_UNKNOWN, "" },
		{ "RCPT TO:", SMTP_RCPT, "" }, { "DATA", SMTP_DATA, "" }, { "DATA x", SMTP_DATA, "x" },
		{ "BDAT 10 LAST", SMTP_BDAT, "10 LAST" }, { "QUIT", SMTP_QUIT, "" }, { "", SMTP_UNKNOWN, "" },
		{ "STARTTLS", SMTP_STARTTLS, "" }, { "AUTH PLAIN AGFAYg==", SMTP_AUTH, "PLAIN AGFAYg==" },
		{ "noop\tfoo", SMTP_UNKNOWN, "" }, { "noop \tfoo", SMTP_NOOP, "foo" }, { "XYZ", SMTP_UNKNOWN, "" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		sv arg;
		CHECK_INT(smtp_cmd_split(sv_cstr(t[i].line), &arg), t[i].v);
		char buf[64];
		snprintf(buf, sizeof buf, "%.*s", SV_ARG(arg));
		CHECK_STR(buf, t[i].arg);
	}
	CHECK_STR(smtp_verb_name(SMTP_MAIL), "MAIL");
}

static void test_helo_bdat(void)
{
	static const struct { const char *arg; bool ok; } h[] = {
		{ "x", true }, { "-x", true }, { "x.", true }, { "a_b", false }, { "a b", false },
		{ "[1.2.3.4]", true }, { "[999.1.1.1]", false }, { "", false }, { "[IPv6:::1]", true },
		{ "[]", false }, { "host.example.com", true },
	};
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++)
		CHECK(smtp_helo_valid(sv_cstr(h[i].arg), SV_NULL) == h[i].ok);
	CHECK(smtp_helo_valid(sv_cstr("a_b"), sv_cstr("_")));
	unsigned long long n;
	bool last;
	CHECK(smtp_parse_bdat(sv_cstr("10"), &n, &last) && n == 10 && !last);
	CHECK(smtp_parse_bdat(sv_cstr("0 LAST"), &n, &last) && n == 0 && last);
	CHECK(smtp_parse_bdat(sv_cstr("1 last"), &n, &last) && last);
	CHECK(!smtp_parse_bdat(sv_cstr("x"), &n, &last));
	CHECK(!smtp_parse_bdat(sv_cstr(""), &n, &last));
	/* As Exim's sscanf %u (observed with exim -bh): too big saturates, a sign is taken, the
	 * value is cut to 32 bits, and only an exact LAST makes the last chunk. */
	CHECK(smtp_parse_bdat(sv_cstr("99999999999999999999999"), &n, &last) && n == 4294967295ULL && !last);
	CHECK(smtp_parse_bdat(sv_cstr("-1"), &n, &last) && n == 4294967295ULL);
	CHECK(smtp_parse_bdat(sv_cstr("+3 LAST"), &n, &last) && n == 3 && last);
	CHECK(smtp_parse_bdat(sv_cstr("4294967296 LAST"), &n, &last) && n == 0 && last);
	CHECK(smtp_parse_bdat(sv_cstr("4294967297"), &n, &last) && n == 1);
	CHECK(smtp_parse_bdat(sv_cstr("5 LASTx"), &n, &last) && n == 5 && !last);
	CHECK(smtp_parse_bdat(sv_cstr("5 last junk"), &n, &last) && !last);
	CHECK(smtp_parse_bdat(sv_cstr("5x"), &n, &last) && n == 5 && !last);
	CHECK(!smtp_parse_bdat(sv_cstr("-x"), &n, &last));
}

int main(void)
{
	arena_init_pools();
	RUN(test_split);
	RUN(test_mail_rcpt);
	RUN(test_params);
	RUN(test_helo_bdat);
	return unit_report("test_smtp_cmd");
}
