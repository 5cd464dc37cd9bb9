/* Exim's $tod_* formats and time intervals; see timefmt.h. */
#include "lib/timefmt.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_names[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days since 1970-01-01 of a broken-down date, proleptic Gregorian (no library timegm needed). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

long tod_utc_offset(time_t t)
{
	struct tm lt;
	if (!localtime_r(&t, &lt))
		return 0;
	/* Seconds of the local broken-down time read as if it were UTC, minus t. */
	long long local = days_from_civil(lt.tm_year + 1900LL, (unsigned)lt.tm_mon + 1, (unsigned)lt.tm_mday) * 86400
		+ lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec;
	return (long)(local - (long long)t);
}

void tod_format_zone(long offset, xbuf *out)
{
	char sign = offset < 0 ? '-' : '+';
	long a = labs(offset) / 60;
	xbuf_printf(out, "%c%02ld%02ld", sign, a / 60, a % 60);
}

static void format_time(tod_format f, time_t t, long usec, xbuf *out);

/* The last text made for each format: a message's Received and Date headers, -H and log lines
 * ask for the same second several times, and formatting it (localtime_r and printf) was 5% of
 * a message's instructions. Per thread, and dropped when the time zone changes. */
static _Thread_local struct tod_memo {
	bool valid;
	time_t t;
	unsigned char len;
	char text[63];
} memo[TOD_ZULU + 1];

static void memo_drop(void)
{
	memset(memo, 0, sizeof memo);
}

void tod_format_time(tod_format f, time_t t, long usec, xbuf *out)
{
	if (f == TOD_EPOCH_L || (unsigned)f > TOD_ZULU) {
		format_time(f, t, usec, out);
		return;
	}
	struct tod_memo *c = &memo[f];
	if (c->valid && c->t == t) {
		xbuf_put(out, c->text, c->len);
		return;
	}
	size_t from = out->len;
	format_time(f, t, usec, out);
	size_t n = out->len - from;
	c->valid = n < sizeof c->text;
	if (c->valid) {
		memcpy(c->text, out->p + from, n);
		c->len = (unsigned char)n;
		c->t = t;
	}
}

static void format_time(tod_format f, time_t t, long usec, xbuf *out)
{
	struct tm tm;
	bool ok = f == TOD_ZULU ? gmtime_r(&t, &tm) != NULL : localtime_r(&t, &tm) != NULL;
	if (!ok && f != TOD_EPOCH && f != TOD_EPOCH_L) {
		/* Out of the C library's range: print the epoch value rather than nothing. */
		xbuf_printf(out, "%lld", (long long)t);
		return;
	}
	int year = tm.tm_year + 1900;
	switch (f) {
	case TOD_BSDINBOX:
		xbuf_printf(out, "%s %s %02d %02d:%02d:%02d %d", day_names[tm.tm_wday % 7], month_names[tm.tm_mon % 12],
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, year);
		break;
	case TOD_EPOCH:
		xbuf_printf(out, "%lld", (long long)t);
		break;
	case TOD_EPOCH_L:
		xbuf_printf(out, "%lld%06ld", (long long)t, usec < 0 ? 0 : usec % 1000000);
		break;
	case TOD_FULL:
		xbuf_printf(out, "%s, %02d %s %d %02d:%02d:%02d ", day_names[tm.tm_wday % 7], tm.tm_mday,
			month_names[tm.tm_mon % 12], year, tm.tm_hour, tm.tm_min, tm.tm_sec);
		tod_format_zone(tod_utc_offset(t), out);
		break;
	case TOD_LOG:
		xbuf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d", year, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec);
		break;
	case TOD_LOGFILE:
		xbuf_printf(out, "%04d%02d%02d", year, tm.tm_mon + 1, tm.tm_mday);
		break;
	case TOD_LOGMONTH:
		xbuf_printf(out, "%04d%02d", year, tm.tm_mon + 1);
		break;
	case TOD_ZONE:
		tod_format_zone(tod_utc_offset(t), out);
		break;
	case TOD_ZULU:
		xbuf_printf(out, "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec);
		break;
	}
}

void tod_set_timezone(const char *tz)
{
	if (tz == NULL)
		return;
	memo_drop();
	if (*tz == 0)
		unsetenv("TZ");
	else
		setenv("TZ", tz, 1);
	tzset();
}

static long long unit_seconds(char c)
{
	switch (c) {
	case 'w': return 7 * 86400;
	case 'd': return 86400;
	case 'h': return 3600;
	case 'm': return 60;
	case 's': return 1;
	default: return 0;
	}
}

bool interval_parse(sv text, int *seconds)
{
	long long total = 0;
	size_t i = 0;
	if (text.len == 0)
		return false;
	while (i < text.len) {
		long long n = 0;
		size_t start = i;
		while (i < text.len && text.p[i] >= '0' && text.p[i] <= '9') {
			n = n * 10 + (text.p[i++] - '0');
			if (n > INT_MAX)
				return false;
		}
		if (i == start || i == text.len)
			return false; /* no digits, or digits without a unit */
		long long unit = unit_seconds(text.p[i++]);
		if (unit == 0)
			return false;
		total += n * unit;
		if (total > INT_MAX)
			return false;
	}
	*seconds = (int)total;
	return true;
}

void interval_format(long long seconds, xbuf *out)
{
	static const struct { char unit; long long size; } units[] = {
		{ 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	if (seconds == 0) {
		xbuf_puts(out, "0s");
		return;
	}
	unsigned long long rest;
	if (seconds < 0) {
		xbuf_putc(out, '-');
		rest = (unsigned long long)(-(seconds + 1)) + 1;
	} else {
		rest = (unsigned long long)seconds;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		unsigned long long n = rest / (unsigned long long)units[i].size;
		rest %= (unsigned long long)units[i].size;
		if (n)
			xbuf_printf(out, "%llu%c", n, units[i].unit);
	}
}
