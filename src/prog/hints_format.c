/* Decoding and printing of hints records (prog/hints_format.h). Formats as Exim 4.96's tools
 * print them, recorded from exim_dumpdb / exim_fixdb runs:
 *   retry:     "  <key> <errno> <more_errno> <text>\n<first failed>  <last try>  <next try> [*]"
 *   ratelimit: "<time>.<usec> rate: %10.3f [epoch: <time> size: <n> ]key: <key>"
 *   seen:      "<key>\t<time>"
 *   wait-<t>:  "<host> <id> <id> "
 * The layouts decoded here are Postern's: retry (core/retry.h codec), ratelimit (the record in
 * core/ratelimit.c: version 1, time, rate, filter epoch, 256-byte filter), seen (core/acl_misc.c:
 * version 1 and a double), misc (decimal seconds, as the ETRN serialization writes it), wait
 * (message ids separated by spaces), tls (tls/tls_resume_db.h: a stored TLS client session,
 * printed as "  <key> stored <time> expires <time>", its DER bytes not shown).
 */
#include "prog/hints_format.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/callout_cache.h"
#include "core/retry.h"
#include "core/spool.h"
#include "lib/arena.h"
#include "tls/tls_resume_db.h"

static bool use_utc;

void hints_time_utc(bool utc)
{
	use_utc = utc;
}

void hints_put_time(xbuf *out, time_t t)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
		"Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (!(use_utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
		xbuf_printf(out, "%lld", (long long)t);
		return;
	}
	xbuf_printf(out, "%02d-%s-%04d %02d:%02d:%02d", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void hints_put_printable(xbuf *out, sv v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c == '\\')
			xbuf_puts(out, "\\\\");
		else if (isprint(c))
			xbuf_putc(out, (char)c);
		else
			xbuf_printf(out, "\\x%02x", c);
	}
}

/* ---- layouts ---- */

/* core/ratelimit.c's record (same definition, same compiler: same layout). */
typedef struct rl_record {
	uint8_t version;
	double time;
	double rate;
	double bloom_epoch;
	uint8_t bloom[256];
} rl_record;

static bool rl_decode(sv v, rl_record *r)
{
	if (v.len != sizeof *r)
		return false;
	memcpy(r, v.p, sizeof *r);
	return r->version == 1 && isfinite(r->time) && isfinite(r->rate) && isfinite(r->bloom_epoch);
}

static bool seen_decode(sv v, double *stamp)
{
	if (v.len != 1 + sizeof *stamp || v.p[0] != 1)
		return false;
	memcpy(stamp, v.p + 1, sizeof *stamp);
	return isfinite(*stamp);
}

static bool misc_decode(sv v, time_t *t)
{
	/* A record may carry more after its time (PIPECONNECT's EHLO cache: "<time> <offered>"). */
	const char *sp = memchr(v.p, ' ', v.len);
	if (sp)
		v.len = (size_t)(sp - v.p);
	long long n;
	if (!sv_to_long(v, &n) || n < 0)
		return false;
	*t = (time_t)n;
	return true;
}

static void put_usec_time(xbuf *out, double t)
{
	double sec = floor(t);
	long usec = lround((t - sec) * 1e6);
	if (usec > 999999)
		usec = 999999;
	hints_put_time(out, (time_t)sec);
	xbuf_printf(out, ".%06ld", usec);
}

wait_record *hints_wait_decode(sv value)
{
	/* One at a time (the tools are single-threaded): a record's ids are too many for a stack. */
	static wait_record r;
	wait_record_decode(value, &r);
	return &r;
}

sv hints_key_message_id(sv key)
{
	if (!sv_starts(key, "T:") || key.len < MSG_ID_LEN + 1)
		return SV_NULL;
	sv id = sv_sub(key, key.len - MSG_ID_LEN, MSG_ID_LEN);
	if (key.p[key.len - MSG_ID_LEN - 1] != ':' || !spool_valid_id(id))
		return SV_NULL;
	return id;
}

time_t hints_record_time(const char *db, sv value)
{
	if (strcmp(db, "retry") == 0) {
		arena *a = arena_new("hints");
		retry_record r;
		time_t t = retry_record_decode(value, &r, a) ? (r.written ? r.written : r.last_try) : 0;
		arena_free(a);
		return t;
	}
	if (strcmp(db, "ratelimit") == 0) {
		rl_record r;
		return rl_decode(value, &r) ? (time_t)r.time : 0;
	}
	if (strcmp(db, "seen") == 0) {
		double s;
		return seen_decode(value, &s) ? (time_t)s : 0;
	}
	if (strcmp(db, "misc") == 0) {
		time_t t;
		return misc_decode(value, &t) ? t : 0;
	}
	if (strcmp(db, "callout") == 0) {
		/* Exim's record time is when it was last written: the newest part of a domain record. */
		cc_domain d;
		long long stamp;
		cc_result r;
		if (cc_domain_decode(value, &d)) {
			long long t = d.stamp > d.pm_stamp ? d.stamp : d.pm_stamp;
			return (time_t)(t > d.random_stamp ? t : d.random_stamp);
		}
		return cc_address_decode(value, &stamp, &r) ? (time_t)stamp : 0;
	}
	if (strcmp(db, TLS_RESUME_DB) == 0) {
		time_t stored, expires;
		sv der;
		return tls_resume_record_decode(value, &stored, &expires, &der) ? stored : 0;
	}
	if (strncmp(db, "wait-", 5) == 0)
		return hints_wait_decode(value)->stamp;
	return 0;
}

/* ---- exim_dumpdb ---- */

static void generic_record(sv key, sv value, xbuf *out)
{
	xbuf_puts(out, "  ");
	hints_put_printable(out, key);
	xbuf_putc(out, ' ');
	hints_put_printable(out, value);
	xbuf_putc(out, '\n');
}

void hints_format_record(const char *db, sv key, sv value, xbuf *out)
{
	if (strcmp(db, "callout") == 0 && hints_callout_format(key, value, out))
		return;
	if (strcmp(db, "retry") == 0) {
		arena *a = arena_new("hints");
		retry_record r;
		if (retry_record_decode(value, &r, a)) {
			xbuf_puts(out, "  ");
			hints_put_printable(out, key);
			xbuf_printf(out, " %d %d ", r.basic_errno, r.more_errno);
			hints_put_printable(out, r.text);
			xbuf_putc(out, '\n');
			hints_put_time(out, r.first_failed);
			xbuf_puts(out, "  ");
			hints_put_time(out, r.last_try);
			xbuf_puts(out, "  ");
			hints_put_time(out, r.next_try);
			xbuf_printf(out, " %s\n", r.expired ? "*" : "");
		} else {
			generic_record(key, value, out);
		}
		arena_free(a);
		return;
	}
	if (strcmp(db, "ratelimit") == 0) {
		rl_record r;
		if (!rl_decode(value, &r)) {
			generic_record(key, value, out);
			return;
		}
		put_usec_time(out, r.time);
		xbuf_printf(out, " rate: %10.3f ", r.rate);
		if (memmem(key.p, key.len, "/unique/", 8)) {
			xbuf_puts(out, "epoch: ");
			hints_put_time(out, (time_t)r.bloom_epoch);
			xbuf_printf(out, " size: %zu ", sizeof r.bloom);
		}
		xbuf_puts(out, "key: ");
		hints_put_printable(out, key);
		xbuf_putc(out, '\n');
		return;
	}
	if (strcmp(db, "seen") == 0) {
		double s;
		if (!seen_decode(value, &s)) {
			generic_record(key, value, out);
			return;
		}
		hints_put_printable(out, key);
		xbuf_putc(out, '\t');
		hints_put_time(out, (time_t)s);
		xbuf_putc(out, '\n');
		return;
	}
	if (strcmp(db, "misc") == 0) {
		time_t t;
		if (!misc_decode(value, &t)) {
			generic_record(key, value, out);
			return;
		}
		hints_put_time(out, t);
		xbuf_putc(out, ' ');
		hints_put_printable(out, key);
		xbuf_putc(out, '\n');
		return;
	}
	if (strcmp(db, TLS_RESUME_DB) == 0) {
		time_t stored, expires;
		sv der;
		if (!tls_resume_record_decode(value, &stored, &expires, &der)) {
			generic_record(key, value, out);
			return;
		}
		xbuf_puts(out, "  ");
		hints_put_printable(out, key);
		xbuf_puts(out, " stored ");
		hints_put_time(out, stored);
		xbuf_puts(out, " expires ");
		hints_put_time(out, expires);
		xbuf_putc(out, '\n');
		return;
	}
	if (strncmp(db, "wait-", 5) == 0) {
		hints_put_printable(out, key);
		xbuf_putc(out, ' ');
		const wait_record *r = hints_wait_decode(value);
		for (size_t i = 0; i < r->n; i++) {
			hints_put_printable(out, r->ids[i]);
			xbuf_putc(out, ' ');
		}
		xbuf_putc(out, '\n');
		return;
	}
	generic_record(key, value, out);
}

/* ---- exim_fixdb ---- */

void hints_format_fields(const char *db, sv value, xbuf *out)
{
	time_t stamp = hints_record_time(db, value);
	if (stamp)
		hints_put_time(out, stamp);
	xbuf_putc(out, '\n');
	if (strcmp(db, "retry") == 0) {
		arena *a = arena_new("hints");
		retry_record r;
		if (retry_record_decode(value, &r, a)) {
			xbuf_printf(out, "0 error number: %d ", r.basic_errno);
			hints_put_printable(out, r.text);
			xbuf_printf(out, "\n1 extra data:   %d\n2 first failed: ", r.more_errno);
			hints_put_time(out, r.first_failed);
			xbuf_puts(out, "\n3 last try:     ");
			hints_put_time(out, r.last_try);
			xbuf_puts(out, "\n4 next try:     ");
			hints_put_time(out, r.next_try);
			xbuf_printf(out, "\n5 expired:      %s\n", r.expired ? "yes" : "no");
		}
		arena_free(a);
	} else if (strcmp(db, "ratelimit") == 0) {
		rl_record r;
		if (rl_decode(value, &r)) {
			xbuf_puts(out, "0 time stamp:  ");
			hints_put_time(out, (time_t)r.time);
			double sec = floor(r.time);
			xbuf_printf(out, "\n1 fract. time: .%06ld\n2 sender rate: % .3f\n", lround((r.time - sec) * 1e6), r.rate);
		}
	} else if (strncmp(db, "wait-", 5) == 0) {
		const wait_record *r = hints_wait_decode(value);
		xbuf_printf(out, "Sequence: %d\n", r->sequence);
		for (size_t i = 0; i < r->n; i++) {
			hints_put_printable(out, r->ids[i]);
			xbuf_putc(out, ' ');
		}
		xbuf_putc(out, '\n');
	} else if (strcmp(db, "seen") != 0 && strcmp(db, "misc") != 0) {
		hints_put_printable(out, value);
		xbuf_putc(out, '\n');
	}
}

/* exim_fixdb's time input: [[[[yy]yy]mm]dd]hhmm, fields missing taken from now. */
static bool parse_fix_time(const char *s, time_t now, time_t *out)
{
	size_t n = strlen(s);
	if (n < 4 || n > 12 || n % 2 || strspn(s, "0123456789") != n)
		return false;
	struct tm tm;
	localtime_r(&now, &tm);
	if (use_utc)
		gmtime_r(&now, &tm);
	int v[6], k = 0;
	for (size_t i = 0; i < n; i += 2)
		v[k++] = (s[i] - '0') * 10 + (s[i + 1] - '0');
	int idx = k - 1;
	tm.tm_min = v[idx--];
	tm.tm_hour = v[idx--];
	if (idx >= 0)
		tm.tm_mday = v[idx--];
	if (idx >= 0)
		tm.tm_mon = v[idx--] - 1;
	if (idx >= 0) {
		int year = v[idx--];
		if (idx >= 0)
			year += v[idx--] * 100;
		else
			year += 2000;
		tm.tm_year = year - 1900;
	}
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	*out = use_utc ? timegm(&tm) : mktime(&tm);
	return *out != (time_t)-1;
}

const char *hints_modify_field(const char *db, sv value, int field, const char *text, time_t now, xbuf *out)
{
	if (strcmp(db, "retry") != 0)
		return "fields of this database cannot be changed";
	arena *a = arena_new("hints");
	retry_record r;
	const char *problem = NULL;
	if (!retry_record_decode(value, &r, a)) {
		arena_free(a);
		return "record not decodable";
	}
	long long n;
	time_t t;
	switch (field) {
	case 0:
	case 1:
		if (!sv_to_long(sv_cstr(text), &n))
			problem = "bad value";
		else if (field == 0)
			r.basic_errno = (int)n;
		else
			r.more_errno = (int)n;
		break;
	case 2:
	case 3:
	case 4:
		if (!parse_fix_time(text, now, &t))
			problem = "bad time value";
		else if (field == 2)
			r.first_failed = t;
		else if (field == 3)
			r.last_try = t;
		else
			r.next_try = t;
		break;
	case 5:
		if (strcmp(text, "yes") == 0)
			r.expired = true;
		else if (strcmp(text, "no") == 0)
			r.expired = false;
		else
			problem = "\"yes\" or \"no\" expected";
		break;
	default:
		problem = "unknown field number";
	}
	if (!problem) {
		r.written = now;
		retry_record_encode(&r, out);
	}
	arena_free(a);
	return problem;
}
