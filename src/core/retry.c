/* Retry rules: keys, rule matching, the next-try computation and the stored record form
 * (Exim 4.96 "Retry configuration"). The database side (read, check, update) is retry_db.c.
 *
 * The computation, as observed with Exim 4.96 (exim_fixdb edits, then a forced delivery):
 *   - the rule's items are scanned in order for the first whose cutoff has not passed, measured
 *     from the failure clock's start; when all have passed, the last one applies and the record
 *     is marked expired;
 *   - F: the next gap is the interval;
 *   - G: the previous gap is the smaller of the predicted one (next_try - last_try) and the
 *     actual one (now - last_try); the next gap is that times the multiplier, or the interval
 *     when the previous gap is shorter than the interval (or there was no record);
 *   - H: a random gap between the interval and what G would give;
 *   - retry_interval_max caps the gap; the next try is not pulled back to the cutoff.
 */
#include "core/retry.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "search/match.h"
#include "search/search.h"

/* ---- keys ---- */

sv retry_host_key(arena *a, sv host_name, sv host_address, int port, const char *message_id)
{
	xbuf k;
	xbuf_init(&k, a);
	xbuf_puts(&k, "T:");
	xbuf_putsv(&k, host_name);
	xbuf_putc(&k, ':');
	xbuf_putsv(&k, host_address);
	if (port > 0 && port != 25)
		xbuf_printf(&k, ":%d", port);
	if (message_id && *message_id)
		xbuf_printf(&k, ":%s", message_id);
	return xbuf_sv(&k);
}

static sv lp_at_domain_key(arena *a, const char *tag, const address_item *addr, bool use_local_part)
{
	xbuf k;
	xbuf_init(&k, a);
	xbuf_puts(&k, tag);
	if (use_local_part) {
		xbuf_putsv(&k, addr->local_part);
		xbuf_putc(&k, '@');
	}
	xbuf_putsv(&k, addr->domain);
	return xbuf_sv(&k);
}

sv retry_address_key(arena *a, const address_item *addr, bool use_local_part)
{
	return lp_at_domain_key(a, "R:", addr, use_local_part);
}

sv retry_local_key(arena *a, const address_item *addr, bool use_local_part)
{
	return lp_at_domain_key(a, "T:", addr, use_local_part);
}

sv retry_domain_key(arena *a, sv domain)
{
	xbuf k;
	xbuf_init(&k, a);
	xbuf_puts(&k, "R:");
	xbuf_putsv(&k, domain);
	return xbuf_sv(&k);
}

sv retry_address_sender_key(arena *a, const address_item *addr, sv sender)
{
	xbuf k;
	xbuf_init(&k, a);
	xbuf_puts(&k, "R:");
	xbuf_putsv(&k, addr->local_part);
	xbuf_putc(&k, '@');
	xbuf_putsv(&k, addr->domain);
	xbuf_puts(&k, ":<");
	xbuf_putsv(&k, sender);
	xbuf_putc(&k, '>');
	return xbuf_sv(&k);
}

/* An Exim time value ("4d", "1h30m", "90"); false when malformed. */
static bool parse_time(const char *s, int *out)
{
	long long total = 0;
	if (!*s)
		return false;
	while (*s) {
		if (!isdigit((unsigned char)*s))
			return false;
		long long n = 0;
		while (isdigit((unsigned char)*s) && n < 100000000)
			n = n * 10 + (*s++ - '0');
		int mult = 1;
		switch (*s) {
		case 'w': mult = 7 * 86400; s++; break;
		case 'd': mult = 86400; s++; break;
		case 'h': mult = 3600; s++; break;
		case 'm': mult = 60; s++; break;
		case 's': s++; break;
		case 0: break;
		default: return false;
		}
		total += n * mult;
		if (total > 0x7fffffff)
			return false;
	}
	*out = (int)total;
	return true;
}

/* ---- error numbers ---- */

int retry_more_errno_host(bool from_mx, bool connect_timeout)
{
	return (from_mx ? 'M' : 'A') | (connect_timeout ? RETRY_MORE_CONNECT : 0);
}

int retry_more_errno_smtp(int code, bool from_mx)
{
	int x = code >= 400 && code <= 499 ? code - 400 : 0;
	return (x << 8) | (from_mx ? 'M' : 'A');
}

/* "4xy" against the 4xx code held in more_errno: each of x and y is a digit or 'x'. */
static bool smtp_code_matches(const char *xy, int more_errno)
{
	int code = (more_errno >> 8) & 0xff;
	char digits[2] = { (char)('0' + code / 10 % 10), (char)('0' + code % 10) };
	for (int i = 0; i < 2; i++)
		if (xy[i] != 'x' && xy[i] != digits[i])
			return false;
	return true;
}

bool retry_error_matches(const char *error, int basic_errno, int more_errno)
{
	if (!error || strcmp(error, "*") == 0)
		return true;
	char origin = (char)(more_errno & 0xff);
	bool connecting = (more_errno & RETRY_MORE_CONNECT) != 0;
	if (strcmp(error, "refused") == 0)
		return basic_errno == ECONNREFUSED;
	if (strcmp(error, "refused_MX") == 0)
		return basic_errno == ECONNREFUSED && origin == 'M';
	if (strcmp(error, "refused_A") == 0)
		return basic_errno == ECONNREFUSED && origin == 'A';
	if (strcmp(error, "timeout") == 0)
		return basic_errno == ETIMEDOUT;
	if (strcmp(error, "timeout_MX") == 0)
		return basic_errno == ETIMEDOUT && origin == 'M';
	if (strcmp(error, "timeout_A") == 0)
		return basic_errno == ETIMEDOUT && origin == 'A';
	if (strcmp(error, "timeout_connect") == 0)
		return basic_errno == ETIMEDOUT && connecting;
	if (strcmp(error, "timeout_connect_MX") == 0)
		return basic_errno == ETIMEDOUT && connecting && origin == 'M';
	if (strcmp(error, "timeout_connect_A") == 0)
		return basic_errno == ETIMEDOUT && connecting && origin == 'A';
	if (strcmp(error, "lost_connection") == 0)
		return basic_errno == -18;           /* SMTPC_ERRNO_SMTPCLOSED */
	if (strcmp(error, "auth_failed") == 0)
		return basic_errno == -42;           /* SMTPC_ERRNO_AUTHFAIL */
	if (strcmp(error, "tls_required") == 0)
		return basic_errno == RETRY_ERRNO_TLSREQUIRED;
	if (strcmp(error, "lookup") == 0)
		return basic_errno == RETRY_ERRNO_UNKNOWNHOST;
	if (strcmp(error, "timeout_DNS") == 0)
		return basic_errno == RETRY_ERRNO_DNSDEFER;
	bool quota_error = basic_errno == RETRY_ERRNO_QUOTA || basic_errno == ENOSPC
#ifdef EDQUOT
		|| basic_errno == EDQUOT
#endif
		;
	if (strcmp(error, "quota") == 0)
		return quota_error;
	if (strncmp(error, "quota_", 6) == 0) {
		int t;
		if (!quota_error || more_errno < 0 || !parse_time(error + 6, &t))
			return false;
		return more_errno >= t;
	}
	static const struct { const char *prefix; int errno_value; } smtp[] = {
		{ "rcpt_4", -44 }, { "mail_4", -45 }, { "data_4", -46 },
	};
	for (size_t i = 0; i < sizeof smtp / sizeof smtp[0]; i++)
		if (strncmp(error, smtp[i].prefix, 6) == 0 && strlen(error) == 8)
			return basic_errno == smtp[i].errno_value && smtp_code_matches(error + 6, more_errno);
	return false;
}

/* ---- rule matching ---- */

static int expand_named(void *ectx, sv in, xbuf *out, xbuf *err)
{
	return xp_expand(ectx, in, out, err);
}

static bool list_matches(xp_env *env, sv subject, sv list, enum match_kind kind)
{
	xbuf err, matched;
	xbuf_init(&err, env->a);
	xbuf_init(&matched, env->a);
	match_ctx m = { .expand = expand_named, .ectx = env, .matched_data = &matched };
	m.primary_hostname = conf_main_string("primary_hostname");
	int rc = match_isinlist(subject, list, 0, kind, true, &m, &err);
	return rc == SEARCH_OK;
}

/* One (expanded) pattern against a subject. An address subject is matched as an address list;
 * a bare host name or domain matches a domain pattern or one that starts "*@", and a regular
 * expression sees it as "*@<domain>" (Exim's rules in "Choosing which retry rule to use"). */
static bool pattern_matches(xp_env *env, sv pattern, sv subject)
{
	if (!subject.len)
		return false;
	if (memchr(subject.p, '@', subject.len))
		return list_matches(env, subject, pattern, MATCH_ADDRESS);
	sv body = pattern;
	bool negated = false;
	while (body.len && body.p[0] == '!') {
		body = sv_sub(body, 1, body.len);
		negated = !negated;
	}
	if (body.len && body.p[0] == '^') {
		xbuf s;
		xbuf_init(&s, env->a);
		xbuf_puts(&s, "*@");
		xbuf_putsv(&s, subject);
		return list_matches(env, xbuf_sv(&s), pattern, MATCH_ADDRESS);
	}
	const char *at = memchr(body.p, '@', body.len);
	bool lookup = memchr(body.p, ';', body.len) != NULL;
	if (at && !lookup) {
		if (!sv_starts(body, "*@"))
			return negated;  /* a pattern naming a local part never matches a bare domain */
		sv dom = sv_sub(body, 2, body.len);
		bool in = list_matches(env, subject, dom, MATCH_DOMAIN);
		return negated ? !in : in;
	}
	return list_matches(env, subject, pattern, MATCH_DOMAIN);
}

const conf_retry_rule *retry_find_rule(sv subject, sv domain, int basic_errno, int more_errno,
	sv sender)
{
	arena *a = arena_new("retry-match");
	xp_env env;
	xp_env_init(&env, a);
	const conf_retry_rule *found = NULL;
	for (const conf_retry_rule *r = conf_retry_rules(); r && !found; r = r->next) {
		if (!retry_error_matches(r->error, basic_errno, more_errno))
			continue;
		if (r->senders) {
			if (sv_is_null(sender))
				continue;
			xbuf ex, err;
			xbuf_init(&ex, a);
			xbuf_init(&err, a);
			if (xp_expand(&env, sv_cstr(r->senders), &ex, &err) != XP_OK)
				continue;
			if (!list_matches(&env, sender, xbuf_sv(&ex), MATCH_ADDRESS))
				continue;
		}
		xbuf pat, err;
		xbuf_init(&pat, a);
		xbuf_init(&err, a);
		if (xp_expand(&env, sv_cstr(r->pattern), &pat, &err) != XP_OK)
			continue;
		if (pattern_matches(&env, xbuf_sv(&pat), subject) ||
			(!sv_is_null(domain) && !sv_eqi(domain, subject) && pattern_matches(&env, xbuf_sv(&pat), domain)))
			found = r;
	}
	xp_env_release(&env);
	arena_free(a);
	return found;
}

/* ---- the computation ---- */

static long long rand_below(long long n)
{
	if (n <= 0)
		return 0;
	return ((long long)random() << 16 ^ random()) % n;
}

void retry_compute(const conf_retry_rule *rule, const retry_record *old, time_t clock_start,
	time_t now, int interval_max, retry_record *out)
{
	out->first_failed = old ? old->first_failed : now;
	out->last_try = now;
	out->expired = false;
	if (!rule || !rule->nitems) {
		out->next_try = now;
		out->expired = true;
		return;
	}
	if (clock_start <= 0 || clock_start > out->first_failed)
		clock_start = out->first_failed;
	long long failing = (long long)(now - clock_start);
	const conf_retry_item *it = NULL;
	for (size_t i = 0; i < rule->nitems && !it; i++)
		if (failing < rule->items[i].cutoff)
			it = &rule->items[i];
	if (!it) {
		it = &rule->items[rule->nitems - 1];
		out->expired = true;
	}
	long long gap = it->interval;
	if (it->letter != 'F' && old && old->last_try > 0) {
		long long predicted = (long long)(old->next_try - old->last_try);
		long long actual = (long long)(now - old->last_try);
		long long last = predicted < actual ? predicted : actual;
		if (last >= it->interval) {
			long long grown = last * it->multiplier / 1000;
			gap = it->letter == 'G' ? grown : it->interval + rand_below(grown - it->interval + 1);
		}
	}
	if (interval_max > 0 && gap > interval_max)
		gap = interval_max;
	if (gap < 0)
		gap = 0;
	out->next_try = now + (time_t)gap;
}

/* ---- stored form ---- */

enum { RETRY_REC_VERSION = 1, RETRY_TEXT_MAX = 512, RETRY_REC_FIXED = 1 + 4 + 4 + 8 * 4 + 1 };

static void put_u32(xbuf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
	xbuf_put(b, c, 4);
}

static void put_i64(xbuf *b, long long v)
{
	uint64_t u = (uint64_t)v;
	put_u32(b, (uint32_t)(u >> 32));
	put_u32(b, (uint32_t)u);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static long long get_i64(const unsigned char *p)
{
	return (long long)((uint64_t)get_u32(p) << 32 | get_u32(p + 4));
}

void retry_record_encode(const retry_record *r, xbuf *out)
{
	xbuf_putc(out, RETRY_REC_VERSION);
	put_u32(out, (uint32_t)r->basic_errno);
	put_u32(out, (uint32_t)r->more_errno);
	put_i64(out, r->first_failed);
	put_i64(out, r->last_try);
	put_i64(out, r->next_try);
	put_i64(out, r->written);
	xbuf_putc(out, r->expired ? 1 : 0);
	size_t n = r->text.len < RETRY_TEXT_MAX ? r->text.len : RETRY_TEXT_MAX;
	xbuf_put(out, r->text.p, n);
}

bool retry_record_decode(sv value, retry_record *out, arena *a)
{
	const unsigned char *p = (const unsigned char *)value.p;
	if (value.len < RETRY_REC_FIXED || p[0] != RETRY_REC_VERSION || value.len > RETRY_REC_FIXED + RETRY_TEXT_MAX ||
		p[41] > 1)
		return false;
	out->basic_errno = (int)(int32_t)get_u32(p + 1);
	out->more_errno = (int)(int32_t)get_u32(p + 5);
	out->first_failed = (time_t)get_i64(p + 9);
	out->last_try = (time_t)get_i64(p + 17);
	out->next_try = (time_t)get_i64(p + 25);
	out->written = (time_t)get_i64(p + 33);
	out->expired = p[41] != 0;
	/* The text came from a remote server: keep it marked tainted. */
	out->text = sv_tainted(sv_copy(a, sv_make(value.p + RETRY_REC_FIXED, value.len - RETRY_REC_FIXED)));
	return true;
}
