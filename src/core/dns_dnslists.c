/* The dnslists ACL condition (ch-access_control_lists.html, "Using DNS lists" and the sections
 * after it). The spec is already expanded; it is a list of items
 *
 *   +include_unknown | +exclude_unknown | +defer_unknown          (mode for later items)
 *   domain[,lookupdomain][[!]=|==|&|=&][addr,addr...][/key-list]
 *
 * Each key (default: the client's address) is reversed if it is an IP address, the list domain
 * is appended, and A records are looked up. Only values in 127.0.0.0/8 count. An address list
 * restricts which values match (= equality, & all mask bits present; doubled forms require every
 * value to match; ! inverts). With "domain,lookupdomain" the restricted check is made in
 * lookupdomain and, when it matches, domain is looked up unrestricted for the variables and TXT.
 */
#include <string.h>

#include "core/dns_internal.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "lib/log.h"
#include "search/search.h"

enum unknown_mode { UNKNOWN_EXCLUDE, UNKNOWN_INCLUDE, UNKNOWN_DEFER };

typedef struct dnsbl_item {
	sv domain;      /* for the variables and the TXT lookup */
	sv lookup;      /* where the A records are looked up (domain unless "domain,lookup") */
	sv addrs;       /* the restricting address list, or empty */
	bool bitmask;   /* & instead of = */
	bool all;       /* == or =& */
	bool negate;    /* ! */
	sv keys;        /* after '/', or empty: the client address */
	bool has_keys;
} dnsbl_item;

static void parse_item(sv it, dnsbl_item *out)
{
	memset(out, 0, sizeof *out);
	const char *slash = memchr(it.p, '/', it.len);
	if (slash) {
		out->keys = sv_sub(it, (size_t)(slash - it.p) + 1, it.len);
		out->has_keys = true;
		it = sv_sub(it, 0, (size_t)(slash - it.p));
	}
	size_t i = 0;
	while (i < it.len && it.p[i] != '=' && it.p[i] != '&')
		i++;
	sv domains = sv_sub(it, 0, i);
	if (i < it.len) {
		if (domains.len && domains.p[domains.len - 1] == '!') {
			out->negate = true;
			domains.len--;
		}
		out->bitmask = it.p[i] == '&';
		i++;
		if (!out->bitmask && i < it.len && (it.p[i] == '=' || it.p[i] == '&')) {
			out->all = true;
			out->bitmask = it.p[i] == '&';
			i++;
		}
		out->addrs = sv_sub(it, i, it.len);
	}
	const char *comma = memchr(domains.p, ',', domains.len);
	if (comma) {
		out->domain = sv_trim(sv_sub(domains, 0, (size_t)(comma - domains.p)));
		out->lookup = sv_trim(sv_sub(domains, (size_t)(comma - domains.p) + 1, domains.len));
	} else {
		out->domain = out->lookup = sv_trim(domains);
	}
}

/* Does one returned value match the restricting list (before negation)? */
static bool value_matches(const ip_addr *v, const dnsbl_item *item)
{
	list_iter it;
	xbuf a;
	xbuf_init(&a, pool_scratch);
	list_iter_init(&it, item->addrs, ',');
	while (list_next(&it, &a)) {
		ip_addr want;
		if (!ip_parse(xbuf_sv(&a), &want) || want.family != 4)
			continue;
		if (item->bitmask) {
			bool all_bits = true;
			for (int k = 0; k < 4; k++)
				if ((v->b[k] & want.b[k]) != want.b[k])
					all_bits = false;
			if (all_bits)
				return true;
		} else if (memcmp(v->b, want.b, 4) == 0) {
			return true;
		}
	}
	return false;
}

/* Exim ignores values outside 127/8 (a list whose domain was taken over may answer anything),
 * but only where a plain item or a bit mask looks at them (logging each one every time);
 * "=a.b.c.d" compares what came back. All observed with Exim 4.96. */
static bool in_127(const ip_addr *v)
{
	return v->b[0] == 127;
}

static void log_discarded(const ip_addr *vals, size_t n, sv key, sv domain)
{
	for (size_t i = 0; i < n; i++) {
		if (in_127(&vals[i]))
			continue;
		xbuf t;
		xbuf_init(&t, pool_scratch);
		ip_format(&vals[i], &t);
		log_write(LOG_MAIN, "DNS list lookup for %.*s at %.*s returned %s; not in 127.0/8 and discarded",
			SV_ARG(key), SV_ARG(domain), xbuf_cstr(&t));
	}
}

/* The restriction over all values: any/all, then negation. */
static bool values_pass(const ip_addr *vals, size_t n, const dnsbl_item *item)
{
	size_t usable = 0;
	for (size_t i = 0; i < n; i++)
		usable += in_127(&vals[i]);
	if (item->addrs.len == 0)
		return usable > 0;
	size_t hits = 0, counted = n;  /* an ignored value is one that does not match */
	for (size_t i = 0; i < n; i++)
		if ((!item->bitmask || in_127(&vals[i])) && value_matches(&vals[i], item))
			hits++;
	bool pos = item->all ? counted > 0 && hits == counted : hits > 0;
	if (!item->negate)
		return pos;
	/* "!=" / "!&": no value matches; "!==" / "!=&": some value does not match. */
	return item->all ? hits < counted : hits == 0;
}

/* Look up name's A records (IPv4 ones kept); log the values outside 127/8 when the item is one
 * that ignores them (every time: Exim logs them on each check, cached or not). */
static dns_rc lookup_values(arena *a, sv name, sv key, sv domain, const dnsbl_item *item, ip_addr **vals,
	size_t *n)
{
	dns_answer ans;
	dns_rc rc = dns_lookup(a, name, DNS_T_A, &ans);
	*n = 0;
	if (rc != DNS_SUCCEED)
		return rc;
	size_t count = 0;
	for (dns_rr *rr = ans.rrs; rr; rr = rr->next)
		count++;
	*vals = arena_calloc(a, count ? count : 1, sizeof(ip_addr));
	for (dns_rr *rr = ans.rrs; rr; rr = rr->next) {
		ip_addr v;
		if (!ip_parse(rr->text, &v) || v.family != 4)
			continue;
		(*vals)[(*n)++] = v;
	}
	if (!item || item->addrs.len == 0 || item->bitmask)
		log_discarded(*vals, *n, key, domain);
	return *n ? DNS_SUCCEED : DNS_NODATA;
}

static void set_value(arena *a, const ip_addr *vals, size_t n, sv *out)
{
	xbuf b;
	xbuf_init(&b, a);
	for (size_t i = 0; i < n; i++) {
		if (i)
			xbuf_puts(&b, ", ");
		ip_format(&vals[i], &b);
	}
	*out = xbuf_sv(&b);
	out->taint = 1;
}

/* One key in one item: 1 listed, 0 not, 2 temporary failure. */
static int check_key(arena *a, const dnsbl_item *item, sv key, dnslist_vars *out, sv *defer_name)
{
	xbuf name, name2;
	xbuf_init(&name, a);
	xbuf_init(&name2, a);
	ip_addr ip;
	sv zone;
	bool is_ip = ip_parse_zone(key, &ip, &zone);
	xbuf rev;
	xbuf_init(&rev, a);
	if (is_ip) {
		/* A v4-mapped address is reversed as IPv6 (nibbles), as Exim 4.96 does. */
		ip_reverse(&ip, &rev);
	} else {
		xbuf_putsv(&rev, key);
	}
	xbuf_printf(&name, "%s.%.*s", xbuf_cstr(&rev), SV_ARG(item->lookup));
	ip_addr *vals = NULL;
	size_t n = 0;
	dns_rc rc = lookup_values(a, xbuf_sv(&name), key, item->lookup, item, &vals, &n);
	if (rc == DNS_AGAIN || rc == DNS_FAIL) {
		*defer_name = xbuf_sv(&name);
		return 2;
	}
	if (rc != DNS_SUCCEED || !values_pass(vals, n, item))
		return 0;
	sv txtname = xbuf_sv(&name);
	if (!sv_eq(item->lookup, item->domain)) {
		/* Merged list: the restricted check passed; now the specific list, unrestricted. */
		xbuf_printf(&name2, "%s.%.*s", xbuf_cstr(&rev), SV_ARG(item->domain));
		rc = lookup_values(a, xbuf_sv(&name2), key, item->domain, NULL, &vals, &n);
		if (rc == DNS_AGAIN || rc == DNS_FAIL) {
			*defer_name = xbuf_sv(&name2);
			return 2;
		}
		dnsbl_item plain = { .domain = item->domain };
		if (rc != DNS_SUCCEED || !values_pass(vals, n, &plain))
			return 0;
		txtname = xbuf_sv(&name2);
	}
	if (out) {
		out->domain = sv_copy(a, item->domain);
		out->matched = sv_copy(a, key);
		set_value(a, vals, n, &out->value);
		out->text = SV_NULL;
		dns_answer txt;
		if (dns_lookup(a, txtname, DNS_T_TXT, &txt) == DNS_SUCCEED && txt.rrs && txt.rrs->nstrings)
			out->text = sv_copy(a, txt.rrs->strings[0]);
		else
			out->text = sv_make("", 0);
	}
	return 1;
}

int dns_dnslists(arena *a, xp_env *env, sv spec, sv ip, dnslist_vars *out, xbuf *err)
{
	enum unknown_mode mode = UNKNOWN_EXCLUDE;
	list_iter it;
	xbuf raw;
	xbuf_init(&raw, a);
	list_iter_init(&it, spec, 0);
	while (list_next(&it, &raw)) {
		sv item_text = sv_copy(a, xbuf_sv(&raw));
		if (sv_eq_cstr(item_text, "+include_unknown")) {
			mode = UNKNOWN_INCLUDE;
			continue;
		}
		if (sv_eq_cstr(item_text, "+exclude_unknown")) {
			mode = UNKNOWN_EXCLUDE;
			continue;
		}
		if (sv_eq_cstr(item_text, "+defer_unknown")) {
			mode = UNKNOWN_DEFER;
			continue;
		}
		dnsbl_item item;
		parse_item(item_text, &item);
		if (item.lookup.len == 0 || item.domain.len == 0)
			continue;
		bool deferred = false;
		sv deferred_key = ip, defer_name = SV_NULL;
		if (!item.has_keys) {
			if (ip.len == 0)
				continue; /* no client address (local submission): nothing to look up */
			int r = check_key(a, &item, ip, out, &defer_name);
			if (r == 1)
				return 1;
			deferred = r == 2;
		} else {
			list_iter kit;
			xbuf key;
			xbuf_init(&key, a);
			list_iter_init(&kit, item.keys, 0);
			while (list_next(&kit, &key)) {
				if (key.len == 0)
					continue;
				sv this_defer = SV_NULL;
				int r = check_key(a, &item, sv_copy(a, xbuf_sv(&key)), out, &this_defer);
				if (r == 1)
					return 1;
				if (r == 2 && !deferred)
					defer_name = this_defer;
				if (r == 2 && !deferred) {
					deferred = true;
					deferred_key = sv_copy(a, xbuf_sv(&key));
				}
			}
		}
		if (!deferred)
			continue;
		/* Exim 4.96 logs a lookup that failed (observed: a server that refuses the zone) */
		if (mode == UNKNOWN_EXCLUDE)
			log_write(LOG_MAIN, "DNS list lookup defer (probably timeout) for %.*s: assumed not in list",
				SV_ARG(defer_name));
		if (mode == UNKNOWN_INCLUDE) {
			if (out) {
				out->domain = sv_copy(a, item.domain);
				out->matched = sv_copy(a, deferred_key);
				out->value = out->text = SV_NULL;
			}
			return 1;
		}
		if (mode == UNKNOWN_DEFER) {
			xbuf_printf(err, "DNS list lookup defer (probably timeout) for %.*s", SV_ARG(item.lookup));
			return 2;
		}
	}
	return 0;
}
