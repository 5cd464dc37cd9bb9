/* Parsing option values: "name = value", bare booleans, and each option type's syntax.
 * Error wordings are Exim 4.96's (checked with live `exim -C file -bP`). */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

static sv skip_space(sv v)
{
	while (v.len && isspace((unsigned char)*v.p)) {
		v.p++;
		v.len--;
	}
	return v;
}

bool conf_parse_bool_word(sv v, bool *out)
{
	if (sv_eqi(v, SV_LIT("true")) || sv_eqi(v, SV_LIT("yes"))) {
		*out = true;
		return true;
	}
	if (sv_eqi(v, SV_LIT("false")) || sv_eqi(v, SV_LIT("no"))) {
		*out = false;
		return true;
	}
	return false;
}

/* Digits in base 8, 10 or 16 as Exim chooses: "0x" hex, a leading 0 octal, else decimal.
 * Returns characters used; *overflow set if the magnitude does not fit in 64 bits. */
static size_t scan_number(sv v, unsigned long long *val, bool *overflow)
{
	size_t i = 0;
	unsigned base = 10;
	if (v.len >= 2 && v.p[0] == '0' && (v.p[1] == 'x' || v.p[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (v.len && v.p[0] == '0') {
		base = 8;
	}
	size_t start = i;
	unsigned long long n = 0;
	*overflow = false;
	for (; i < v.len; i++) {
		int c = (unsigned char)v.p[i], d;
		if (isdigit(c))
			d = c - '0';
		else if (base == 16 && isxdigit(c))
			d = tolower(c) - 'a' + 10;
		else
			break;
		if (d >= (int)base)
			break;
		if (n > (ULLONG_MAX - (unsigned)d) / base)
			*overflow = true;
		else
			n = n * base + (unsigned)d;
	}
	*val = n;
	return i == start && base == 16 ? 1 : i;  /* "0x" alone: the 0 is the number, x is junk */
}

/* The sign and digits that start an integer option's value v: s is v without its sign, used
 * how many of s's characters the number took. False (the error reported) without a digit. */
static bool scan_signed(conf_reader *r, sv v, const char *optname, sv *s, bool *neg, unsigned long long *n,
	bool *overflow, size_t *used)
{
	*s = v;
	*neg = false;
	if (s->len && (s->p[0] == '-' || s->p[0] == '+')) {
		*neg = s->p[0] == '-';
		*s = sv_sub(*s, 1, s->len);
	}
	if (!s->len || !isdigit((unsigned char)s->p[0])) {
		conf_fail(r, "integer expected for %s", optname);
		return false;
	}
	*used = scan_number(*s, n, overflow);
	return true;
}

bool conf_parse_int(conf_reader *r, sv v, const char *optname, long long *out)
{
	sv s;
	bool neg, overflow;
	unsigned long long n;
	size_t used;
	if (!scan_signed(r, v, optname, &s, &neg, &n, &overflow, &used))
		return false;
	unsigned long long mult = 1;
	if (used < s.len) {
		switch (s.p[used]) {
		case 'k': case 'K': mult = 1024; used++; break;
		case 'm': case 'M': mult = 1024 * 1024; used++; break;
		case 'g': case 'G': mult = 1024 * 1024 * 1024; used++; break;
		default: break;
		}
	}
	sv rest = skip_space(sv_sub(s, used, s.len));
	if (rest.len) {
		conf_fail(r, "extra characters follow integer value for %s", optname);
		return false;
	}
	unsigned long long limit = neg ? (unsigned long long)INT_MAX + 1 : (unsigned long long)INT_MAX;
	if (overflow || n > limit / mult || n * mult > limit) {
		conf_fail(r, "absolute value of integer \"" SV_FMT "\" is too large (overflow)", SV_ARG(v));
		return false;
	}
	long long x = (long long)(n * mult);
	*out = neg ? -x : x;
	return true;
}

/* A size held in K units in 64 bits (check_spool_space, check_log_space: Exim's "Kint"): a
 * bare number or a K suffix is K, M, G and T scale it up; the result must fit in 64 bits. */
static bool parse_kint(conf_reader *r, sv v, const char *optname, long long *out)
{
	sv s;
	bool neg, overflow;
	unsigned long long n;
	size_t used;
	if (!scan_signed(r, v, optname, &s, &neg, &n, &overflow, &used))
		return false;
	unsigned long long mult = 1;
	if (used < s.len) {
		switch (s.p[used]) {
		case 'k': case 'K': mult = 1; used++; break;
		case 'm': case 'M': mult = 1024; used++; break;
		case 'g': case 'G': mult = 1024ULL * 1024; used++; break;
		case 't': case 'T': mult = 1024ULL * 1024 * 1024; used++; break;
		default: break;
		}
	}
	if (skip_space(sv_sub(s, used, s.len)).len) {
		conf_fail(r, "extra characters follow integer value for %s", optname);
		return false;
	}
	unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	if (overflow || n > limit / mult) {
		conf_fail(r, "absolute value of integer \"" SV_FMT "\" is too large (overflow)", SV_ARG(v));
		return false;
	}
	unsigned long long x = n * mult;
	*out = neg ? (long long)(0 - x) : (long long)x;
	return true;
}

bool conf_parse_time(sv v, int *out)
{
	if (!v.len)
		return false;
	long long total = 0;
	size_t i = 0;
	while (i < v.len) {
		if (!isdigit((unsigned char)v.p[i]))
			return false;
		long long n = 0;
		while (i < v.len && isdigit((unsigned char)v.p[i])) {
			n = n * 10 + (v.p[i++] - '0');
			if (n > INT_MAX)
				return false;
		}
		if (i == v.len)
			return false;
		long long unit;
		switch (v.p[i++]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return false;
		}
		total += n * unit;
		if (total > INT_MAX)
			return false;
	}
	*out = (int)total;
	return true;
}

bool conf_parse_fixed(conf_reader *r, sv v, const char *optname, int *out)
{
	size_t i = 0;
	long long whole = 0;
	if (!v.len || !isdigit((unsigned char)v.p[0])) {
		conf_fail(r, "fixed-point number expected for %s", optname);
		return false;
	}
	while (i < v.len && isdigit((unsigned char)v.p[i])) {
		whole = whole * 10 + (v.p[i++] - '0');
		if (whole > INT_MAX / 1000) {
			conf_fail(r, "absolute value of integer \"" SV_FMT "\" is too large (overflow)", SV_ARG(v));
			return false;
		}
	}
	int frac = 0;
	if (i < v.len && v.p[i] == '.') {
		i++;
		int scale = 100;
		/* digits after the third are accepted and ignored, as Exim does */
		while (i < v.len && isdigit((unsigned char)v.p[i])) {
			frac += (v.p[i++] - '0') * scale;
			scale /= 10;
		}
	}
	if (skip_space(sv_sub(v, i, v.len)).len) {
		conf_fail(r, "extra characters follow fixed-point value for %s", optname);
		return false;
	}
	*out = (int)(whole * 1000 + frac);
	return true;
}

/* Backslash escapes of quoted configuration strings. */
static size_t unescape(sv v, size_t i, xbuf *out)
{
	char c = v.p[i];
	switch (c) {
	case 'n': xbuf_putc(out, '\n'); return i + 1;
	case 'r': xbuf_putc(out, '\r'); return i + 1;
	case 't': xbuf_putc(out, '\t'); return i + 1;
	case 'x': {
		int n = 0, digits = 0;
		i++;
		while (digits < 2 && i < v.len && isxdigit((unsigned char)v.p[i])) {
			int d = (unsigned char)v.p[i];
			n = n * 16 + (isdigit(d) ? d - '0' : tolower(d) - 'a' + 10);
			i++;
			digits++;
		}
		if (digits == 0) {  /* no digits: "\x" stands for x */
			xbuf_putc(out, 'x');
			return i;
		}
		xbuf_putc(out, (char)n);
		return i;
	}
	default:
		if (c >= '0' && c <= '7') {
			int n = 0, digits = 0;
			while (digits < 3 && i < v.len && v.p[i] >= '0' && v.p[i] <= '7') {
				n = n * 8 + (v.p[i++] - '0');
				digits++;
			}
			xbuf_putc(out, (char)n);
			return i;
		}
		xbuf_putc(out, c);
		return i + 1;
	}
}

bool conf_parse_string(conf_reader *r, sv v, const char *optname, xbuf *out)
{
	xbuf_reset(out);
	if (!v.len || v.p[0] != '"') {
		xbuf_putsv(out, v);
		return true;
	}
	size_t i = 1;
	while (i < v.len && v.p[i] != '"') {
		if (v.p[i] == '\\' && i + 1 < v.len)
			i = unescape(v, i + 1, out);
		else
			xbuf_putc(out, v.p[i++]);
	}
	if (i >= v.len) {
		conf_fail(r, "missing quote at end of string value for %s", optname);
		return false;
	}
	if (skip_space(sv_sub(v, i + 1, v.len)).len) {
		conf_fail(r, "extra characters follow string value for %s", optname);
		return false;
	}
	return true;
}

static bool all_digits(sv v)
{
	if (!v.len)
		return false;
	for (size_t i = 0; i < v.len; i++)
		if (!isdigit((unsigned char)v.p[i]))
			return false;
	return true;
}

/* A numeric id (1, in *id), or a name copied NUL-terminated into buf for getpwnam/getgrnam (0);
 * -1 when the name is too long to be one. */
static int id_or_name(sv name, unsigned *id, char *buf, size_t bufsize)
{
	long long n;
	if (all_digits(name) && sv_to_long(name, &n) && n >= 0 && n < (long long)UINT_MAX) {
		*id = (unsigned)n;
		return 1;
	}
	if (name.len >= bufsize)
		return -1;
	memcpy(buf, name.p, name.len);
	buf[name.len] = 0;
	return 0;
}

bool conf_lookup_uid(sv name, uid_t *out)
{
	char buf[256];
	unsigned id;
	int k = id_or_name(name, &id, buf, sizeof buf);
	struct passwd *pw = k == 0 ? getpwnam(buf) : NULL;
	if (k < 0 || (k == 0 && !pw))
		return false;
	*out = k == 1 ? (uid_t)id : pw->pw_uid;
	return true;
}

bool conf_lookup_gid(sv name, gid_t *out)
{
	char buf[256];
	unsigned id;
	int k = id_or_name(name, &id, buf, sizeof buf);
	struct group *gr = k == 0 ? getgrnam(buf) : NULL;
	if (k < 0 || (k == 0 && !gr))
		return false;
	*out = k == 1 ? (gid_t)id : gr->gr_gid;
	return true;
}

/* A user or group list: every item must resolve; stored as the list of numeric ids, which is
 * what -bP prints back as names. */
static const char *parse_id_list(conf_reader *r, sv v, bool groups, bool *failed)
{
	xbuf stored;
	xbuf_init(&stored, NULL);
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, v, 0);
	bool ok = true;
	while (ok && list_next(&it, &item)) {
		unsigned id;
		if (groups) {
			gid_t g;
			ok = conf_lookup_gid(xbuf_sv(&item), &g);
			id = g;
		} else {
			uid_t u;
			ok = conf_lookup_uid(xbuf_sv(&item), &u);
			id = u;
		}
		if (!ok)
			conf_fail(r, "%s %s was not found", groups ? "group" : "user", xbuf_cstr(&item));
		else
			xbuf_printf(&stored, "%s%u", stored.len ? ":" : "", id);
	}
	/* an empty list is the same as unset (so -bP prints "name =") */
	const char *res = ok && stored.len ? arena_strdup(pool_config, xbuf_cstr(&stored)) : NULL;
	*failed = !ok;
	xbuf_free(&item);
	xbuf_free(&stored);
	return res;
}

/* A time list: each time must be no smaller than the one before; stored normalized. */
static const char *parse_time_list(conf_reader *r, sv v, const char *optname)
{
	xbuf stored, item;
	xbuf_init(&stored, NULL);
	xbuf_init(&item, NULL);
	list_iter it;
	list_iter_init(&it, v, 0);
	int prev = -1;
	bool ok = true;
	while (ok && list_next(&it, &item)) {
		int t;
		if (!conf_parse_time(xbuf_sv(&item), &t)) {
			conf_fail(r, "invalid time value for %s", optname);
			ok = false;
		} else if (t < prev) {
			conf_fail(r, "time value out of order for %s", optname);
			ok = false;
		} else {
			if (stored.len)
				xbuf_putc(&stored, ':');
			conf_format_time(t, &stored);
			prev = t;
		}
	}
	const char *res = ok ? arena_strdup(pool_config, xbuf_cstr(&stored)) : NULL;
	xbuf_free(&item);
	xbuf_free(&stored);
	return res;
}

/* Options with their own syntax. smtp_receive_timeout is a time unless it is an expansion
 * (starts with '$'); a time is stored in -bP's normalized form ("300s" shows as "5m"). */
static bool parse_func_option(conf_reader *r, const opt_row *row, sv v, const char **field)
{
	if (strcmp(row->name, "smtp_receive_timeout") == 0 && !(v.len && v.p[0] == '$')) {
		int t;
		if (!conf_parse_time(v, &t)) {
			conf_fail(r, "invalid time value for %s", row->name);
			return false;
		}
		xbuf b;
		xbuf_init(&b, NULL);
		conf_format_time(t, &b);
		*field = arena_strdup(pool_config, xbuf_cstr(&b));
		xbuf_free(&b);
		return true;
	}
	*field = sv_dup(pool_config, v);
	return true;
}

static bool check_rewrite_list(conf_reader *r, sv v)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, v, 0);
	bool ok = true;
	while (ok && list_next(&it, &item)) {
		conf_rewrite_rule *rule;
		ok = conf_rewrite_parse(r, xbuf_sv(&item), &rule);
	}
	xbuf_free(&item);
	return ok;
}

static bool is_bool_type(int t)
{
	return t == OPT_BOOL || t == OPT_BOOL_VERIFY || t == OPT_BOOL_SET || t == OPT_EXPAND_BOOL;
}

static void set_bool(const opt_row *row, void *block, bool value)
{
	char *field = (char *)block + row->offset;
	switch (row->type) {
	case OPT_EXPAND_BOOL:
		*(const char **)field = value ? "true" : "false";
		break;
	case OPT_BOOL_VERIFY:
		/* "verify" sets verify_sender and the verify_recipient field that follows it */
		((bool *)field)[0] = value;
		((bool *)field)[1] = value;
		break;
	default:
		*(bool *)field = value;
		break;
	}
}

bool conf_set_option(conf_reader *r, const opt_row *row, void *block, sv rest, bool negated)
{
	const char *name = row->name;
	char *field = (char *)block + row->offset;
	rest = skip_space(rest);
	if (is_bool_type(row->type)) {
		if (!rest.len) {
			set_bool(row, block, !negated);
			return true;
		}
		if (rest.p[0] != '=' || negated) {
			conf_fail(r, "extra characters follow boolean option %s%s", negated ? "no_" : "", name);
			return false;
		}
		sv val = skip_space(sv_sub(rest, 1, rest.len));
		bool b;
		if (conf_parse_bool_word(val, &b)) {
			set_bool(row, block, b);
			return true;
		}
		if (row->type == OPT_EXPAND_BOOL && val.len && val.p[0] == '$') {
			*(const char **)field = sv_dup(pool_config, val);
			return true;
		}
		conf_fail(r, "\"" SV_FMT "\" is not a valid value for the \"%s\" option", SV_ARG(val), name);
		return false;
	}
	if (negated) {
		conf_fail(r, "negation prefix applied to a non-boolean option");
		return false;
	}
	if (!rest.len) {
		conf_fail(r, "unexpected end of line (data missing) after %s", name);
		return false;
	}
	if (rest.p[0] != '=') {
		conf_fail(r, "missing \"=\" after %s", name);
		return false;
	}
	xbuf val;
	xbuf_init(&val, NULL);
	bool ok = conf_parse_string(r, skip_space(sv_sub(rest, 1, rest.len)), name, &val);
	sv v = xbuf_sv(&val);
	long long n;
	int t;
	switch (ok ? row->type : OPT__COUNT) {
	case OPT_STRING:
	case OPT_EXPAND_UID:
	case OPT_EXPAND_GID:
		*(const char **)field = sv_dup(pool_config, v);
		break;
	case OPT_REWRITE:
		/* a list of rewrite rules, each checked as the rewrite section checks them */
		ok = check_rewrite_list(r, v);
		if (ok)
			*(const char **)field = sv_dup(pool_config, v);
		break;
	case OPT_FUNC:
		ok = parse_func_option(r, row, v, (const char **)field);
		break;
	case OPT_INT:
	case OPT_MKINT:
	case OPT_OCTINT:
		if (row->type == OPT_OCTINT && v.len && v.p[0] != '0') {
			/* octal options are always octal, with or without the leading zero */
			xbuf o;
			xbuf_init(&o, NULL);
			xbuf_putc(&o, '0');
			xbuf_putsv(&o, v);
			ok = conf_parse_int(r, xbuf_sv(&o), name, &n);
			xbuf_free(&o);
		} else {
			ok = conf_parse_int(r, v, name, &n);
		}
		if (ok)
			*(int *)field = (int)n;
		break;
	case OPT_KINT: {
		long long k;
		ok = parse_kint(r, v, name, &k);
		if (ok)
			*(long long *)field = k;
		break;
	}
	case OPT_FIXED:
		ok = conf_parse_fixed(r, v, name, &t);
		if (ok)
			*(int *)field = t;
		break;
	case OPT_TIME:
		ok = conf_parse_time(v, &t);
		if (!ok)
			conf_fail(r, "invalid time value for %s", name);
		else
			*(int *)field = t;
		break;
	case OPT_TIMELIST: {
		const char *s = parse_time_list(r, v, name);
		ok = s != NULL;
		if (ok)
			*(const char **)field = s;
		break;
	}
	case OPT_UID: {
		uid_t u;
		ok = conf_lookup_uid(v, &u);
		if (!ok)
			conf_fail(r, "user " SV_FMT " was not found", SV_ARG(v));
		else
			*(uid_t *)field = u;
		break;
	}
	case OPT_GID: {
		gid_t g;
		ok = conf_lookup_gid(v, &g);
		if (!ok)
			conf_fail(r, "group " SV_FMT " was not found", SV_ARG(v));
		else
			*(gid_t *)field = g;
		break;
	}
	case OPT_UIDLIST:
	case OPT_GIDLIST: {
		bool failed;
		const char *s = parse_id_list(r, v, row->type == OPT_GIDLIST, &failed);
		ok = !failed;
		if (ok)
			*(const char **)field = s;
		break;
	}
	default:
		break;
	}
	xbuf_free(&val);
	return ok;
}
