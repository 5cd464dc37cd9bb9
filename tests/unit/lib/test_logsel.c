/* logsel.h: names, defaults, +/- parsing and Exim's error wording (from exim -bP log_selector). */
#include "lib/logsel.h"
#include "../unit.h"

static arena *A;

static void test_names(void)
{
	/* Every name round-trips and is distinct. */
	int bad = 0;
	for (int i = 0; i < LS__COUNT; i++)
		if (logsel_lookup(sv_cstr(logsel_name((logsel_id)i))) != i)
			bad++;
	CHECK_INT(bad, 0);
	CHECK_INT(LS__COUNT, 57); /* every name Exim 4.96 accepts */
	CHECK_INT(logsel_lookup(SV_LIT("protocol_detail")), LS_PROTOCOL_DETAIL);
	CHECK_INT(logsel_lookup(SV_LIT("rejected_headers")), LS_REJECTED_HEADERS);
	CHECK_INT(logsel_lookup(SV_LIT("pid")), LS_PID);
	CHECK_INT(logsel_lookup(SV_LIT("8bitmime")), LS_8BITMIME);
	CHECK_INT(logsel_lookup(SV_LIT("unknown_in_list")), LS_UNKNOWN_IN_LIST);
	CHECK_INT(logsel_lookup(SV_LIT("PID")), -1);
	CHECK_INT(logsel_lookup(SV_LIT("all")), -1);
	CHECK_INT(logsel_lookup(SV_LIT("")), -1);
	CHECK_STR(logsel_name(LS__COUNT), "?");
}

static void test_defaults(void)
{
	logsel d = logsel_default();
	static const struct { logsel_id id; int on; } rows[] = {
		{ LS_ACL_WARN_SKIPPED, 1 }, { LS_CONNECTION_REJECT, 1 }, { LS_DELAY_DELIVERY, 1 }, { LS_DKIM, 1 },
		{ LS_DNSLIST_DEFER, 1 }, { LS_ETRN, 1 }, { LS_HOST_LOOKUP_FAILED, 1 }, { LS_LOST_INCOMING_CONNECTION, 1 },
		{ LS_MSG_ID, 1 }, { LS_QUEUE_RUN, 1 }, { LS_REJECTED_HEADER, 1 }, { LS_RETRY_DEFER, 1 },
		{ LS_SENDER_VERIFY_FAIL, 1 }, { LS_SIZE_REJECT, 1 }, { LS_SKIP_DELIVERY, 1 }, { LS_SMTP_CONFIRMATION, 1 },
		{ LS_TLS_CERTIFICATE_VERIFIED, 1 }, { LS_TLS_CIPHER, 1 },
		{ LS_PID, 0 }, { LS_MILLISEC, 0 }, { LS_ARGUMENTS, 0 }, { LS_SUBJECT, 0 }, { LS_SMTP_CONNECTION, 0 },
		{ LS_TLS_PEERDN, 0 }, { LS_8BITMIME, 0 }, { LS_QUEUE_TIME, 0 }, { LS_RECEIVED_RECIPIENTS, 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_INT(logsel_has(&d, rows[i].id), rows[i].on);
}

static void test_parse(void)
{
	static const struct { const char *in; int ok; const char *err; const char *canon; } rows[] = {
		{ "", 1, NULL, "" },
		{ "+pid", 1, NULL, "+pid" },
		{ "+arguments -retry_defer", 1, NULL, "+arguments -retry_defer" },
		{ "+arguments-retry_defer", 1, NULL, "+arguments -retry_defer" },
		{ "  +pid   -subject  ", 1, NULL, "+pid" },
		{ "+pid\t-subject", 1, NULL, "+pid" },
		{ "-all +pid", 1, NULL, NULL },
		{ "+millisec +pid -tls_cipher", 1, NULL, "+millisec +pid -tls_cipher" },
		{ "+pid -pid", 1, NULL, "" },
		{ "+nonsense", 0, "unknown log_selector setting: +nonsense", NULL },
		{ "-nonsense", 0, "unknown log_selector setting: -nonsense", NULL },
		{ "nonsense", 0, "malformed log_selector setting: + or - expected but found \"nonsense\"", NULL },
		{ "+ARGUMENTS", 0, "unknown log_selector setting: +ARGUMENTS", NULL },
		{ "+ arguments", 0, "unknown log_selector setting: +", NULL },
		{ "+1", 0, "unknown log_selector setting: +1", NULL },
		{ "+pid junk", 0, "malformed log_selector setting: + or - expected but found \"junk\"", NULL },
		{ "+pid,+subject", 0, "malformed log_selector setting: + or - expected but found \",+subject\"", NULL },
		{ "+all_parents2", 0, "unknown log_selector setting: +all_parents2", NULL },
		{ "+queue_time_", 0, "unknown log_selector setting: +queue_time_", NULL },
		{ "+pid.x", 0, "malformed log_selector setting: + or - expected but found \".x\"", NULL },
		{ "+nonsense +pid", 0, "unknown log_selector setting: +nonsense", NULL },
		{ "+pid +nonsense", 0, "unknown log_selector setting: +nonsense", NULL },
		{ "-", 0, "unknown log_selector setting: -", NULL },
		{ "+pid+", 0, "unknown log_selector setting: +", NULL },
		{ "+pid=1", 0, "malformed log_selector setting: + or - expected but found \"=1\"", NULL },
		{ "+pid =12", 0, "malformed log_selector setting: + or - expected but found \"=12\"", NULL },
		{ "=pid", 0, "malformed numeric log_selector setting: =pid", NULL },
		{ "=12 +pid", 0, "malformed numeric log_selector setting: =12 +pid", NULL },
		{ "=12x", 0, "malformed numeric log_selector setting: =12x", NULL },
		{ "=0x", 0, "malformed numeric log_selector setting: =0x", NULL },
		{ "=09", 0, "malformed numeric log_selector setting: =09", NULL },
		{ "=123", 1, NULL, NULL }, { "=0x10", 1, NULL, NULL }, { "=", 1, NULL, NULL }, { "=-1", 1, NULL, NULL },
		{ "= 12", 1, NULL, NULL }, { "=012", 1, NULL, NULL }, { "=0xffffffffffffffffff", 1, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf err;
		xbuf_init(&err, A);
		logsel s = { 12345 };
		bool ok = logsel_parse(sv_cstr(rows[i].in), &s, &err);
		CHECK_INT(ok, rows[i].ok);
		if (!ok) {
			CHECK_STR(xbuf_cstr(&err), rows[i].err);
			CHECK_INT(s.bits, 12345); /* unchanged on error */
		}
		if (ok && rows[i].canon) {
			xbuf c;
			xbuf_init(&c, A);
			logsel_format(&s, &c);
			CHECK_STR(xbuf_cstr(&c), rows[i].canon);
		}
	}
	logsel s;
	CHECK(logsel_parse(SV_LIT("+all"), &s, NULL));
	int on = 0;
	for (int i = 0; i < LS__COUNT; i++)
		on += logsel_has(&s, (logsel_id)i);
	CHECK_INT(on, LS__COUNT);
	CHECK(logsel_parse(SV_LIT("-all +pid"), &s, NULL));
	CHECK_INT(s.bits, (uint64_t)1 << LS_PID);
	CHECK(logsel_parse(SV_LIT("+all -pid"), &s, NULL));
	CHECK(!logsel_has(&s, LS_PID));
	CHECK(logsel_has(&s, LS_SUBJECT));
	CHECK(logsel_parse(SV_LIT("=0x10"), &s, NULL));
	CHECK_INT(s.bits, 0x10);
	CHECK(logsel_parse(SV_LIT("="), &s, NULL));
	CHECK_INT(s.bits, 0);
	/* The canonical form parses back to the same set. */
	CHECK(logsel_parse(SV_LIT("-all +pid +tls_sni"), &s, NULL));
	xbuf c;
	xbuf_init(&c, A);
	logsel_format(&s, &c);
	logsel back;
	CHECK(logsel_parse(xbuf_sv(&c), &back, NULL));
	CHECK_INT(back.bits, s.bits);
}

int main(void)
{
	A = arena_new("test_logsel");
	RUN(test_names);
	RUN(test_defaults);
	RUN(test_parse);
	arena_free(A);
	return unit_report("test_logsel");
}
