/* The ACL engine against a synthetic context: parsing errors (Exim's wording), verb semantics,
 * messages, nesting, per-where restrictions, controls, verify through a stub router, headers,
 * ratelimit and seen on a real hints database, warn logging. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "conf/conf.h"
#include "core/acl.h"
#include "core/acl_internal.h"
#include "core/hintsdb.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "../unit.h"

static char tmpdir[] = "/tmp/acl_test_XXXXXX";

static const char *config_text =
	"primary_hostname = test.example\n"
	"spool_directory = %s\n"
	"domainlist local_domains = @ : local.example\n"
	"hostlist relay_from_hosts = 127.0.0.1 : 10.0.0.0/8\n"
	"begin acl\n"
	"a_default_rcpt:\n"
	"  accept hosts = :\n"
	"         message = local\n"
	"  deny   domains = +local_domains\n"
	"         local_parts = ^[.] : ^.*[@%%!/|]\n"
	"         message = Restricted characters in address\n"
	"  accept local_parts = postmaster\n"
	"         domains = +local_domains\n"
	"  accept hosts = +relay_from_hosts\n"
	"         control = submission\n"
	"         message = relay host\n"
	"  require message = relay not permitted\n"
	"          domains = +local_domains\n"
	"  accept message = local domain\n"
	"a_deny_domain:\n"
	"  deny domains = bad.example\n"
	"       message = bad domain $domain\n"
	"  accept\n"
	"a_require:\n"
	"  require message = need host\n"
	"          hosts = 10.0.0.0/8\n"
	"  accept message = welcome\n"
	"a_endpass:\n"
	"  accept hosts = 10.0.0.1\n"
	"         endpass\n"
	"         message = endpass failed\n"
	"         condition = false\n"
	"  deny message = fallthrough\n"
	"a_warn:\n"
	"  warn log_message = warned [$acl_c0]\n"
	"  warn set acl_c0 = one\n"
	"  accept\n"
	"a_nested:\n"
	"  accept acl = a_inner x y\n"
	"  deny message = inner said no\n"
	"a_inner:\n"
	"  accept condition = ${if eq{$acl_arg1}{x}}\n"
	"         message = inner $acl_narg $acl_arg2\n"
	"a_set:\n"
	"  accept set acl_m_foo = bar\n"
	"         message = got $acl_m_foo\n"
	"a_loop:\n"
	"  accept acl = a_loop\n"
	"a_forbid:\n"
	"  accept domains = x\n"
	"a_neg:\n"
	"  deny !hosts = 10.0.0.0/8\n"
	"       message = not local\n"
	"  accept\n"
	"a_ctl:\n"
	"  accept control = submission/domain=example.com/name=Foo Bar\n"
	"a_badctl:\n"
	"  accept control = nosuch\n"
	"a_ctlwhere:\n"
	"  accept control = freeze\n"
	"a_verify:\n"
	"  require verify = recipient\n"
	"  accept\n"
	"a_verify_msg:\n"
	"  require message = custom: $acl_verify_message\n"
	"          verify = recipient\n"
	"  accept\n"
	"a_discard:\n"
	"  discard log_message = gone\n"
	"a_drop:\n"
	"  drop message = bye\n"
	"a_defer:\n"
	"  defer message = 452 later\n"
	"a_rate:\n"
	"  deny ratelimit = 2 / 1h / per_rcpt / strict / k1\n"
	"       message = rate $sender_rate limit $sender_rate_limit period $sender_rate_period\n"
	"  accept\n"
	"a_rate_exim1:\n"
	"  deny ratelimit = 2 / 1h / per_rcpt / strict\n"
	"       message = over $sender_rate / $sender_rate_limit / $sender_rate_period\n"
	"  warn ratelimit = 5 / 1h / readonly / per_cmd\n"
	"       log_message = ro $sender_rate\n"
	"  accept message = ok $sender_rate\n"
	"a_rate_exim2:\n"
	"  warn ratelimit = 1 / 1h / per_rcpt / readonly\n"
	"       log_message = ro-before $sender_rate\n"
	"  deny ratelimit = 2 / 1h / per_rcpt / strict\n"
	"       message = over $sender_rate\n"
	"  accept message = ok $sender_rate\n"
	"a_mime_trace:\n"
	"  accept set acl_m_trace = $acl_m_trace|$mime_part_count:$mime_content_type:$mime_charset:$mime_filename:\\\n"
	"           $mime_is_coverletter$mime_is_multipart$mime_is_rfc822:$mime_content_transfer_encoding\n"
	"a_mime_deny:\n"
	"  deny mime_regex = ^hello (w.rld)\\$\n"
	"       message = found $regex1 in part $mime_part_count\n"
	"  accept\n"
	"a_mime_decode:\n"
	"  accept condition = ${if eq{$mime_content_transfer_encoding}{base64}}\n"
	"         decode = default\n"
	"         set acl_m_file = $mime_decoded_filename $mime_content_size\n"
	"  accept\n"
	"a_auth:\n"
	"  accept authenticated = *\n"
	"         message = auth $sender_host_authenticated\n"
	"  deny   message = not authenticated\n"
	"a_auth_name:\n"
	"  accept authenticated = PLAIN : ^cram\n"
	"  deny\n"
	"a_long:\n"
	"  deny message = This is a very long rejection message that goes on and on and on well beyond the seventy five character limit of a line, so Exim may split it here\n"
	"a_long_word:\n"
	"  deny message = Averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces and then more\n"
	"a_long_colon:\n"
	"  deny message = Rejected because of something quite a bit longer: the reason text continues here for a while longer than that\n"
	"a_udp:\n"
	"  accept udpsend = <; 127.0.0.1 ; $acl_c_port ; a:b\n"
	"a_udp_bad:\n"
	"  accept udpsend = 127.0.0.1 : abc : x\n"
	"a_udp_noport:\n"
	"  accept udpsend = 127.0.0.1\n"
	"a_rate_conflict:\n"
	"  accept ratelimit = 1 / 1h / per_mail / per_rcpt\n"
	"a_rate_modes:\n"
	"  accept ratelimit = 1 / 1h / strict / leaky\n"
	"a_rate_count:\n"
	"  accept ratelimit = 1 / 1h / count=abc\n"
	"a_rate_limit:\n"
	"  accept ratelimit = x / 1h\n"
	"a_seen_bad:\n"
	"  accept seen = xx\n"
	"a_seen_opt:\n"
	"  accept seen = 1h / foo\n"
	"a_rate_bad:\n"
	"  deny ratelimit = 2\n"
	"a_seen:\n"
	"  accept seen = 1h / key=abc\n"
	"  deny\n"
	"a_header:\n"
	"  warn add_header = X-A: 1\n"
	"  warn add_header = :at_start:plain text\n"
	"  warn remove_header = X-B : X-C\n"
	"  accept\n"
	"a_forced:\n"
	"  deny condition = ${if eq{a}{b}{yes}fail}\n"
	"       message = forced fail ignores the condition\n"
	"a_bad_expand:\n"
	"  accept condition = ${if\n"
	"a_bad_cond:\n"
	"  accept condition = maybe\n"
	"a_delay:\n"
	"  accept delay = xx\n"
	"a_senders:\n"
	"  accept senders = *@good.example : <>\n"
	"  deny message = sender $sender_address\n"
	"a_verify_kind:\n"
	"  accept verify = nosuch\n"
	"a_header_syntax:\n"
	"  accept verify = header_syntax\n"
	"a_vsender:\n"
	"  require verify = sender\n"
	"  accept\n"
	"a_vsender_nd:\n"
	"  require verify = sender/no_details\n"
	"  accept\n"
	"a_regex:\n"
	"  accept regex = nomatch : ^body text (\\\\d+)\n"
	"         message = n=$regex1\n"
	"  deny message = no match\n"
	"a_logwrite:\n"
	"  accept logwrite = :main: hello from logwrite\n";

static arena *a;
static xp_env env;
static msg_origin origin;
static message *msg;

/* A stub router chain: local parts starting "bad" do not route. */
static acl_result stub_verify(void *ctx, bool recipient, sv address, sv options, xbuf *user, xbuf *log,
	bool *empty_text)
{
	(void)ctx;
	(void)recipient;
	(void)options;
	(void)empty_text;
	if (sv_starts(address, "bad")) {
		xbuf_puts(user, "Unrouteable address");
		xbuf_puts(log, "Unrouteable address");
		return ACL_FAIL;
	}
	return ACL_OK;
}
static const char *body_text = "Subject: x\n\nbody text 12345\n";
static bool stub_body(void *ctx, sv *body)
{
	(void)ctx;
	*body = sv_cstr(body_text);
	return true;
}
static const acl_ops ops = { .verify_address = stub_verify, .body = stub_body };

/* $domain etc. for the RCPT context */
static sv cur_rcpt;
static bool rcpt_vars(void *ctx, sv name, xbuf *out)
{
	(void)ctx;
	if (sv_eq_cstr(name, "domain")) {
		const char *at = memchr(cur_rcpt.p, '@', cur_rcpt.len);
		if (at)
			xbuf_put(out, at + 1, cur_rcpt.len - (size_t)(at + 1 - cur_rcpt.p));
		return true;
	}
	if (sv_eq_cstr(name, "sender_address")) {
		xbuf_putsv(out, msg->sender);
		return true;
	}
	return false;
}
static xp_provider rcpt_provider = { .get = rcpt_vars };

typedef struct outcome {
	acl_result rc;
	const char *user, *log;
} outcome;

static acl_ctx ctx;

static outcome run(const char *spec, acl_where where, const char *host, const char *rcpt)
{
	/* One context per "connection", as the SMTP session keeps it. */
	static bool inited;
	if (!inited) {
		acl_ctx_init(&ctx, a, where, &env);
		inited = true;
	}
	acl_ctx_begin(&ctx, where);
	ctx.origin = &origin;
	ctx.msg = msg;
	ctx.ops = &ops;
	ctx.host_checking = false; /* log lines go to the test's log files */
	origin.host_address = sv_cstr(host);
	cur_rcpt = sv_cstr(rcpt ? rcpt : "");
	ctx.recipient = cur_rcpt;
	outcome o;
	o.rc = acl_check(&ctx, sv_cstr(spec));
	o.user = xbuf_cstr(&ctx.user_msg);
	o.log = xbuf_cstr(&ctx.log_msg);
	return o;
}

static void test_verbs(void)
{
	static const struct {
		const char *acl;
		acl_where where;
		const char *host, *rcpt;
		acl_result rc;
		const char *user, *log;
	} rows[] = {
		{ "a_deny_domain", ACL_WHERE_RCPT, "1.2.3.4", "x@bad.example", ACL_FAIL, "bad domain bad.example", "" },
		{ "a_deny_domain", ACL_WHERE_RCPT, "1.2.3.4", "x@good.example", ACL_OK, "", "" },
		{ "a_require", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL, "need host", "" },
		{ "a_require", ACL_WHERE_RCPT, "10.1.2.3", "x@y", ACL_OK, "welcome", "" },
		{ "a_endpass", ACL_WHERE_RCPT, "10.0.0.1", "x@y", ACL_FAIL, "endpass failed", "" },
		{ "a_endpass", ACL_WHERE_RCPT, "10.0.0.2", "x@y", ACL_FAIL, "fallthrough", "" },
		{ "a_nested", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_OK, "", "" }, /* accepting drops nested texts */
		{ "a_set", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_OK, "got bar", "" },
		{ "a_loop", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "ACL nested too deep: possible loop" },
		{ "a_forbid", ACL_WHERE_MAIL, "1.2.3.4", NULL, ACL_ERROR, "", "cannot test domains condition in MAIL ACL" },
		{ "a_forbid", ACL_WHERE_CONNECT, "1.2.3.4", NULL, ACL_ERROR, "", "cannot test domains condition in connection ACL" },
		{ "a_neg", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL, "not local", "" },
		{ "a_neg", ACL_WHERE_RCPT, "10.9.9.9", "x@y", ACL_OK, "", "" },
		{ "a_badctl", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "syntax error in \"control=nosuch\"" },
		{ "a_ctlwhere", ACL_WHERE_CONNECT, "1.2.3.4", NULL, ACL_ERROR, "", "cannot use \"control=freeze\" in connection ACL" },
		{ "a_verify", ACL_WHERE_RCPT, "1.2.3.4", "bad@y", ACL_FAIL, "Unrouteable address", "Unrouteable address" },
		{ "a_verify", ACL_WHERE_RCPT, "1.2.3.4", "good@y", ACL_OK, "", "" },
		{ "a_verify", ACL_WHERE_MAIL, "1.2.3.4", "good@y", ACL_ERROR, "", "cannot verify recipient in ACL for MAIL" },
		{ "a_verify_msg", ACL_WHERE_RCPT, "1.2.3.4", "bad@y", ACL_FAIL, "custom: Unrouteable address", "Unrouteable address" },
		{ "a_discard", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_DISCARD, "", "gone" },
		/* misplaced: an error, the statement's log_message becomes the reason (Exim 4.96) */
		{ "a_discard", ACL_WHERE_CONNECT, "1.2.3.4", NULL, ACL_ERROR, "", "gone" },
		{ "a_discard", ACL_WHERE_PREDATA, "1.2.3.4", NULL, ACL_ERROR, "", "gone" },
		{ "a_discard", ACL_WHERE_QUIT, "1.2.3.4", NULL, ACL_ERROR, "",
			"QUIT or not-QUIT toplevel ACL may not fail ('discard' verb used incorrectly)" },
		{ "a_defer", ACL_WHERE_QUIT, "1.2.3.4", NULL, ACL_ERROR, "452 later",
			"QUIT or not-QUIT toplevel ACL may not fail ('defer' verb used incorrectly)" },
		{ "a_neg", ACL_WHERE_QUIT, "1.2.3.4", NULL, ACL_ERROR, "not local",
			"QUIT or not-QUIT toplevel ACL may not fail ('deny' verb used incorrectly)" },
		{ "a_drop", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL_DROP, "bye", "" },
		{ "a_defer", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_DEFER, "452 later", "" },
		{ "a_regex", ACL_WHERE_DATA, "1.2.3.4", NULL, ACL_OK, "n=12345", "" },
		{ "a_regex", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "cannot test regex condition in RCPT ACL" },
		{ "a_udp_bad", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "bad destination port in \"udpsend\" modifier" },
		{ "a_udp_noport", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "missing destination port in \"udpsend\" modifier" },
		{ "a_rate_conflict", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"error in arguments to \"ratelimit\" condition: conflicting per_* options" },
		{ "a_rate_modes", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"error in arguments to \"ratelimit\" condition: conflicting update modes" },
		{ "a_rate_count", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"error in arguments to \"ratelimit\" condition: \"count=abc\" is not a positive number" },
		{ "a_rate_limit", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"error in arguments to \"ratelimit\" condition: \"x\" is not a positive number" },
		{ "a_seen_bad", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "failed to parse 'xx'" },
		{ "a_seen_opt", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "unrecognised option 'foo' in '1h / foo'" },
		{ "a_rate_bad", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"error in arguments to \"ratelimit\" condition: \"NULL\" is not a time value" },
		{ "a_forced", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL, "forced fail ignores the condition", "" },
		{ "a_bad_expand", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"failed to expand ACL string \"${if\": condition name expected, but found \"\"" },
		{ "a_bad_cond", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_DEFER, "", "invalid \"condition\" value \"maybe\"" },
		{ "a_delay", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"syntax error in argument for \"delay\" modifier: \"xx\" is not a time value" },
		{ "a_verify_kind", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"expected \"sender[=address]\", \"recipient\", \"helo\", \"header_syntax\", \"header_sender\", "
			"\"header_names_ascii\" or \"reverse_host_lookup\" at start of ACL condition \"verify nosuch\"" },
		{ "a_header_syntax", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "cannot verify header_syntax in ACL for RCPT" },
		/* the shape of Exim's default RCPT ACL */
		{ "a_default_rcpt", ACL_WHERE_RCPT, "", "x@far.example", ACL_OK, "local", "" },
		{ "a_default_rcpt", ACL_WHERE_RCPT, "1.2.3.4", "a%b@local.example", ACL_FAIL, "Restricted characters in address", "" },
		{ "a_default_rcpt", ACL_WHERE_RCPT, "1.2.3.4", ".x@test.example", ACL_FAIL, "Restricted characters in address", "" },
		{ "a_default_rcpt", ACL_WHERE_RCPT, "1.2.3.4", "postmaster@local.example", ACL_OK, "", "" },
		{ "a_default_rcpt", ACL_WHERE_RCPT, "10.1.1.1", "x@far.example", ACL_OK, "relay host", "" },
		{ "a_default_rcpt", ACL_WHERE_RCPT, "1.2.3.4", "x@far.example", ACL_FAIL, "relay not permitted", "" },
		{ "a_default_rcpt", ACL_WHERE_RCPT, "1.2.3.4", "x@LOCAL.example", ACL_OK, "local domain", "" },
		/* long replies are folded as Exim folds them; the log keeps the line */
		{ "a_long", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL,
			"This is a very long rejection message that goes on and on and on well\nbeyond the seventy five "
			"character limit of a line, so Exim may split it\nhere",
			"This is a very long rejection message that goes on and on and on well beyond the seventy five "
			"character limit of a line, so Exim may split it here" },
		{ "a_long_word", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL,
			"Averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces\nand then more",
			"Averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces and then more" },
		{ "a_long_colon", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL,
			"Rejected because of something quite a bit longer:\nthe reason text continues here for a while longer than that",
			"Rejected because of something quite a bit longer: the reason text continues here for a while longer than that" },
		/* inline ACLs and names that are not ACLs */
		{ "accept hosts = 1.2.3.4", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_OK, "", "" },
		{ "nosuch", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "", "unknown ACL verb \"nosuch\" in \"nosuch\"" },
		{ "accept\ndeny message = x", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_OK, "", "" },
		/* defaults when no ACL is set */
		{ "", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_FAIL, "", "" },
		{ "", ACL_WHERE_VRFY, "1.2.3.4", NULL, ACL_FAIL, "", "" },
		{ "", ACL_WHERE_MAIL, "1.2.3.4", NULL, ACL_OK, "", "" },
		{ "/nonexistent/acl/file", ACL_WHERE_RCPT, "1.2.3.4", "x@y", ACL_ERROR, "",
			"failed to open ACL file \"/nonexistent/acl/file\": No such file or directory" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		outcome o = run(rows[i].acl, rows[i].where, rows[i].host, rows[i].rcpt);
		if (o.rc != rows[i].rc)
			fprintf(stderr, "row %zu (%s): rc %d want %d (log: %s)\n", i, rows[i].acl, o.rc, rows[i].rc, o.log);
		CHECK_INT(o.rc, rows[i].rc);
		CHECK_STR(o.user, rows[i].user);
		CHECK_STR(o.log, rows[i].log);
	}
}

static void test_senders(void)
{
	msg->sender = sv_cstr("a@good.example");
	CHECK_INT(run("a_senders", ACL_WHERE_MAIL, "1.2.3.4", NULL).rc, ACL_OK);
	msg->sender = sv_cstr("");
	CHECK_INT(run("a_senders", ACL_WHERE_MAIL, "1.2.3.4", NULL).rc, ACL_FAIL); /* "<>" is no null sender item (Exim) */
	msg->sender = sv_cstr("a@bad.example");
	outcome o = run("a_senders", ACL_WHERE_MAIL, "1.2.3.4", NULL);
	CHECK_INT(o.rc, ACL_FAIL);
	CHECK_STR(o.user, "sender a@bad.example");
}

static void test_controls_and_headers(void)
{
	acl_ctx_message_done(&ctx);
	outcome o = run("a_ctl", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	CHECK_INT(o.rc, ACL_OK);
	CHECK(ctx.controls.submission);
	CHECK_STR(sv_dup(a, ctx.controls.submission_domain), "example.com");
	CHECK_STR(sv_dup(a, ctx.controls.submission_name), "Foo Bar");

	o = run("a_header", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	CHECK_INT(o.rc, ACL_OK);
	CHECK(ctx.add_headers != NULL);
	if (ctx.add_headers) {
		CHECK_STR(sv_dup(a, ctx.add_headers->text), "X-A: 1\n");
		CHECK_INT(ctx.add_headers->pos, ACL_HDR_APPEND);
		CHECK(ctx.add_headers->next != NULL);
		if (ctx.add_headers->next) {
			CHECK_STR(sv_dup(a, ctx.add_headers->next->text), "X-ACL-Warn: plain text\n");
			CHECK_INT(ctx.add_headers->next->pos, ACL_HDR_AT_START);
		}
	}
	CHECK_STR(sv_dup(a, ctx.remove_headers), "X-B:X-C");
	acl_ctx_message_done(&ctx);
	CHECK(ctx.add_headers == NULL && !ctx.remove_headers.len && !ctx.controls.submission);
	o = run("a_header", ACL_WHERE_CONNECT, "1.2.3.4", NULL);
	CHECK_INT(o.rc, ACL_ERROR);
	CHECK_STR(o.log, "cannot use add_header condition in connection ACL");
}

/* acl_m variables go onto the message (for the spool). */
static void test_set_on_message(void)
{
	run("a_set", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	bool found = false;
	for (msg_aclvar *v = msg->aclvars; v; v = v->next)
		if (sv_eq_cstr(v->name, "acl_m_foo") && sv_eq_cstr(v->value, "bar"))
			found = true;
	CHECK(found);
	/* acl_m variables end with the message, acl_c ones stay */
	xp_env_set_aclvar(&env, SV_LIT("acl_c9"), SV_LIT("keep"));
	acl_ctx_message_done(&ctx);
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	CHECK_INT(xp_expand(&env, SV_LIT("[$acl_m_foo][$acl_c9]"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "[][keep]");
}

static void test_ratelimit(void)
{
	/* 2 per hour, strict: a burst of 2 passes (the second is a hair below 2.0), the third is over. */
	outcome o = run("a_rate", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	CHECK_INT(o.rc, ACL_OK);
	o = run("a_rate", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	CHECK_INT(o.rc, ACL_OK);
	o = run("a_rate", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	CHECK_INT(o.rc, ACL_FAIL);
	CHECK_STR(o.user, "rate 3.0 limit 2 period 1h");
	/* per_rcpt where it makes no sense: read-only, and strict is refused */
	o = run("a_rate", ACL_WHERE_CONNECT, "1.2.3.4", NULL);
	CHECK_INT(o.rc, ACL_ERROR);
	CHECK_STR(o.log, "error in arguments to \"ratelimit\" condition: \"per_rcpt\" must not have /leaky or "
		"/strict option, or cannot be used in connection ACL");
}

/* Transcripts of Exim 4.96 -bh with these ACLs (four and three RCPT commands). */
static void test_ratelimit_like_exim(void)
{
	acl_ctx_message_done(&ctx);
	static const char *const want1[] = { "ok 0.0", "ok 0.0", "over 3.0 / 2 / 1h", "over 4.0 / 2 / 1h" };
	for (int i = 0; i < 4; i++)
		CHECK_STR(run("a_rate_exim1", ACL_WHERE_RCPT, "5.5.5.5", "x@y").user, want1[i]);
	/* A readonly check first caches "no rate" for the command, so the strict one never counts. */
	for (int i = 0; i < 3; i++)
		CHECK_STR(run("a_rate_exim2", ACL_WHERE_RCPT, "6.6.6.6", "x@y").user, "ok 0.0");
}

static const char mime_message[] =
	"From: a@b.example\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed;\n"
	"\tboundary=\"XYZ\"\n"
	"\n"
	"preamble\n"
	"--XYZ\n"
	"Content-Type: text/plain; charset=US-ASCII\n"
	"\n"
	"Hello body\n"
	"--XYZ\n"
	"Content-Type: application/octet-stream; name=\"other.bin\"\n"
	"Content-Transfer-Encoding: BASE64\n"
	"Content-Disposition: attachment; filename*=utf-8''%E2%82%ACuro.txt\n"
	"\n"
	"aGVsbG8gd29y\n"
	"bGQ=\n"
	"--XYZ\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Subject: inner\n"
	"Content-Type: text/html\n"
	"\n"
	"<b>x</b>\n"
	"--XYZ--\n"
	"epilogue\n";

static void test_mime(void)
{
	acl_ctx_message_done(&ctx);
	acl_ctx_begin(&ctx, ACL_WHERE_MIME);
	ctx.origin = &origin;
	ctx.msg = msg;
	CHECK_INT(acl_mime_check(&ctx, SV_LIT("a_mime_trace"), sv_cstr(mime_message)), ACL_OK);
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	CHECK_INT(xp_expand(&env, SV_LIT("$acl_m_trace"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out),
		"|0:multipart/mixed:::110:"
		"|1:text/plain:US-ASCII::100:"
		"|2:application/octet-stream::\xe2\x82\xacuro.txt:000:base64"
		"|3:message/rfc822:::000:"
		"|0:text/html:::101:");
	/* the part count stays for the DATA ACL */
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("$mime_part_count"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "3");

	/* the first non-accept ends the walk */
	acl_ctx_begin(&ctx, ACL_WHERE_MIME);
	CHECK_INT(acl_mime_check(&ctx, SV_LIT("a_mime_deny"), sv_cstr(mime_message)), ACL_FAIL);
	CHECK_STR(xbuf_cstr(&ctx.user_msg), "found world in part 2");

	/* decode = default writes the decoded part under spool/scan/<id>/ */
	memcpy(msg->id, "1abcde-000001-AB", 17);
	acl_ctx_begin(&ctx, ACL_WHERE_MIME);
	CHECK_INT(acl_mime_check(&ctx, SV_LIT("a_mime_decode"), sv_cstr(mime_message)), ACL_OK);
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("$acl_m_file"), &out, &err), XP_OK);
	char want[300];
	snprintf(want, sizeof want, "%s/scan/1abcde-000001-AB/1abcde-000001-AB-00001 1", tmpdir);
	CHECK_STR(xbuf_cstr(&out), want);
	want[strlen(want) - 2] = 0;
	FILE *f = fopen(want, "r");
	CHECK(f != NULL);
	if (f) {
		char buf[64] = { 0 };
		CHECK_INT(fread(buf, 1, sizeof buf - 1, f), 11);
		CHECK_STR(buf, "hello world");
		fclose(f);
	}

	/* not a MIME message: the ACL does not run, $mime_part_count is -1 */
	acl_ctx_message_done(&ctx);
	acl_ctx_begin(&ctx, ACL_WHERE_MIME);
	CHECK_INT(acl_mime_check(&ctx, SV_LIT("a_mime_deny"), SV_LIT("Subject: x\n\nhello world\n")), ACL_OK);
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("$mime_part_count"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "-1");
}

/* udpsend really sends; the data is the rest after the port, separators and all. */
static void test_udpsend(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;
	CHECK(bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	char port[16];
	snprintf(port, sizeof port, "%d", ntohs(sin.sin_port));
	xp_env_set_aclvar(&env, SV_LIT("acl_c_port"), sv_cstr(port));
	CHECK_INT(run("a_udp", ACL_WHERE_RCPT, "1.2.3.4", "x@y").rc, ACL_OK);
	char buf[64];
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	CHECK_INT(n, 4);
	buf[n > 0 ? n : 0] = 0;
	CHECK_STR(buf, " a:b");
	close(fd);
}

static void test_authenticated(void)
{
	CHECK_STR(run("a_auth", ACL_WHERE_RCPT, "1.2.3.4", "x@y").user, "not authenticated");
	origin.auth_driver = SV_LIT("plain");
	ctx.authenticated = true;
	acl_ctx_begin(&ctx, ACL_WHERE_RCPT);
	CHECK_INT(acl_check(&ctx, SV_LIT("a_auth")), ACL_OK);
	CHECK_INT(acl_check(&ctx, SV_LIT("a_auth_name")), ACL_OK);
	origin.auth_driver = SV_LIT("cram_md5");
	CHECK_INT(acl_check(&ctx, SV_LIT("a_auth_name")), ACL_OK);
	origin.auth_driver = SV_LIT("login");
	CHECK_INT(acl_check(&ctx, SV_LIT("a_auth_name")), ACL_FAIL);
	origin.auth_driver = SV_NULL;
	ctx.authenticated = false;
}

static void test_seen(void)
{
	/* The first test creates the record; the second finds it "since 1h". */
	CHECK_INT(run("a_seen", ACL_WHERE_RCPT, "1.2.3.4", "x@y").rc, ACL_FAIL);
	CHECK_INT(run("a_seen", ACL_WHERE_RCPT, "1.2.3.4", "x@y").rc, ACL_OK);
}

static bool count_rec(void *cx, sv key, sv value)
{
	(void)key;
	(void)value;
	(*(int *)cx)++;
	return true;
}

static void test_hintsdb(void)
{
	xbuf err, val;
	xbuf_init(&err, a);
	xbuf_init(&val, a);
	CHECK(hintsdb_open(tmpdir, "missing", true, &err) == NULL);
	CHECK(hintsdb_open(tmpdir, "../evil", false, &err) == NULL);
	hintsdb *db = hintsdb_open(tmpdir, "unit", false, &err);
	CHECK(db != NULL);
	if (!db)
		return;
	CHECK(hintsdb_put(db, SV_LIT("k1"), SV_LIT("v1")));
	CHECK(hintsdb_put(db, SV_LIT("k2"), SV_LIT("v2")));
	CHECK_INT(hintsdb_get(db, SV_LIT("k1"), &val), 1);
	CHECK_STR(xbuf_cstr(&val), "v1");
	CHECK_INT(hintsdb_get(db, SV_LIT("nope"), &val), 0);
	int n = 0;
	hintsdb_iterate(db, count_rec, &n);
	CHECK_INT(n, 2);
	CHECK(hintsdb_delete(db, SV_LIT("k1")));
	CHECK_INT(hintsdb_get(db, SV_LIT("k1"), &val), 0);
	hintsdb_close(db);
	/* Persistence across opens. */
	db = hintsdb_open(tmpdir, "unit", true, &err);
	CHECK(db != NULL);
	if (db) {
		xbuf_reset(&val);
		CHECK_INT(hintsdb_get(db, SV_LIT("k2"), &val), 1);
		CHECK_STR(xbuf_cstr(&val), "v2");
		CHECK(!hintsdb_put(db, SV_LIT("k3"), SV_LIT("v3")));
		hintsdb_close(db);
	}
}

/* Syntax errors, with Exim's wording. */
static void test_parse_errors(void)
{
	static const struct { const char *text, *err; } rows[] = {
		{ "foo = bar", "unknown ACL verb \"foo\" in \"foo = bar\"" },
		{ "accept foo = bar", "unknown ACL condition/modifier in \"accept foo = bar\"" },
		{ "accept hosts", "\"=\" missing after ACL \"hosts\" condition" },
		{ "accept hosts-x = 1", "\"=\" missing after ACL \"hosts\" condition" },
		{ "accept !message = x", "ACL error: negation is not allowed with \"message\"" },
		{ "accept set foo = 1", "invalid variable name after \"set\" in ACL modifier \"set foo = 1\" (must start \"acl_c\" or \"acl_m\")" },
		{ "accept set acl_c = 1", "invalid variable name after \"set\" in ACL modifier \"set acl_c = 1\" (digit or underscore must follow acl_c or acl_m)" },
		{ "accept set acl_m_x", "\"=\" missing after ACL \"set\" modifier" },
		{ "message = x", "unknown ACL verb \"message\" in \"message = x\"" },
		{ "!accept", "malformed ACL line \"!accept\"" },
		{ "ACCEPT", "unknown ACL verb \"ACCEPT\" in \"ACCEPT\"" },
		{ "accept\n  !!hosts = x", "unknown ACL condition/modifier in \"!!hosts = x\"" },
		{ "accept\n  = x", "unknown ACL condition/modifier in \"= x\"" },
		{ "accept ! hosts = 1.2.3.4", NULL },
		{ "accept endpass = 1", NULL },
		{ "accept set acl_m_x=1\n# comment\n\ndeny message = a \\\n   b", NULL },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		acl_src_line *lines;
		size_t n = acl_split_text(a, sv_cstr(rows[i].text), "t", &lines);
		acl_stmt *st;
		xbuf err;
		xbuf_init(&err, a);
		size_t bad;
		bool ok = acl_parse(a, lines, n, &st, &err, &bad);
		CHECK_STR(ok ? NULL : xbuf_cstr(&err), rows[i].err);
	}
	/* continuation lines are joined */
	acl_src_line *lines;
	size_t n = acl_split_text(a, SV_LIT("deny message = a \\\n   b\n"), "t", &lines);
	CHECK_INT(n, 1);
	CHECK_STR(sv_dup(a, lines[0].text), "deny message = a b");
}

static void test_warn_log(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/mainlog", tmpdir);
	run("a_warn", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	run("a_warn", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	run("a_logwrite", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	/* The first warn sees acl_c0 unset, the second "one"; identical lines are logged once. */
	CHECK(strstr(buf, "H=[1.2.3.4] Warning: warned []\n") != NULL);
	CHECK(strstr(buf, "H=[1.2.3.4] Warning: warned [one]\n") != NULL);
	CHECK(strstr(buf, "hello from logwrite\n") != NULL);
	run("a_warn", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	const char *first = strstr(buf, "warned [one]");
	CHECK(first && !strstr(first + 1, "warned [one]"));
	/* A new message logs it again. */
	acl_ctx_message_done(&ctx);
	run("a_warn", ACL_WHERE_RCPT, "1.2.3.4", "x@y");
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	first = strstr(buf, "warned [one]");
	CHECK(first && strstr(first + 1, "warned [one]"));
}

/* Sender verification: once per message, detailed the first time, logged. */
static void test_verify_sender(void)
{
	acl_ctx_message_done(&ctx);
	msg->sender = sv_cstr("bad@x.example");
	outcome o = run("a_vsender", ACL_WHERE_RCPT, "1.2.3.4", "r@y");
	CHECK_INT(o.rc, ACL_FAIL);
	CHECK_STR(o.user, "Verification failed for <bad@x.example>\nUnrouteable address\nSender verify failed");
	CHECK_STR(o.log, "Sender verify failed");
	o = run("a_vsender", ACL_WHERE_RCPT, "1.2.3.4", "r2@y");
	CHECK_INT(o.rc, ACL_FAIL);
	CHECK_STR(o.user, "Sender verify failed");
	acl_ctx_message_done(&ctx);
	o = run("a_vsender_nd", ACL_WHERE_RCPT, "1.2.3.4", "r@y");
	CHECK_STR(o.user, "Sender verify failed");
	msg->sender = sv_cstr("good@x.example");
	CHECK_INT(run("a_vsender", ACL_WHERE_RCPT, "1.2.3.4", "r@y").rc, ACL_OK);
	msg->sender = sv_cstr("");
	CHECK_INT(run("a_vsender", ACL_WHERE_RCPT, "1.2.3.4", "r@y").rc, ACL_OK);
	char path[256], buf[8192];
	snprintf(path, sizeof path, "%s/mainlog", tmpdir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	const char *line = strstr(buf, "H=[1.2.3.4] sender verify fail for <bad@x.example>: Unrouteable address\n");
	CHECK(line != NULL);
	CHECK(line && !strstr(strchr(line, '\n'), "sender verify fail")); /* once, and not for no_details */
}

/* ${acl} through the expansion hook. */
static void test_expand_hook(void)
{
	acl_ctx_init(&ctx, a, ACL_WHERE_UNKNOWN, &env);
	xp_hooks hooks = { .acl = acl_expand_hook, .ctx = &ctx };
	env.hooks = &hooks;
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	CHECK_INT(xp_expand(&env, SV_LIT("${acl{a_inner}{x}{z}}"), &out, &err), XP_OK);
	CHECK_STR(xbuf_cstr(&out), "inner 2 z");
	xbuf_reset(&out);
	CHECK_INT(xp_expand(&env, SV_LIT("${acl{a_defer}}"), &out, &err), XP_FORCEFAIL);
	CHECK_STR(xbuf_cstr(&err), "DEFER from acl \"a_defer\"");
	env.hooks = NULL;
}

static void test_host_list_needs_name(void)
{
	static const struct { const char *list; bool want; } cases[] = {
		{ "127.0.0.1 : 10.0.0.0/8", false }, { "*", false }, { "*.example.com", true },
		{ "!*.example.com", true }, { "^mx\\d+\\.example", true }, { "lsearch;/etc/hosts.allow", true },
		{ "net24-lsearch;/etc/nets", false }, { "<; 1.2.3.4 ; *.x.example", true }, { "mail.example.com", false },
		{ "", false }, { "+relay_hosts", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_INT(acl_host_list_needs_name(sv_cstr(cases[i].list)), cases[i].want);
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(tmpdir))
		return 1;
	char conf[256];
	snprintf(conf, sizeof conf, "%s/test.conf", tmpdir);
	FILE *f = fopen(conf, "w");
	fprintf(f, config_text, tmpdir);
	fclose(f);
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(conf, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		return 1;
	}
	CHECK(acl_check_config(&err));
	log_config lc;
	log_config_default(&lc);
	char lpath[256];
	snprintf(lpath, sizeof lpath, "%s/%%slog", tmpdir);
	lc.file_path = lpath;
	lc.echo = LOG_ECHO_NONE;
	CHECK(log_configure(&lc, &err));

	a = arena_new("acltest");
	xp_env_init(&env, a);
	xp_env_push_provider(&env, &rcpt_provider);
	msg = message_new(a);
	msg->sender = sv_cstr("s@example.com");

	RUN(test_parse_errors);
	RUN(test_verbs);
	RUN(test_senders);
	RUN(test_controls_and_headers);
	RUN(test_set_on_message);
	RUN(test_ratelimit);
	RUN(test_ratelimit_like_exim);
	RUN(test_mime);
	RUN(test_host_list_needs_name);
	RUN(test_udpsend);
	RUN(test_authenticated);
	RUN(test_seen);
	RUN(test_hintsdb);
	RUN(test_warn_log);
	RUN(test_verify_sender);
	RUN(test_expand_hook);

	acl_ctx_release(&ctx);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return unit_report("test_acl");
}
