/* Callout option parsing (Exim 4.96 "Additional parameters for callouts") and the callout
 * cache: record codecs, expiry rules, and a write/read round trip in a private spool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/callout.h"
#include "core/callout_cache.h"
#include "lib/arena.h"
#include "../unit.h"

static arena *A;

static const char *parse(const char *opts, bool header_sender, callout_opts *o)
{
	static char buf[512];
	xbuf err;
	xbuf_init(&err, A);
	if (callout_opts_parse(sv_cstr(opts), header_sender, SV_LIT("recipient/x"), o, &err))
		return NULL;
	snprintf(buf, sizeof buf, "%s", xbuf_cstr(&err));
	return buf;
}

static void test_opts(void)
{
	callout_opts o;
	CHECK_STR(parse("", false, &o), NULL);
	CHECK(!o.enabled);
	CHECK_STR(parse("/callout", false, &o), NULL);
	CHECK(o.enabled);
	CHECK_INT(o.timeout, 30);
	CHECK_INT(o.connect_timeout, 30);
	CHECK_INT(o.maxwait, 120);
	CHECK_STR(parse("/no_details/callout=10s,connect=2s,defer_ok,random,no_cache", false, &o), NULL);
	CHECK(o.enabled && o.defer_ok && o.random && o.no_cache && !o.postmaster);
	CHECK_INT(o.timeout, 10);
	CHECK_INT(o.connect_timeout, 2);
	CHECK_INT(o.maxwait, 40);
	CHECK_STR(parse("/callout=maxwait=1m,5s", false, &o), NULL);
	CHECK_INT(o.maxwait, 60);
	CHECK_INT(o.timeout, 5);
	CHECK_STR(parse("/callout=postmaster_mailfrom=pm@x.example", false, &o), NULL);
	CHECK(o.postmaster && !o.fullpostmaster);
	CHECK(sv_eq_cstr(o.postmaster_mailfrom, "pm@x.example"));
	/* the rightmost of postmaster / postmaster_mailfrom wins */
	CHECK_STR(parse("/callout=postmaster_mailfrom=pm@x.example,postmaster", false, &o), NULL);
	CHECK(o.postmaster && o.postmaster_mailfrom.len == 0);
	CHECK_STR(parse("/callout=fullpostmaster,use_sender,hold", false, &o), NULL);
	CHECK(o.postmaster && o.fullpostmaster && o.use_sender && o.hold);
	CHECK_STR(parse("/callout/callout_defer_ok/check_postmaster", false, &o), NULL);
	CHECK(o.defer_ok && o.postmaster);
	CHECK_STR(parse("/callout=bogus", false, &o), "bad time value in ACL condition \"verify recipient/x\"");
	CHECK_STR(parse("/callout=connect=soon", false, &o), "bad time value in ACL condition \"verify recipient/x\"");
	CHECK_STR(parse("/callout=mailfrom=a@b", false, &o),
		"\"mailfrom\" is allowed as a callout option only for verify=header_sender (detected in ACL condition "
		"\"recipient/x\")");
	CHECK_STR(parse("/callout=mailfrom=a@b", true, &o), NULL);
	CHECK(o.has_mailfrom && sv_eq_cstr(o.mailfrom, "a@b"));
}

static void test_codec(void)
{
	cc_domain d = { .stamp = 100, .result = CC_ACCEPT, .pm_stamp = 0, .postmaster = CC_UNKNOWN,
		.random_stamp = 90, .random = CC_REJECT };
	xbuf b;
	xbuf_init(&b, A);
	cc_domain_encode(&d, &b);
	CHECK_STR(xbuf_cstr(&b), "1 100 a 0 u 90 r");
	cc_domain e;
	CHECK(cc_domain_decode(xbuf_sv(&b), &e));
	CHECK(e.stamp == 100 && e.result == CC_ACCEPT && e.postmaster == CC_UNKNOWN && e.random == CC_REJECT);
	static const char *const bad[] = { "", "1", "2 100 a 0 u 90 r", "1 100 x 0 u 90 r", "1 100 a 0 u 90 r junk",
		"1 100 a 0 u 90", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK(!cc_domain_decode(sv_cstr(bad[i]), &e));
	long long st;
	cc_result r;
	CHECK(cc_address_decode(SV_LIT("1 5 r"), &st, &r) && st == 5 && r == CC_REJECT);
	CHECK(!cc_address_decode(SV_LIT("1 5 q"), &st, &r));
	CHECK(!cc_address_decode(SV_LIT("1 5 a x"), &st, &r));
}

static void test_expiry(void)
{
	conf_main.callout_positive_expire = 100;
	conf_main.callout_negative_expire = 10;
	conf_main.callout_domain_positive_expire = 1000;
	conf_main.callout_domain_negative_expire = 50;
	CHECK_INT(cc_address_expire(0, CC_ACCEPT, 99), CC_ACCEPT);
	CHECK_INT(cc_address_expire(0, CC_ACCEPT, 100), CC_UNKNOWN);
	CHECK_INT(cc_address_expire(0, CC_REJECT, 9), CC_REJECT);
	CHECK_INT(cc_address_expire(0, CC_REJECT, 10), CC_UNKNOWN);
	cc_domain d = { .stamp = 0, .result = CC_REJECT, .pm_stamp = 0, .postmaster = CC_ACCEPT, .random_stamp = 0,
		.random = CC_ACCEPT };
	cc_domain_expire(&d, 60);
	CHECK(d.result == CC_UNKNOWN && d.postmaster == CC_ACCEPT && d.random == CC_ACCEPT);
	d.postmaster = CC_REJECT;
	cc_domain_expire(&d, 60);
	CHECK(d.postmaster == CC_UNKNOWN);
	cc_domain_expire(&d, 1000);
	CHECK(d.random == CC_UNKNOWN);
}

static void test_db_roundtrip(void)
{
	char dir[] = "/tmp/callout-unit-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(false);
		return;
	}
	conf_main.callout_positive_expire = 86400;
	conf_main.callout_domain_positive_expire = 604800;
	cc_domain d;
	cc_read_domain(dir, A, SV_LIT("x.example"), 1000, &d);
	CHECK(d.result == CC_UNKNOWN && d.random == CC_UNKNOWN);
	cc_domain w = { .stamp = 1000, .result = CC_ACCEPT, .postmaster = CC_UNKNOWN, .random = CC_UNKNOWN };
	cc_write_domain(dir, A, SV_LIT("X.Example"), &w);
	/* a later write of another part keeps the first */
	cc_domain w2 = { .result = CC_UNKNOWN, .postmaster = CC_UNKNOWN, .random_stamp = 1001, .random = CC_REJECT };
	cc_write_domain(dir, A, SV_LIT("x.example"), &w2);
	cc_read_domain(dir, A, SV_LIT("x.example"), 1002, &d);
	CHECK(d.result == CC_ACCEPT && d.random == CC_REJECT && d.postmaster == CC_UNKNOWN);
	cc_write_address(dir, A, SV_LIT("u@x.example"), CC_ACCEPT, 1000);
	CHECK_INT(cc_read_address(dir, A, SV_LIT("u@x.example"), 1001), CC_ACCEPT);
	CHECK_INT(cc_read_address(dir, A, SV_LIT("v@x.example"), 1001), CC_UNKNOWN);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	A = arena_new("test");
	RUN(test_opts);
	RUN(test_codec);
	RUN(test_expiry);
	RUN(test_db_roundtrip);
	return unit_report("callout");
}
