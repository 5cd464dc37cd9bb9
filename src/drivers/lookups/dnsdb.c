/* dnsdb: the DNS as a query-style lookup, with Exim 4.96's syntax
 * (ch-file_and_database_lookups.html, "More about dnsdb" and the sections after it):
 *
 *   [>S[,F|;]] [defer_strict|defer_lax|defer_never,] [dnssec_strict|dnssec_lax|dnssec_never,]
 *   [retrans_TIME,] [retry_N,] [type=]key-list
 *
 * S separates records (default newline), F the fields of one record (",F"; ";" = no separator).
 * Types: a a+ aaaa cname csa mx mxh ns ptr soa spf srv tlsa txt zns; no type means txt. The key
 * list is an Exim list (colon, or "<c"); for ptr an IP address is reversed into in-addr.arpa /
 * ip6.arpa, and an unprefixed list that is exactly one IPv6 address is one key.
 * The lookup fails only when no key gives data; temporary errors follow the defer_ mode. */
#include <ctype.h>
#include <string.h>

#include "conf/main_options.h"
#include "core/dns.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "search/search.h"

enum defer_mode { DEFER_STRICT, DEFER_LAX, DEFER_NEVER };
enum dnssec_mode { DNSSEC_STRICT, DNSSEC_LAX, DNSSEC_NEVER };
/* Pseudo types beyond the wire types of dns.h. */
enum { T_APLUS = 1001, T_MXH, T_ZNS, T_CSA };

static const struct { const char *name; int type; } types[] = {
	{ "a", DNS_T_A }, { "a+", T_APLUS }, { "aaaa", DNS_T_AAAA }, { "cname", DNS_T_CNAME },
	{ "csa", T_CSA }, { "mx", DNS_T_MX }, { "mxh", T_MXH }, { "ns", DNS_T_NS }, { "ptr", DNS_T_PTR },
	{ "soa", DNS_T_SOA }, { "spf", DNS_T_SPF }, { "srv", DNS_T_SRV }, { "tlsa", DNS_T_TLSA },
	{ "txt", DNS_T_TXT }, { "zns", T_ZNS },
};

typedef struct dnsdb_query {
	char outsep;          /* between records */
	int fieldsep;         /* between fields: -1 none given, 0 concatenate (";"), else the char */
	enum defer_mode defer;
	enum dnssec_mode dnssec;
	dns_opts opts;
	int type;
	sv keys;
} dnsdb_query;

static void *dnsdb_open(const char *filename, xbuf *errmsg)
{
	static int dummy;
	return &dummy;
}

static sv skip_space(sv s)
{
	while (s.len && isspace((unsigned char)s.p[0]))
		s = sv_sub(s, 1, s.len);
	return s;
}

/* A time in Exim's notation ("5s", "1m30s", "10"); -1 if bad. */
static long parse_time(sv t)
{
	long total = 0;
	if (t.len == 0)
		return -1;
	while (t.len) {
		long n = 0;
		size_t i = 0;
		while (i < t.len && isdigit((unsigned char)t.p[i]) && n < 100000000)
			n = n * 10 + (t.p[i++] - '0');
		if (i == 0)
			return -1;
		long mult = 1;
		if (i < t.len) {
			switch (t.p[i]) {
			case 's': mult = 1; break;
			case 'm': mult = 60; break;
			case 'h': mult = 3600; break;
			case 'd': mult = 86400; break;
			case 'w': mult = 604800; break;
			default: return -1;
			}
			i++;
		}
		total += n * mult;
		t = sv_sub(t, i, t.len);
	}
	return total;
}

static bool parse_query(sv q, dnsdb_query *out, xbuf *err)
{
	*out = (dnsdb_query){ .outsep = '\n', .fieldsep = -1, .defer = DEFER_LAX, .dnssec = DNSSEC_LAX,
		.opts = DNS_OPTS_DEFAULT, .type = DNS_T_TXT };
	q = skip_space(q);
	if (q.len >= 1 && q.p[0] == '>') {
		if (q.len >= 2)
			out->outsep = q.p[1];
		q = sv_sub(q, 2, q.len);
		if (q.len >= 2 && q.p[0] == ',') {
			out->fieldsep = (unsigned char)q.p[1];
			q = sv_sub(q, 2, q.len);
		} else if (q.len >= 1 && q.p[0] == ';') {
			out->fieldsep = 0;
			q = sv_sub(q, 1, q.len);
		}
		q = skip_space(q);
	}
	/* Modifiers, each followed by a comma. */
	for (;;) {
		const char *comma = memchr(q.p, ',', q.len);
		if (!comma)
			break;
		sv word = sv_sub(q, 0, (size_t)(comma - q.p));
		if (sv_eqi(word, SV_LIT("defer_strict")))
			out->defer = DEFER_STRICT;
		else if (sv_eqi(word, SV_LIT("defer_lax")))
			out->defer = DEFER_LAX;
		else if (sv_eqi(word, SV_LIT("defer_never")))
			out->defer = DEFER_NEVER;
		else if (sv_eqi(word, SV_LIT("dnssec_strict")))
			out->dnssec = DNSSEC_STRICT;
		else if (sv_eqi(word, SV_LIT("dnssec_lax")))
			out->dnssec = DNSSEC_LAX;
		else if (sv_eqi(word, SV_LIT("dnssec_never")))
			out->dnssec = DNSSEC_NEVER;
		else if (word.len > 8 && strncasecmp(word.p, "retrans_", 8) == 0) {
			long t = parse_time(sv_sub(word, 8, word.len));
			if (t < 0) {
				xbuf_puts(err, "unsupported dnsdb timeout value");
				return false;
			}
			out->opts.retrans = t > 0 ? (int)(t > 3600 ? 3600 : t) : 0;
		} else if (word.len > 6 && strncasecmp(word.p, "retry_", 6) == 0) {
			long long n;
			if (!sv_to_long(sv_sub(word, 6, word.len), &n) || n < 0) {
				xbuf_puts(err, "dnsdb modifier syntax error");
				return false;
			}
			out->opts.retry = n > 10 ? 10 : (int)n;
		} else
			break;
		q = skip_space(sv_sub(q, (size_t)(comma - q.p) + 1, q.len));
	}
	const char *eq = memchr(q.p, '=', q.len);
	if (eq) {
		sv tname = sv_trim(sv_sub(q, 0, (size_t)(eq - q.p)));
		size_t i;
		for (i = 0; i < sizeof types / sizeof types[0]; i++)
			if (sv_eqi(tname, sv_cstr(types[i].name)))
				break;
		if (i == sizeof types / sizeof types[0]) {
			xbuf_puts(err, "unsupported DNS record type");
			return false;
		}
		out->type = types[i].type;
		q = sv_sub(q, (size_t)(eq - q.p) + 1, q.len);
	}
	out->keys = sv_trim(q);
	out->opts.dnssec = out->dnssec == DNSSEC_NEVER ? 0 : 1;
	return true;
}

/* Append one field separator (per the ",F" / ";" choice; dflt when none was given). */
static void put_fieldsep(xbuf *out, const dnsdb_query *q, char dflt)
{
	if (q->fieldsep > 0)
		xbuf_putc(out, (char)q->fieldsep);
	else if (q->fieldsep < 0 && dflt)
		xbuf_putc(out, dflt);
}

static void put_record(xbuf *out, const dnsdb_query *q, int qtype, const dns_rr *rr)
{
	switch (qtype) {
	case DNS_T_TXT:
	case DNS_T_SPF:
		if (q->fieldsep < 0 && qtype == DNS_T_TXT) {
			if (rr->nstrings)
				xbuf_putsv(out, rr->strings[0]);
			break;
		}
		for (size_t i = 0; i < rr->nstrings; i++) {
			if (i && q->fieldsep > 0)
				xbuf_putc(out, (char)q->fieldsep);
			xbuf_putsv(out, rr->strings[i]);
		}
		break;
	case DNS_T_MX:
		xbuf_printf(out, "%u", rr->pref);
		put_fieldsep(out, q, ' ');
		xbuf_putsv(out, rr->text);
		break;
	case DNS_T_SRV:
		xbuf_printf(out, "%u", rr->pref);
		put_fieldsep(out, q, ' ');
		xbuf_printf(out, "%u", rr->weight);
		put_fieldsep(out, q, ' ');
		xbuf_printf(out, "%u", rr->port);
		put_fieldsep(out, q, ' ');
		xbuf_putsv(out, rr->text);
		break;
	case DNS_T_TLSA:
		xbuf_printf(out, "%u", rr->tlsa_usage);
		put_fieldsep(out, q, ' ');
		xbuf_printf(out, "%u", rr->tlsa_selector);
		put_fieldsep(out, q, ' ');
		xbuf_printf(out, "%u", rr->tlsa_mtype);
		put_fieldsep(out, q, ' ');
		xbuf_putsv(out, rr->text);
		break;
	case DNS_T_SOA:
		xbuf_putsv(out, rr->text);
		if (q->fieldsep >= 0) {
			put_fieldsep(out, q, 0);
			xbuf_putsv(out, rr->soa_rname);
			uint32_t nums[5] = { rr->soa_serial, rr->soa_refresh, rr->soa_retry, rr->soa_expire,
				rr->soa_minimum };
			for (int i = 0; i < 5; i++) {
				put_fieldsep(out, q, 0);
				xbuf_printf(out, "%u", nums[i]);
			}
		}
		break;
	default: /* A, AAAA, CNAME, NS, PTR, and MXH's host */
		xbuf_putsv(out, rr->text);
		break;
	}
}

typedef struct dnsdb_state {
	const dnsdb_query *q;
	xbuf *out;
	bool any_data, deferred;
	bool insecure;       /* some answer lacked the AD bit ($lookup_dnssec_authenticated = no) */
	size_t nrecords;
} dnsdb_state;

/* Start a record: the record separator before every record but the first. */
static void next_record(dnsdb_state *st)
{
	if (st->nrecords++)
		xbuf_putc(st->out, st->q->outsep);
	st->any_data = true;
}

/* Outcome of one DNS question for the defer logic: 0 data or none, 1 stop with DEFER. */
static int note_result(dnsdb_state *st, dns_rc rc, const dns_answer *ans)
{
	bool temp = rc == DNS_AGAIN || rc == DNS_FAIL;
	if (rc == DNS_SUCCEED && st->q->dnssec == DNSSEC_STRICT && !ans->authentic)
		temp = true;
	if (!temp)
		return 0;
	if (st->q->defer == DEFER_STRICT)
		return 1;
	if (st->q->defer == DEFER_LAX)
		st->deferred = true;
	return 0;
}

static void emit(dnsdb_state *st, int qtype, const dns_answer *ans)
{
	for (const dns_rr *rr = ans->rrs; rr; rr = rr->next) {
		next_record(st);
		put_record(st->out, st->q, qtype, rr);
	}
}

/* One question; returns 1 when the whole lookup must defer. */
static int ask(dnsdb_state *st, sv name, int type, int outtype, dns_answer *ans, dns_rc *rcp)
{
	dns_opts o = st->q->opts;
	if (type == DNS_T_CNAME)
		o.no_cname = true;
	dns_rc rc = dns_lookup_opts(pool_search, name, type, &o, ans);
	if (rcp)
		*rcp = rc;
	if (note_result(st, rc, ans))
		return 1;
	if (rc == DNS_SUCCEED && !ans->authentic)
		st->insecure = true;
	if (rc == DNS_SUCCEED && !(st->q->dnssec == DNSSEC_STRICT && !ans->authentic))
		emit(st, outtype, ans);
	return 0;
}

/* ZNS and SOA: drop leading labels until something is found (never the root). */
static int ask_walk(dnsdb_state *st, sv name, int type, int outtype)
{
	while (name.len) {
		dns_answer ans;
		dns_rc rc;
		if (ask(st, name, type, outtype, &ans, &rc))
			return 1;
		if (rc != DNS_NOMATCH && rc != DNS_NODATA)
			return 0;
		const char *dot = memchr(name.p, '.', name.len);
		if (!dot)
			break;
		name = sv_sub(name, (size_t)(dot - name.p) + 1, name.len);
	}
	return 0;
}

/* CSA (draft-ietf-marid-csv-csa): the SRV records at _client._smtp.<domain> with priority
 * (the CSA version) 1, as "<code> <target>": weight 0 or 1 gives N (not authorized), 2 Y, more ?.
 * Exim 4.96's dnsdb gives nothing for records found at parent domains (observed: a parent's
 * "subdomains need explicit authorization" assertion yields no data), so only the domain itself
 * is asked; the parent search belongs to the ACL's verify=csa. A refused or malformed name means
 * nothing found, as in Exim. */
static int ask_csa(dnsdb_state *st, sv domain)
{
	xbuf name;
	xbuf_init(&name, pool_scratch);
	xbuf_puts(&name, "_client._smtp.");
	xbuf_putsv(&name, domain);
	dns_answer ans;
	dns_opts o = st->q->opts;
	dns_rc rc = dns_lookup_opts(pool_search, xbuf_sv(&name), DNS_T_SRV, &o, &ans);
	if (rc == DNS_FAIL)
		return 0;
	if (note_result(st, rc, &ans))
		return 1;
	if (rc != DNS_SUCCEED)
		return 0;
	for (const dns_rr *rr = ans.rrs; rr; rr = rr->next) {
		if (rr->pref != 1)
			continue;
		next_record(st);
		xbuf_printf(st->out, "%c ", rr->weight < 2 ? 'N' : rr->weight == 2 ? 'Y' : '?');
		xbuf_putsv(st->out, rr->text);
	}
	return 0;
}

static int one_key(dnsdb_state *st, sv key)
{
	int type = st->q->type;
	xbuf rev;
	xbuf_init(&rev, pool_scratch);
	if (type == DNS_T_PTR || type == T_CSA) {
		sv ipkey = key;
		if (type == T_CSA && ipkey.len > 2 && ipkey.p[0] == '[' && ipkey.p[ipkey.len - 1] == ']')
			ipkey = sv_sub(ipkey, 1, ipkey.len - 2);
		if ((type == DNS_T_PTR || conf_main.dns_csa_use_reverse) && dns_reverse_name(ipkey, &rev))
			key = xbuf_sv(&rev);
	}
	dns_answer ans;
	switch (type) {
	case T_APLUS:
		if (ask(st, key, DNS_T_AAAA, DNS_T_AAAA, &ans, NULL))
			return 1;
		return ask(st, key, DNS_T_A, DNS_T_A, &ans, NULL);
	case T_MXH:
		return ask(st, key, DNS_T_MX, T_MXH, &ans, NULL);
	case T_ZNS:
		return ask_walk(st, key, DNS_T_NS, DNS_T_NS);
	case DNS_T_SOA:
		return ask_walk(st, key, DNS_T_SOA, DNS_T_SOA);
	case T_CSA:
		return ask_csa(st, key);
	default:
		return ask(st, key, type, type, &ans, NULL);
	}
}

static int dnsdb_find(void *handle, const char *filename, sv query, xbuf *result, xbuf *errmsg,
	unsigned *do_cache, const char *opts)
{
	dnsdb_query q;
	if (!parse_query(query, &q, errmsg))
		return SEARCH_DEFER;
	dnsdb_state st = { .q = &q, .out = result };
	size_t start = result->len;
	xbuf out;
	xbuf_init(&out, pool_scratch);
	st.out = &out;
	ip_addr ip6;
	bool single = q.type == DNS_T_PTR && q.keys.len && q.keys.p[0] != '<' && ip_parse(q.keys, &ip6) &&
		ip6.family == 6;
	if (single) {
		if (one_key(&st, q.keys))
			goto defer;
	} else {
		list_iter it;
		xbuf key;
		xbuf_init(&key, pool_scratch);
		list_iter_init(&it, q.keys, 0);
		while (list_next(&it, &key))
			if (key.len && one_key(&st, xbuf_sv(&key)))
				goto defer;
	}
	/* As Exim 4.96: unset with dnssec_never, else whether every answer was authenticated. */
	search_set_dnssec_authenticated(q.dnssec == DNSSEC_NEVER ? NULL : st.insecure ? "no" : "yes");
	if (!st.any_data) {
		if (st.deferred)
			goto defer;
		return SEARCH_FAIL;
	}
	xbuf_truncate(result, start);
	xbuf_putsv(result, xbuf_sv(&out));
	return SEARCH_OK;
defer:
	*do_cache = 0;
	return SEARCH_DEFER;
}

const lookup_info lookup_dnsdb = {
	.name = "dnsdb", .type = LOOKUP_QUERYSTYLE,
	.open = dnsdb_open, .find = dnsdb_find,
};
