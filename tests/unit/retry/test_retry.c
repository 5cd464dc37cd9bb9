/* Retry rules and records: keys as Exim 4.96 writes them, error-type matching, the next-try
 * computation against times observed from Exim 4.96 (records edited with exim_fixdb, then a
 * forced delivery, then exim_dumpdb), rule selection (host name before domain, senders=, regex
 * patterns, address patterns), and the database round trip (check, update, remove). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "core/retry.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "../unit.h"

static char tmpdir[] = "/tmp/retry_test_XXXXXX";

static const char *config_text =
	"primary_hostname = mail.test.ex\n"
	"spool_directory = %s\n"
	"retry_interval_max = 2h\n"
	"begin retry\n"
	"p.q.r.example        *          F,24h,30m\n"
	"a.b.c.example        *          F,4d,45m\n"
	"alice@wonder.example quota_5d   F,7d,3h\n"
	"wonder.example       quota_5d\n"
	"*@grey.example       rcpt_45x   F,1h,10m\n"
	"^\\N[^@]+@rx\\d+\\.example$\\N * G,1h,10m,2\n"
	"*                    rcpt_4xx   senders=:  F,1h,30m\n"
	"*                    refused_A  F,2h,20m\n"
	"*                    *          F,2h,15m; G,16h,1h,1.5; F,4d,6h\n";

static void test_keys(void)
{
	arena *a = arena_new("t");
	address_item ad = { 0 };
	ad.local_part = sv_cstr("u");
	ad.domain = sv_cstr("r.example");
	CHECK_STR(sv_dup(a, retry_host_key(a, sv_cstr("127.0.0.1"), sv_cstr("127.0.0.1"), 2599, NULL)),
		"T:127.0.0.1:127.0.0.1:2599");
	CHECK_STR(sv_dup(a, retry_host_key(a, sv_cstr("192.0.2.1"), sv_cstr("192.0.2.1"), 25, NULL)),
		"T:192.0.2.1:192.0.2.1");
	CHECK_STR(sv_dup(a, retry_host_key(a, sv_cstr("mx.example"), sv_cstr("127.0.0.1"), 2601, "1xUjaP-0002dG-0K")),
		"T:mx.example:127.0.0.1:2601:1xUjaP-0002dG-0K");
	CHECK_STR(sv_dup(a, retry_address_sender_key(a, &ad, sv_cstr("s@snd.example"))), "R:u@r.example:<s@snd.example>");
	CHECK_STR(sv_dup(a, retry_address_key(a, &ad, false)), "R:r.example");
	CHECK_STR(sv_dup(a, retry_address_key(a, &ad, true)), "R:u@r.example");
	CHECK_STR(sv_dup(a, retry_local_key(a, &ad, true)), "T:u@r.example");
	CHECK_STR(sv_dup(a, retry_domain_key(a, sv_cstr("d.example"))), "R:d.example");
	/* Exim's dump showed 13121 for a 451 from a non-MX host and 65 for a refusal. */
	CHECK_INT(retry_more_errno_smtp(451, false), 13121);
	CHECK_INT(retry_more_errno_host(false, false), 65);
	arena_free(a);
}

static void test_errors(void)
{
	static const struct { const char *spec; int basic, more; bool want; } t[] = {
		{ "*", 111, 65, true },
		{ "refused", ECONNREFUSED, 'M', true },
		{ "refused_MX", ECONNREFUSED, 'M', true },
		{ "refused_MX", ECONNREFUSED, 'A', false },
		{ "refused_A", ECONNREFUSED, 'A', true },
		{ "timeout", ETIMEDOUT, 'A', true },
		{ "timeout_connect", ETIMEDOUT, 'A', false },
		{ "timeout_connect", ETIMEDOUT, 'A' | RETRY_MORE_CONNECT, true },
		{ "timeout_connect_MX", ETIMEDOUT, 'M' | RETRY_MORE_CONNECT, true },
		{ "timeout_connect_A", ETIMEDOUT, 'M' | RETRY_MORE_CONNECT, false },
		{ "timeout_MX", ETIMEDOUT, 'M', true },
		{ "timeout_A", ETIMEDOUT, 'M', false },
		{ "lost_connection", -18, 'A', true },
		{ "auth_failed", -42, 0, true },
		{ "rcpt_4xx", -44, 13121, true },
		{ "rcpt_45x", -44, 13121, true },
		{ "rcpt_451", -44, 13121, true },
		{ "rcpt_452", -44, 13121, false },
		{ "rcpt_44x", -44, 13121, false },
		{ "mail_4xx", -44, 13121, false },
		{ "mail_4xx", -45, 13121, true },
		{ "data_4x1", -46, 13121, true },
		{ "quota", RETRY_ERRNO_QUOTA, -1, true },
		{ "quota", ENOSPC, 0, true },
		{ "quota_4d", RETRY_ERRNO_QUOTA, 5 * 86400, true },
		{ "quota_4d", RETRY_ERRNO_QUOTA, 3 * 86400, false },
		{ "quota_4d", RETRY_ERRNO_QUOTA, -1, false },
		{ "tls_required", RETRY_ERRNO_TLSREQUIRED, 0, true },
		{ "refused", ETIMEDOUT, 'A', false },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		bool got = retry_error_matches(t[i].spec, t[i].basic, t[i].more);
		if (got != t[i].want)
			fprintf(stderr, "error case %zu (%s)\n", i, t[i].spec);
		CHECK(got == t[i].want);
	}
}

static conf_retry_item items_g[] = { { 'G', 8 * 3600, 600, 2000 } };
static conf_retry_item items_default[] = {
	{ 'F', 2 * 3600, 900, 0 }, { 'G', 16 * 3600, 3600, 1500 }, { 'F', 4 * 86400, 6 * 3600, 0 },
};

static void test_compute(void)
{
	static conf_retry_rule g = { .pattern = "*", .error = "*", .items = items_g, .nitems = 1 };
	static conf_retry_rule def = { .pattern = "*", .error = "*", .items = items_default, .nitems = 3 };
	const time_t T = 1795261717;  /* 2026-11-21 11:48:37 */
	const struct {
		const conf_retry_rule *rule;
		long long ff, lt, nt;     /* previous record relative to T; lt == 0: none */
		int interval_max;
		long long want_next;      /* relative to T */
		bool want_expired;
	} t[] = {
		/* Exim 4.96, G,8h,10m,2: predicted gap 25m, actual 30m37s -> 50m */
		{ &g, -3637, -1837, -337, 86400, 3000, false },
		/* predicted 40m, actual 30m39s -> 61m18s */
		{ &g, -3639, -1839, 561, 86400, 3678, false },
		/* first failed 9h ago (past the 8h cutoff): same gap, marked expired ("*" in the dump) */
		{ &g, -9 * 3600 - 41, -1841, 559, 86400, 3682, true },
		/* 7h50m: not expired, and the next try is not pulled back to the cutoff */
		{ &g, -7 * 3600 - 50 * 60 - 45, -1845, 555, 86400, 3690, false },
		/* first failure: the first item's interval */
		{ &def, 0, 0, 0, 86400, 900, false },
		/* default rule: 3h in, the G item starts at its interval after 15m gaps */
		{ &def, -3 * 3600, -900, 0, 86400, 3600, false },
		/* then grows by 1.5 */
		{ &def, -5 * 3600, -3600, 0, 86400, 5400, false },
		/* retry_interval_max caps it */
		{ &def, -10 * 3600, -5 * 3600, 0, 7200, 7200, false },
		/* 17h in: the final F item */
		{ &def, -17 * 3600, -8 * 3600, 0, 86400, 6 * 3600, false },
		/* past 4 days: expired, the last item still sets the time */
		{ &def, -5 * 86400, -6 * 3600, 0, 86400, 6 * 3600, true },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		retry_record old = { .first_failed = T + t[i].ff, .last_try = T + t[i].lt, .next_try = T + t[i].nt };
		retry_record out = { 0 };
		retry_compute(t[i].rule, t[i].lt ? &old : NULL, t[i].lt ? old.first_failed : T, T, t[i].interval_max, &out);
		if (out.next_try - T != t[i].want_next || out.expired != t[i].want_expired)
			fprintf(stderr, "compute case %zu: next %+lld expired %d\n", i, (long long)(out.next_try - T), out.expired);
		CHECK_INT(out.next_try - T, t[i].want_next);
		CHECK(out.expired == t[i].want_expired);
		CHECK_INT(out.last_try, T);
		CHECK_INT(out.first_failed, t[i].lt ? T + t[i].ff : T);
	}
	/* A message-related error whose message is older than the first failure scans the items
	 * from the message's arrival: 3h old message, record 10m old -> already in the G item. */
	retry_record old = { .first_failed = T - 600, .last_try = T - 600, .next_try = T };
	retry_record out = { 0 };
	retry_compute(&def, &old, T - 3 * 3600, T, 86400, &out);
	CHECK_INT(out.next_try - T, 3600);
	CHECK_INT(out.first_failed, T - 600);
	/* H: between the interval and what G would give */
	conf_retry_item hi[] = { { 'H', 86400, 600, 3000 } };
	conf_retry_rule h = { .pattern = "*", .error = "*", .items = hi, .nitems = 1 };
	retry_record ho = { .first_failed = T - 7200, .last_try = T - 1200, .next_try = T };
	for (int i = 0; i < 50; i++) {
		retry_compute(&h, &ho, ho.first_failed, T, 86400, &out);
		CHECK(out.next_try - T >= 600 && out.next_try - T <= 3600);
	}
}

static void test_codec(void)
{
	arena *a = arena_new("t");
	retry_record r = { .basic_errno = -44, .more_errno = 13121, .text = sv_cstr("451 4.7.1 greylisted"),
		.first_failed = 1795261733, .last_try = 1795261733, .next_try = 1795262333, .expired = true,
		.written = 1795261734 };
	xbuf b;
	xbuf_init(&b, a);
	retry_record_encode(&r, &b);
	retry_record d = { 0 };
	CHECK(retry_record_decode(xbuf_sv(&b), &d, a));
	CHECK_INT(d.basic_errno, -44);
	CHECK_INT(d.more_errno, 13121);
	CHECK_STR(sv_dup(a, d.text), "451 4.7.1 greylisted");
	CHECK(d.text.taint);
	CHECK_INT(d.next_try, 1795262333);
	CHECK_INT(d.written, 1795261734);
	CHECK(d.expired);
	/* truncated or foreign values are refused */
	CHECK(!retry_record_decode(sv_make(b.p, 10), &d, a));
	CHECK(!retry_record_decode(sv_cstr("1234"), &d, a));
	arena_free(a);
}

static const char *rule_for(const char *subject, const char *domain, int basic, int more, const char *sender)
{
	const conf_retry_rule *r = retry_find_rule(sv_cstr(subject), domain ? sv_cstr(domain) : SV_NULL, basic, more,
		sender ? sv_cstr(sender) : SV_NULL);
	return r ? r->pattern : NULL;
}

static void test_find(void)
{
	/* The spec's example: a host error at x.y.z (an MX of a.b.c) uses the domain's rule; one at
	 * p.q.r uses p.q.r's own rule. */
	CHECK_STR(rule_for("x.y.z.example", "a.b.c.example", ETIMEDOUT, 'M', NULL), "a.b.c.example");
	CHECK_STR(rule_for("p.q.r.example", "a.b.c.example", ETIMEDOUT, 'M', NULL), "p.q.r.example");
	/* address patterns: the local part counts only when the subject is an address */
	CHECK_STR(rule_for("alice@wonder.example", "wonder.example", RETRY_ERRNO_QUOTA, 6 * 86400, NULL),
		"alice@wonder.example");
	CHECK_STR(rule_for("bob@wonder.example", "wonder.example", RETRY_ERRNO_QUOTA, 6 * 86400, NULL), "wonder.example");
	const conf_retry_rule *none = retry_find_rule(sv_cstr("bob@wonder.example"), SV_NULL, RETRY_ERRNO_QUOTA,
		6 * 86400, SV_NULL);
	CHECK(none && none->nitems == 0);   /* no items: fail at once */
	/* "*@domain" matches a bare domain too; the error type must agree */
	CHECK_STR(rule_for("u@grey.example", "grey.example", -44, retry_more_errno_smtp(451, false), NULL), "*@grey.example");
	CHECK_STR(rule_for("grey.example", NULL, -44, retry_more_errno_smtp(451, false), NULL), "*@grey.example");
	CHECK_STR(rule_for("u@grey.example", "grey.example", -44, retry_more_errno_smtp(421, false), NULL), "*");
	/* a regex sees "*@domain" for a bare domain: [^@]+ matches "*" */
	CHECK_STR(rule_for("rx12.example", NULL, ECONNREFUSED, 'M', NULL), "^\\N[^@]+@rx\\d+\\.example$\\N");
	CHECK_STR(rule_for("u@rx7.example", NULL, ECONNREFUSED, 'M', NULL), "^\\N[^@]+@rx\\d+\\.example$\\N");
	/* senders=: only bounces (empty sender); unknown sender never matches */
	CHECK_STR(rule_for("u@x.example", "x.example", -44, retry_more_errno_smtp(450, false), ""), "*");
	CHECK_INT(retry_find_rule(sv_cstr("u@x.example"), SV_NULL, -44, retry_more_errno_smtp(450, false),
		sv_cstr(""))->items[0].interval, 1800);
	CHECK_INT(retry_find_rule(sv_cstr("u@x.example"), SV_NULL, -44, retry_more_errno_smtp(450, false),
		sv_cstr("a@b.example"))->nitems, 3);
	CHECK_INT(retry_find_rule(sv_cstr("h.example"), SV_NULL, ECONNREFUSED, 'A', SV_NULL)->items[0].interval, 1200);
	CHECK_INT(retry_find_rule(sv_cstr("h.example"), SV_NULL, ECONNREFUSED, 'M', SV_NULL)->nitems, 3);
}

static void test_database(void)
{
	arena *a = arena_new("t");
	time_t T = 1795261717;
	address_item ad = { 0 };
	ad.local_part = sv_cstr("u");
	ad.domain = sv_cstr("other.example");
	route_host h2 = { .name = sv_cstr("127.0.0.2"), .address = sv_cstr("127.0.0.2"), .mx = -1, .port = 2598 };
	route_host h1 = { .next = &h2, .name = sv_cstr("127.0.0.1"), .address = sv_cstr("127.0.0.1"), .mx = -1, .port = 2598 };
	ad.hosts = &h1;
	addr_retry r2 = { .key = retry_host_key(a, h2.name, h2.address, 2598, NULL), .basic_errno = ECONNREFUSED,
		.more_errno = 'A', .text = sv_cstr("Connection refused"), .is_host = true };
	addr_retry r1 = { .next = &r2, .key = retry_host_key(a, h1.name, h1.address, 2598, NULL),
		.basic_errno = ECONNREFUSED, .more_errno = 'A', .text = sv_cstr("Connection refused"), .is_host = true };
	ad.retries = &r1;
	/* refused_A: F,2h,20m */
	time_t next = retry_update(tmpdir, &ad, "1xUjZk-00020b-01", sv_cstr("s@x.example"), T);
	CHECK_INT(next, T + 1200);
	CHECK(!ad.retry_timedout);
	retry_record rec;
	CHECK_INT(retry_check(tmpdir, r1.key, T + 60, false, &rec, a), RETRY_NOT_DUE);
	CHECK_INT(rec.basic_errno, ECONNREFUSED);
	CHECK_INT(rec.more_errno, 'A');
	CHECK_STR(sv_dup(a, rec.text), "Connection refused");
	CHECK_INT(rec.first_failed, T);
	CHECK_INT(retry_check(tmpdir, r1.key, T + 60, true, &rec, a), RETRY_DUE);
	CHECK_INT(retry_check(tmpdir, r1.key, T + 1200, false, &rec, a), RETRY_DUE);
	CHECK_INT(retry_check(tmpdir, sv_cstr("T:nothing:1.2.3.4"), T, false, &rec, a), RETRY_DUE);
	/* past the 2h cutoff: both hosts expire, so the address times out; until the next try the
	 * check says TIMED_OUT */
	next = retry_update(tmpdir, &ad, NULL, sv_cstr("s@x.example"), T + 3 * 3600);
	CHECK(ad.retry_timedout);
	CHECK_INT(next, T + 3 * 3600 + 1200);
	CHECK_INT(retry_check(tmpdir, r1.key, T + 3 * 3600 + 60, false, &rec, a), RETRY_TIMED_OUT);
	CHECK(rec.expired);
	/* retry_data_expire (7d default): an old record counts as none */
	CHECK_INT(retry_check(tmpdir, r1.key, T + 3 * 3600 + 8 * 86400, false, &rec, a), RETRY_DUE);
	/* a message older than the final cutoff (2h) times out without a new retry time */
	ad.retry_timedout = false;
	CHECK_INT(retry_update(tmpdir, &ad, "1xUjZk-00020b-01", sv_cstr("s@x.example"), T + 5 * 3600), 0);
	CHECK(ad.retry_timedout);
	CHECK_INT(retry_read(tmpdir, r1.key, &rec, a), 1);
	CHECK_INT(rec.last_try, T + 3 * 3600);
	/* success removes the records */
	r1.remove = r2.remove = true;
	ad.retry_timedout = false;
	retry_update(tmpdir, &ad, "1xUjZk-00020b-01", sv_cstr("s@x.example"), T + 4 * 3600);
	CHECK_INT(retry_read(tmpdir, r1.key, &rec, a), 0);
	CHECK_INT(retry_read(tmpdir, r2.key, &rec, a), 0);
	/* no rule has items for bob's quota error at wonder.example: it fails at once */
	address_item bob = { 0 };
	bob.local_part = sv_cstr("bob");
	bob.domain = sv_cstr("wonder.example");
	addr_retry q = { .key = retry_local_key(a, &bob, true), .basic_errno = RETRY_ERRNO_QUOTA,
		.more_errno = 6 * 86400, .text = sv_cstr("mailbox is full") };
	bob.retries = &q;
	CHECK_INT(retry_update(tmpdir, &bob, "1xUjZk-00020b-01", sv_cstr("s@x.example"), T), 0);
	CHECK(bob.retry_timedout);
	arena_free(a);
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(tmpdir))
		return 1;
	char conf[300];
	snprintf(conf, sizeof conf, "%s/retry.conf", tmpdir);
	FILE *f = fopen(conf, "w");
	fprintf(f, config_text, tmpdir);
	fclose(f);
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!conf_load(conf, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		return 1;
	}
	log_config lc;
	log_config_default(&lc);
	char logpath[300];
	snprintf(logpath, sizeof logpath, "%s/%%slog", tmpdir);
	lc.file_path = logpath;
	lc.echo = LOG_ECHO_NONE;
	if (!log_configure(&lc, &err))
		return 1;
	RUN(test_keys);
	RUN(test_errors);
	RUN(test_compute);
	RUN(test_codec);
	RUN(test_find);
	RUN(test_database);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return unit_report("test_retry");
}
