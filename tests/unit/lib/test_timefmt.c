/* timefmt.h: $tod_* formats and time intervals, expectations from Exim 4.96 (-be, -bP). */
#include "lib/timefmt.h"
#include "../unit.h"

#include <stdlib.h>

static arena *A;

static const char *tod(tod_format f, time_t t, long usec)
{
	xbuf b;
	xbuf_init(&b, A);
	tod_format_time(f, t, usec, &b);
	return xbuf_cstr(&b);
}

static void test_tod_utc(void)
{
	tod_set_timezone("UTC");
	time_t t = 1795245058; /* 2026-11-21 07:10:58 UTC */
	CHECK_STR(tod(TOD_BSDINBOX, t, 0), "Sat Nov 21 07:10:58 2026");
	CHECK_STR(tod(TOD_EPOCH, t, 0), "1795245058");
	CHECK_STR(tod(TOD_EPOCH_L, t, 564320), "1795245058564320");
	CHECK_STR(tod(TOD_EPOCH_L, t, 7), "1795245058000007");
	CHECK_STR(tod(TOD_FULL, t, 0), "Sat, 21 Nov 2026 07:10:58 +0000");
	CHECK_STR(tod(TOD_LOG, t, 0), "2026-11-21 07:10:58");
	CHECK_STR(tod(TOD_LOGFILE, t, 0), "20261121");
	CHECK_STR(tod(TOD_LOGMONTH, t, 0), "202611");
	CHECK_STR(tod(TOD_ZONE, t, 0), "+0000");
	CHECK_STR(tod(TOD_ZULU, t, 0), "20261121071058Z");
	time_t m = 1772337906; /* 2026-03-01 04:05:06 UTC: single-digit day is zero-padded */
	CHECK_STR(tod(TOD_BSDINBOX, m, 0), "Sun Mar 01 04:05:06 2026");
	CHECK_STR(tod(TOD_FULL, m, 0), "Sun, 01 Mar 2026 04:05:06 +0000");
	CHECK_STR(tod(TOD_EPOCH, 0, 0), "0");
	CHECK_STR(tod(TOD_LOG, 0, 0), "1970-01-01 00:00:00");
}

static void test_tod_zones(void)
{
	time_t m = 1772337906;
	tod_set_timezone("America/St_Johns");
	CHECK_STR(tod(TOD_BSDINBOX, m, 0), "Sun Mar 01 00:35:06 2026");
	CHECK_STR(tod(TOD_FULL, m, 0), "Sun, 01 Mar 2026 00:35:06 -0330");
	CHECK_STR(tod(TOD_ZONE, m, 0), "-0330");
	CHECK_STR(tod(TOD_ZULU, m, 0), "20260301040506Z");
	CHECK_INT(tod_utc_offset(m), -12600);
	tod_set_timezone("Asia/Kathmandu");
	CHECK_STR(tod(TOD_FULL, m, 0), "Sun, 01 Mar 2026 09:50:06 +0545");
	tod_set_timezone("America/New_York");
	CHECK_STR(tod(TOD_FULL, 1782878706, 0), "Wed, 01 Jul 2026 00:05:06 -0400"); /* summer time */
	CHECK_STR(tod(TOD_ZONE, m, 0), "-0500");
	/* NULL leaves the zone alone; "" removes TZ (UTC on this system's default zone). */
	tod_set_timezone(NULL);
	CHECK_STR(getenv("TZ"), "America/New_York");
	tod_set_timezone("");
	CHECK(getenv("TZ") == NULL);
	tod_set_timezone("UTC");
}

static void test_zone_format(void)
{
	static const struct { long off; const char *want; } rows[] = {
		{ 0, "+0000" }, { 3600, "+0100" }, { -12600, "-0330" }, { 20700, "+0545" }, { -43200, "-1200" },
		{ 50400, "+1400" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf b;
		xbuf_init(&b, A);
		tod_format_zone(rows[i].off, &b);
		CHECK_STR(xbuf_cstr(&b), rows[i].want);
	}
}

static void test_interval(void)
{
	static const struct { const char *in; int ok; int secs; const char *printed; } rows[] = {
		{ "90060s", 1, 90060, "1d1h1m" }, { "0s", 1, 0, "0s" }, { "1w2d3h4m5s", 1, 788645, "1w2d3h4m5s" },
		{ "1d", 1, 86400, "1d" }, { "7d", 1, 604800, "1w" }, { "8d", 1, 691200, "1w1d" },
		{ "5m5m", 1, 600, "10m" }, { "2147483647s", 1, 2147483647, "3550w5d3h14m7s" },
		{ "0w", 1, 0, "0s" }, { "00s", 1, 0, "0s" }, { "1h0m", 1, 3600, "1h" }, { "3550w", 1, 2147040000, "3550w" },
		{ "1000000000s1000000000s", 1, 2000000000, "3306w6d3h33m20s" }, { "1m1h", 1, 3660, "1h1m" },
		{ "10m30s", 1, 630, "10m30s" }, { "1d25h", 1, 176400, "2d1h" }, { "08s", 1, 8, "8s" },
		{ "60s", 1, 60, "1m" }, { "3600s", 1, 3600, "1h" },
		{ "0", 0, 0, NULL }, { "90060", 0, 0, NULL }, { "1h1", 0, 0, NULL }, { "1x", 0, 0, NULL },
		{ "1h2x", 0, 0, NULL }, { "", 0, 0, NULL }, { "1W", 0, 0, NULL }, { "99999999999", 0, 0, NULL },
		{ "2147483648s", 0, 0, NULL }, { "-5", 0, 0, NULL }, { "1.5s", 0, 0, NULL }, { "1s1", 0, 0, NULL },
		{ "1h 2m", 0, 0, NULL }, { "0.5h", 0, 0, NULL }, { "3551w", 0, 0, NULL },
		{ "3550w5d3h14m8s", 0, 0, NULL }, { "s", 0, 0, NULL }, { "99999999999999999999999s", 0, 0, NULL },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int secs = -1;
		bool ok = interval_parse(sv_cstr(rows[i].in), &secs);
		CHECK_INT(ok, rows[i].ok);
		if (!ok)
			continue;
		CHECK_INT(secs, rows[i].secs);
		xbuf b;
		xbuf_init(&b, A);
		interval_format(secs, &b);
		CHECK_STR(xbuf_cstr(&b), rows[i].printed);
	}
	xbuf b;
	xbuf_init(&b, A);
	interval_format(-90, &b);
	CHECK_STR(xbuf_cstr(&b), "-1m30s");
}

int main(void)
{
	A = arena_new("test_timefmt");
	RUN(test_tod_utc);
	RUN(test_tod_zones);
	RUN(test_zone_format);
	RUN(test_interval);
	arena_free(A);
	return unit_report("test_timefmt");
}
