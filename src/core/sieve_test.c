/* Sieve tests (RFC 5228 section 5) and the comparators and match types Exim 4.96 has:
 * i;octet, i;ascii-casemap, i;ascii-numeric; :is, :contains, :matches. Header values are
 * taken as Exim takes them (sieve_header_value). Nothing here recurses on input data; tests nest
 * only as deep as the parser allowed (SIEVE_MAX_DEPTH). */
#include <ctype.h>
#include <string.h>

#include "core/sieve_internal.h"
#include "mail/address.h"
#include "mail/rfc2047.h"

static bool ch_eq(scomparator cmp, char a, char b)
{
	if (cmp == SCMP_CASEMAP)
		return tolower((unsigned char)a) == tolower((unsigned char)b);
	return a == b;
}

/* The leading digits; no digits: "positive infinity" (RFC 4790 i;ascii-numeric). Exim 4.96
 * compares the digit strings as they are, so "012" is not "12" (observed); so do we. */
static bool numeric_value(sv s, sv *digits)
{
	size_t n = 0;
	while (n < s.len && isdigit((unsigned char)s.p[n]))
		n++;
	if (n == 0)
		return false;
	*digits = sv_make(s.p, n);
	return true;
}

static bool numeric_equal(sv a, sv b)
{
	sv da, db;
	bool ha = numeric_value(a, &da), hb = numeric_value(b, &db);
	if (!ha || !hb)
		return ha == hb;
	return sv_eq(da, db);
}

/* Glob match with "*", "?" (one octet, as Exim: "Caf?" does not match "Café") and "\" escapes: iterative, backtracking only to the last "*", so
 * linear in practice and never recursive. */
static bool glob(scomparator cmp, sv value, sv pat)
{
	size_t v = 0, p = 0;
	size_t star_p = (size_t)-1, star_v = 0;
	while (v < value.len) {
		if (p < pat.len && pat.p[p] == '*') {
			star_p = ++p;
			star_v = v;
			continue;
		}
		if (p < pat.len && pat.p[p] == '?') {
			p++;
			v++;
			continue;
		}
		if (p < pat.len) {
			size_t q = p;
			if (pat.p[q] == '\\' && q + 1 < pat.len)
				q++;
			if (ch_eq(cmp, pat.p[q], value.p[v])) {
				p = q + 1;
				v++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return false;
		p = star_p;
		star_v++;
		v = star_v;
	}
	while (p < pat.len && pat.p[p] == '*')
		p++;
	return p == pat.len;
}

bool sieve_match(scomparator cmp, smatch match, sv value, sv key)
{
	if (cmp == SCMP_NUMERIC)
		return match == SM_IS && numeric_equal(value, key);
	switch (match) {
	case SM_IS:
		if (value.len != key.len)
			return false;
		for (size_t i = 0; i < value.len; i++)
			if (!ch_eq(cmp, value.p[i], key.p[i]))
				return false;
		return true;
	case SM_CONTAINS:
		if (key.len > value.len)
			return false;
		for (size_t i = 0; i + key.len <= value.len; i++) {
			size_t k = 0;
			while (k < key.len && ch_eq(cmp, value.p[i + k], key.p[k]))
				k++;
			if (k == key.len)
				return true;
		}
		return false;
	case SM_MATCHES:
		return glob(cmp, value, key);
	}
	return false;
}

static bool any_key(const stest *t, sv value)
{
	for (int i = 0; i < t->keys.n; i++)
		if (sieve_match(t->cmp, t->match, value, t->keys.v[i]))
			return true;
	return false;
}

/* Every instance of the header, as in Exim's $rheader_: joined, then newlines removed and the
 * ends trimmed (observed: "Subject: a" twice tests as "a a"), then RFC 2047 decoded. */
static sv header_raw(const xp_message *msg, sv name, arena *a)
{
	if (!msg)
		return SV_NULL;
	xbuf b;
	xbuf_init(&b, a);
	bool found = false;
	for (size_t i = 0; i < msg->nheaders; i++) {
		if (!sv_eqi(msg->headers[i].name, name))
			continue;
		found = true;
		sv text = msg->headers[i].text;
		for (size_t k = 0; k < text.len; k++)
			if (text.p[k] != '\n' && text.p[k] != '\r')
				xbuf_putc(&b, text.p[k]);
		b.taint |= text.taint;
	}
	if (!found)
		return SV_NULL;
	sv v = sv_trim(xbuf_sv(&b));
	return v;
}

sv sieve_header_value(const xp_message *msg, sv name, arena *a)
{
	sv raw = header_raw(msg, name, a);
	if (sv_is_null(raw))
		return raw;
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	/* Words whose charset cannot be converted stay as they are (Exim's notes). */
	if (!rfc2047_decode(raw, "utf-8", false, &out, &err))
		return raw;
	sv v = xbuf_sv(&out);
	v.taint = raw.taint;
	return v;
}

/* The part of an address a test looks at; false: the part does not exist. For addresses in
 * header lines Exim 4.96 has no sub-address separator (observed: :user is the whole local part
 * and :detail never matches); the envelope's come from sieve_useraddress/sieve_subaddress. */
static bool address_part(saddrpart part, sv addr, size_t local_len, sv *out)
{
	sv local = sv_make(addr.p, local_len);
	sv domain = local_len < addr.len ? sv_sub(addr, local_len + 1, addr.len - local_len - 1) : SV_LIT("");
	switch (part) {
	case SAP_ALL:
		*out = addr;
		return true;
	case SAP_LOCALPART:
	case SAP_USER:
		*out = local;
		return true;
	case SAP_DOMAIN:
		*out = domain;
		return true;
	case SAP_DETAIL:
		return false;
	}
	return false;
}

static bool address_test(const stest *t, const sieve_ctx *ctx, arena *a)
{
	for (int h = 0; h < t->names.n; h++) {
		sv value = header_raw(ctx->msg, t->names.v[h], a);
		if (sv_is_null(value))
			continue;
		addr_group_state groups = { .allow = true };
		size_t pos = 0;
		sv item;
		while (addr_next_item(value, &pos, &item)) {
			xbuf out;
			xbuf_init(&out, a);
			addr_parsed info;
			const char *why;
			if (!addr_extract(item, &groups, &out, &info, &why) || info.empty)
				continue;
			sv part;
			if (address_part(t->part, xbuf_sv(&out), info.local_len, &part) && any_key(t, part))
				return true;
		}
	}
	return false;
}

static bool envelope_test(const stest *t, const sieve_ctx *ctx, arena *a)
{
	for (int i = 0; i < t->names.n; i++) {
		sv part;
		if (sv_eqi(t->names.v[i], SV_LIT("from"))) {
			sv rp = ctx->return_path;
			const char *at = memchr(rp.p, '@', rp.len);
			size_t local_len = at ? (size_t)(at - rp.p) : rp.len;
			if (rp.len == 0)
				part = rp;   /* the null reverse path compares as "" whatever the part */
			else if (!address_part(t->part, rp, local_len, &part))
				continue;
		} else {
			xbuf full;
			xbuf_init(&full, a);
			xbuf_putsv(&full, ctx->prefix);
			xbuf_putsv(&full, ctx->local_part);
			xbuf_putsv(&full, ctx->suffix);
			size_t local_len = full.len;
			xbuf_putc(&full, '@');
			xbuf_putsv(&full, ctx->domain);
			if (t->part == SAP_USER)
				part = sv_is_null(ctx->useraddress) ? sv_make(full.p, local_len) : ctx->useraddress;
			else if (t->part == SAP_DETAIL) {
				if (sv_is_null(ctx->subaddress))
					continue;
				part = ctx->subaddress;
			} else if (!address_part(t->part, xbuf_sv(&full), local_len, &part))
				continue;
		}
		if (any_key(t, part))
			return true;
	}
	return false;
}

static bool is_mailto(sv uri)
{
	return uri.len > 7 && strncasecmp(uri.p, "mailto:", 7) == 0;
}

bool sieve_eval_test(const stest *t, const sieve_ctx *ctx, arena *a, bool *result, const char **err)
{
	*result = false;
	switch (t->kind) {
	case ST_TRUE:
		*result = true;
		return true;
	case ST_FALSE:
		return true;
	case ST_NOT:
		if (!sieve_eval_test(t->kids[0], ctx, a, result, err))
			return false;
		*result = !*result;
		return true;
	case ST_ALLOF:
	case ST_ANYOF: {
		bool all = t->kind == ST_ALLOF;
		*result = all;
		for (int i = 0; i < t->nkids; i++) {
			bool r;
			if (!sieve_eval_test(t->kids[i], ctx, a, &r, err))
				return false;
			if (r != all) {
				*result = r;
				return true;
			}
		}
		return true;
	}
	case ST_HEADER:
		for (int h = 0; h < t->names.n && !*result; h++) {
			sv v = sieve_header_value(ctx->msg, t->names.v[h], a);
			if (!sv_is_null(v))
				*result = any_key(t, v);
		}
		return true;
	case ST_ADDRESS:
		*result = address_test(t, ctx, a);
		return true;
	case ST_ENVELOPE:
		*result = envelope_test(t, ctx, a);
		return true;
	case ST_EXISTS:
		*result = true;
		for (int h = 0; h < t->names.n; h++)
			if (sv_is_null(header_raw(ctx->msg, t->names.v[h], a)))
				*result = false;
		return true;
	case ST_SIZE:
		*result = t->over ? (unsigned long long)ctx->message_size > t->limit
			: (unsigned long long)ctx->message_size < t->limit;
		return true;
	case ST_VALID_NOTIFY_METHOD:
		*result = true;
		for (int i = 0; i < t->names.n; i++)
			if (!is_mailto(t->names.v[i]))
				*result = false;
		return true;
	case ST_NOTIFY_METHOD_CAPABILITY:
		/* mailto can never tell whether the recipient is online. */
		if (!is_mailto(t->names.v[0]))
			return *err = "invalid notification URI", false;
		if (sv_eqi(t->capability, SV_LIT("online")))
			*result = any_key(t, SV_LIT("maybe"));
		return true;
	}
	return true;
}
