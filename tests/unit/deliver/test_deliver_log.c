/* Log line texts of the delivery process against lines recorded from Exim 4.96 (default
 * log_selector; ids and times masked; see docs/delivery.md for the configuration used). */
#include <string.h>

#include "conf/driver.h"
#include "core/deliver_internal.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "../unit.h"

static driver_instance router_loc = { .name = "loc" }, router_rem = { .name = "rem" },
	router_fl = { .name = "fl" }, router_df = { .name = "df" };

static address_item *mk(const char *addr, const char *lp, address_item *parent)
{
	address_item *a = arena_calloc(pool_msg, 1, sizeof *a);
	a->address = sv_cstr(addr);
	a->local_part = sv_cstr(lp);
	a->parent = parent;
	a->host_used_mx = -1;
	return a;
}

static const char *fmt(int kind, const address_item *a, bool local)
{
	xbuf b;
	xbuf_init(&b, pool_msg);
	if (kind == 0)
		dlog_format_success(a, NULL, local, &b);
	else if (kind == 1)
		dlog_format_defer(a, &b);
	else
		dlog_format_fail(a, &b);
	return xbuf_cstr(&b);
}

static void test_lines(void)
{
	address_item *multi = mk("multi@test.example", "multi", NULL);
	address_item *u2 = mk("u2@test.example", "u2", multi);
	u2->router = &router_loc;
	u2->transport = "mb";
	/* => u2 <multi@test.example> R=loc T=mb */
	CHECK_STR(fmt(0, u2, true), "u2 <multi@test.example> R=loc T=mb");
	address_item *u1 = mk("u1@test.example", "u1", NULL);
	u1->router = &router_loc;
	u1->transport = "mb";
	CHECK_STR(fmt(0, u1, true), "u1 <u1@test.example> R=loc T=mb");
	u1->basic_errno = -1;
	u1->message = SV_LIT("Tainted '/tmp/dx/mail/u1' (file or directory name for mb transport) not permitted");
	CHECK_STR(fmt(1, u1, false), "u1@test.example R=loc T=mb defer (-1): Tainted '/tmp/dx/mail/u1' (file or directory name for mb transport) not permitted");
	u2->basic_errno = -29;
	u2->message = SV_LIT("User 0 set for mb transport is on the fixed_never_users list");
	CHECK_STR(fmt(1, u2, false), "u2@test.example <multi@test.example> R=loc T=mb defer (-29): User 0 set for mb transport is on the fixed_never_users list");
	address_item *df = mk("df@test.example", "df", NULL);
	df->router = &router_df;
	df->basic_errno = -1;
	df->message = SV_LIT("later");
	CHECK_STR(fmt(1, df, false), "df@test.example R=df defer (-1): later");
	address_item *fl = mk("fl@test.example", "fl", NULL);
	fl->router = &router_fl;
	fl->message = SV_LIT("go away");
	CHECK_STR(fmt(2, fl, false), "fl@test.example R=fl: go away");
	address_item *s = mk("s@x.example", "s", NULL);
	CHECK_STR(fmt(2, s, false), "s@x.example: Unrouteable address");
	/* remote */
	address_item *a = mk("a@remote.example", "a", NULL);
	a->router = &router_rem;
	a->transport = "rsmtp";
	a->host_used_name = SV_LIT("127.0.0.1");
	a->host_used_address = SV_LIT("127.0.0.1");
	a->host_used_port = 2599;
	a->confirmation = SV_LIT("250- 274 byte chunk, total 274\n250 OK id=1xUjae-0002o9-2H");
	CHECK_STR(fmt(0, a, false), "a@remote.example R=rem T=rsmtp H=127.0.0.1 [127.0.0.1] C=\"250- 274 byte chunk, total 274\\\\n250 OK id=1xUjae-0002o9-2H\"");
	address_item *c = mk("c@remote.example", "c", NULL);
	c->router = &router_rem;
	c->transport = "rsmtp";
	c->host_used_name = SV_LIT("127.0.0.1");
	c->host_used_address = SV_LIT("127.0.0.1");
	c->basic_errno = -44;
	c->message = SV_LIT("SMTP error from remote mail server after RCPT TO:<c@remote.example>: 451 Temporary local problem - please try later");
	CHECK_STR(fmt(1, c, false), "c@remote.example R=rem T=rsmtp defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<c@remote.example>: 451 Temporary local problem - please try later");
	address_item *b = mk("b@remote.example", "b", NULL);
	b->router = &router_rem;
	b->transport = "rsmtp";
	b->host_used_name = SV_LIT("127.0.0.1");
	b->host_used_address = SV_LIT("127.0.0.1");
	b->message = SV_LIT("SMTP error from remote mail server after RCPT TO:<b@remote.example>: 550 Administrative prohibition");
	CHECK_STR(fmt(2, b, false), "b@remote.example R=rem T=rsmtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<b@remote.example>: 550 Administrative prohibition");
	/* untrusted text is escaped */
	b->message = sv_tainted(SV_LIT("bad\x01line\nnext"));
	CHECK_STR(fmt(2, b, false), "b@remote.example R=rem T=rsmtp H=127.0.0.1 [127.0.0.1]: bad\\001line\\nnext");
}

/* The => line's TLS part: X=, '*' when resumed (+tls_resumption), CV=yes/no/dane, DN= (in
 * Exim 4.96's order; recorded with Exim as a client, GnuTLS names aside). */
static void test_tls(void)
{
	log_config lc;
	log_config_default(&lc);
	lc.file_path = "/nonexistent/%slog";
	lc.echo = LOG_ECHO_NONE;
	xbuf err;
	xbuf_init(&err, pool_msg);
	CHECK(log_configure(&lc, &err));
	address_item *a = mk("a@remote.example", "a", NULL);
	a->router = &router_rem;
	a->transport = "rsmtp";
	a->host_used_name = SV_LIT("127.0.0.1");
	a->host_used_address = SV_LIT("127.0.0.1");
	a->confirmation = SV_LIT("250 OK");
	a->tls_used = true;
	a->tls_cipher = SV_LIT("TLS1.3:TLS_AES_256_GCM_SHA384:256");
	a->tls_peerdn = sv_tainted(SV_LIT("/O=Srv Org/CN=mx.example"));
	a->tls_resumption = 31;
	CHECK_STR(fmt(0, a, false), "a@remote.example R=rem T=rsmtp H=127.0.0.1 [127.0.0.1] "
		"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no C=\"250 OK\"");
	logsel_set(&lc.selector, LS_TLS_PEERDN, true);
	logsel_set(&lc.selector, LS_TLS_RESUMPTION, true);
	CHECK(log_configure(&lc, &err));
	a->tls_certificate_verified = true;
	CHECK_STR(fmt(0, a, false), "a@remote.example R=rem T=rsmtp H=127.0.0.1 [127.0.0.1] "
		"X=TLS1.3:TLS_AES_256_GCM_SHA384:256* CV=yes DN=\"/O=Srv Org/CN=mx.example\" C=\"250 OK\"");
	a->tls_dane_verified = true;
	a->tls_resumption = 11;
	CHECK_STR(fmt(0, a, false), "a@remote.example R=rem T=rsmtp H=127.0.0.1 [127.0.0.1] "
		"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=dane DN=\"/O=Srv Org/CN=mx.example\" C=\"250 OK\"");
	logsel_set(&lc.selector, LS_TLS_CIPHER, false);
	logsel_set(&lc.selector, LS_TLS_CERTIFICATE_VERIFIED, false);
	CHECK(log_configure(&lc, &err));
	CHECK_STR(fmt(0, a, false), "a@remote.example R=rem T=rsmtp H=127.0.0.1 [127.0.0.1] "
		"DN=\"/O=Srv Org/CN=mx.example\" C=\"250 OK\"");
}

int main(void)
{
	arena_init_pools();
	RUN(test_lines);
	RUN(test_tls);
	return unit_report("test_deliver_log");
}
