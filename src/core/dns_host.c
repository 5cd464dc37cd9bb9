/* Host lookups on top of the resolver: the reverse name of an address, a host's addresses, the
 * client's name with forward confirmation (Exim's host_lookup: PTR names are kept only if they
 * resolve back to the address), and the DNS-backed items of host and domain lists. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "conf/main_options.h"
#include "core/dns_internal.h"
#include "lib/ip.h"
#include "lib/list.h"
#include "search/match.h"
#include "search/search.h"

bool dns_reverse_name(sv ip, xbuf *out)
{
	ip_addr a, u;
	sv zone;
	if (!ip_parse_zone(ip, &a, &zone))
		return false;
	ip_unmap(&a, &u); /* a v4-mapped client is looked up in in-addr.arpa, as Exim does */
	ip_reverse(&u, out);
	xbuf_puts(out, u.family == 4 ? ".in-addr.arpa" : ".ip6.arpa");
	return true;
}

/* disable_ipv6, or dns_ipv4_lookup: domains for which AAAA records are not looked up. */
static bool ipv4_only(sv host)
{
	if (conf_main.disable_ipv6)
		return true;
	if (!conf_main.dns_ipv4_lookup || !*conf_main.dns_ipv4_lookup)
		return false;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	return match_isinlist(host, sv_cstr(conf_main.dns_ipv4_lookup), 0, MATCH_DOMAIN, true, NULL,
		&err) == SEARCH_OK;
}

/* secure (may be NULL): false unless every answer with records was authenticated. */
static dns_rc host_addresses(arena *a, sv host, sv **addrs, size_t *naddrs, bool *secure)
{
	*addrs = NULL;
	*naddrs = 0;
	int types[2] = { DNS_T_AAAA, DNS_T_A };
	dns_answer ans[2];
	dns_rc rcs[2] = { DNS_NODATA, DNS_NODATA };
	size_t total = 0;
	for (int i = ipv4_only(host) ? 1 : 0; i < 2; i++) {
		rcs[i] = dns_lookup(a, host, types[i], &ans[i]);
		if (rcs[i] == DNS_SUCCEED)
			for (dns_rr *rr = ans[i].rrs; rr; rr = rr->next)
				total++;
	}
	if (total == 0) {
		if (rcs[0] == DNS_AGAIN || rcs[1] == DNS_AGAIN)
			return DNS_AGAIN;
		if (rcs[1] == DNS_NOMATCH && (rcs[0] == DNS_NOMATCH || ipv4_only(host)))
			return DNS_NOMATCH;
		return rcs[1] == DNS_FAIL ? DNS_FAIL : DNS_NODATA;
	}
	*addrs = arena_calloc(a, total, sizeof(sv));
	for (int i = 0; i < 2; i++)
		if (rcs[i] == DNS_SUCCEED) {
			if (secure && !ans[i].authentic)
				*secure = false;
			for (dns_rr *rr = ans[i].rrs; rr; rr = rr->next)
				(*addrs)[(*naddrs)++] = rr->text;
		}
	return DNS_SUCCEED;
}

dns_rc dns_host_addresses(arena *a, sv host, sv **addrs, size_t *naddrs)
{
	return host_addresses(a, host, addrs, naddrs, NULL);
}

/* Does name resolve to ip? 1 yes, 0 no, -1 temporary failure. secure (may be NULL) is
 * cleared unless the answers were authenticated. */
static int confirms(arena *a, sv name, const ip_addr *ip, bool *secure)
{
	sv *addrs;
	size_t n;
	bool sec = true;
	dns_rc rc = host_addresses(a, name, &addrs, &n, &sec);
	if (secure && !sec)
		*secure = false;
	if (rc == DNS_AGAIN)
		return -1;
	for (size_t i = 0; i < n; i++) {
		ip_addr got, u;
		if (ip_parse(addrs[i], &got)) {
			ip_unmap(&got, &u);
			if (ip_equal(&u, ip))
				return 1;
		}
	}
	return 0;
}

static sv lower_copy(arena *a, sv s)
{
	char *p = sv_dup(a, s);
	for (size_t i = 0; i < s.len; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] + 32);
	sv r = sv_make(p, s.len);
	r.taint = 1;
	return r;
}

/* byaddr: the system's own reverse lookup (/etc/hosts first), confirmed by its forward lookup. */
static dns_rc byaddr(arena *a, const ip_addr *ip, sv *name)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	if (ip->family == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, ip->b, 4);
		sl = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, ip->b, 16);
		sl = sizeof *in6;
	}
	char host[NI_MAXHOST];
	int r = getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, NULL, 0, NI_NAMEREQD);
	if (r == EAI_AGAIN)
		return DNS_AGAIN;
	if (r != 0)
		return DNS_NOMATCH;
	/* Exim confirms the name in the DNS, as for bydns: a name that only /etc/hosts knows
	 * (127.0.0.1 -> localhost) is not kept (observed with Exim 4.96 -d). */
	int c = confirms(a, sv_cstr(host), ip, NULL);
	if (c < 0)
		return DNS_AGAIN;
	*name = lower_copy(a, sv_cstr(host));   /* also when not confirmed: the failure names it */
	return c == 0 ? DNS_NODATA : DNS_SUCCEED;
}

/* secure: set when the PTR answer and the confirmation of the name kept were authenticated. */
static dns_rc bydns(arena *a, sv ipt, const ip_addr *ip, sv *name, sv **aliases, size_t *naliases, bool *secure)
{
	xbuf rev;
	xbuf_init(&rev, a);
	if (!dns_reverse_name(ipt, &rev))
		return DNS_FAIL;
	dns_answer ans;
	dns_rc rc = dns_lookup(a, xbuf_sv(&rev), DNS_T_PTR, &ans);
	if (rc != DNS_SUCCEED)
		return rc == DNS_NODATA ? DNS_NOMATCH : rc;
	size_t n = 0;
	for (dns_rr *rr = ans.rrs; rr; rr = rr->next)
		n++;
	sv *ok = arena_calloc(a, n, sizeof(sv));
	size_t nok = 0;
	bool again = false, first_secure = false;
	for (dns_rr *rr = ans.rrs; rr; rr = rr->next) {
		if (rr->text.len == 0)
			continue;
		bool sec = true;
		int c = confirms(a, rr->text, ip, &sec);
		if (c == 0)
			*name = lower_copy(a, rr->text);   /* the failure names the last one not confirmed */
		if (c < 0)
			again = true;
		else if (c > 0) {
			if (nok == 0)
				first_secure = sec;
			ok[nok++] = lower_copy(a, rr->text);
		}
	}
	if (nok == 0)
		return again ? DNS_AGAIN : DNS_NODATA;   /* names, none confirmed */
	*secure = ans.authentic && first_secure;
	*name = ok[0];
	*aliases = nok > 1 ? ok + 1 : NULL;
	*naliases = nok - 1;
	return DNS_SUCCEED;
}

sv dns_host_lookup_reason(arena *a, dns_rc rc, sv ip, sv name)
{
	xbuf r;
	xbuf_init(&r, a);
	if (rc == DNS_NODATA && name.len)
		xbuf_printf(&r, " (" SV_FMT " does not match any IP address for " SV_FMT ")", SV_ARG(ip), SV_ARG(name));
	else
		xbuf_puts(&r, " (failed to find host name from IP address)");
	return xbuf_sv(&r);
}

dns_rc dns_host_name_lookup(arena *a, sv ip, sv *name, sv **aliases, size_t *naliases)
{
	bool secure;
	return dns_host_name_lookup_secure(a, ip, name, aliases, naliases, &secure);
}

dns_rc dns_host_name_lookup_secure(arena *a, sv ip, sv *name, sv **aliases, size_t *naliases, bool *secure)
{
	*secure = false;
	*name = SV_NULL;
	*aliases = NULL;
	*naliases = 0;
	ip_addr raw, addr;
	sv zone;
	if (!ip_parse_zone(ip, &raw, &zone))
		return DNS_FAIL;
	ip_unmap(&raw, &addr);
	const char *order = conf_main.host_lookup_order ? conf_main.host_lookup_order : "bydns:byaddr";
	list_iter it;
	xbuf item;
	xbuf_init(&item, pool_scratch);
	list_iter_init(&it, sv_cstr(order), 0);
	dns_rc rc = DNS_NOMATCH;
	bool unconfirmed = false;
	while (list_next(&it, &item)) {
		if (sv_eqi(xbuf_sv(&item), SV_LIT("bydns")))
			rc = bydns(a, ip, &addr, name, aliases, naliases, secure);
		else if (sv_eqi(xbuf_sv(&item), SV_LIT("byaddr")))
			rc = byaddr(a, &addr, name);   /* the system's resolver: never counted secure */
		else
			continue;
		if (rc == DNS_SUCCEED || rc == DNS_AGAIN)
			return rc;
		if (rc == DNS_NODATA)
			unconfirmed = true;
	}
	return unconfirmed ? DNS_NODATA : DNS_NOMATCH;
}

/* ---- host and domain list items that need DNS ---- */

static bool is_local_address(const ip_addr *ip)
{
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) != 0)
		return false;
	bool found = false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET && ip->family == 4)
			found = memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip->b, 4) == 0;
		else if (i->ifa_addr->sa_family == AF_INET6 && ip->family == 6)
			found = memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ip->b, 16) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

int dns_match_mx(sv domain, sv item, xbuf *err)
{
	sv ignore = SV_NULL;
	const char *slash = memchr(item.p, '/', item.len);
	if (slash) {
		sv opt = sv_sub(item, (size_t)(slash - item.p) + 1, item.len);
		item = sv_sub(item, 0, (size_t)(slash - item.p));
		if (sv_starts(opt, "ignore="))
			ignore = sv_sub(opt, 7, opt.len);
	}
	int mode = sv_eq_cstr(item, "@mx_any") ? 0 : sv_eq_cstr(item, "@mx_primary") ? 1 :
		sv_eq_cstr(item, "@mx_secondary") ? 2 : -1;
	if (mode < 0)
		return SEARCH_FAIL;
	arena_mark m = arena_getmark(pool_scratch);
	dns_answer ans;
	dns_rc rc = dns_lookup(pool_scratch, domain, DNS_T_MX, &ans);
	int result = SEARCH_FAIL;
	if (rc == DNS_AGAIN) {
		xbuf_printf(err, "DNS lookup of \"" SV_FMT "\" deferred", SV_ARG(domain));
		result = SEARCH_DEFER;
		goto out;
	}
	if (rc != DNS_SUCCEED)
		goto out;
	unsigned lowest = 65536;
	for (dns_rr *rr = ans.rrs; rr; rr = rr->next)
		if (rr->pref < lowest)
			lowest = rr->pref;
	bool local_primary = false, local_other = false;
	for (dns_rr *rr = ans.rrs; rr; rr = rr->next) {
		sv *addrs;
		size_t n;
		if (dns_host_addresses(pool_scratch, rr->text, &addrs, &n) != DNS_SUCCEED)
			continue;
		for (size_t i = 0; i < n; i++) {
			ip_addr ip;
			if (!ip_parse(addrs[i], &ip) || !is_local_address(&ip))
				continue;
			if (ignore.len) {
				xbuf e2;
				xbuf_init(&e2, pool_scratch);
				if (match_isinlist(addrs[i], ignore, 0, MATCH_HOST, false, NULL, &e2) == SEARCH_OK)
					continue;
			}
			if (rr->pref == lowest)
				local_primary = true;
			else
				local_other = true;
		}
	}
	if ((mode == 0 && (local_primary || local_other)) || (mode == 1 && local_primary) ||
		(mode == 2 && !local_primary && local_other))
		result = SEARCH_OK;
out:
	arena_reset(pool_scratch, m);
	return result;
}

/* Does the system's resolver give name the address want (already unmapped)? */
static bool system_name_has(const char *name, const ip_addr *want)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (getaddrinfo(name, NULL, &hints, &ai) != 0)
		return false;
	bool found = false;
	for (struct addrinfo *i = ai; i && !found; i = i->ai_next) {
		ip_addr got, gu;
		memset(&got, 0, sizeof got);
		if (i->ai_family == AF_INET) {
			got.family = 4;
			memcpy(got.b, &((struct sockaddr_in *)i->ai_addr)->sin_addr, 4);
		} else if (i->ai_family == AF_INET6) {
			got.family = 6;
			memcpy(got.b, &((struct sockaddr_in6 *)i->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		ip_unmap(&got, &gu);
		found = ip_equal(&gu, want);
	}
	freeaddrinfo(ai);
	return found;
}

/* match_host_lookup_hook: does the plain host name in a host list have the address ip? */
static int host_list_name(const char *name, const char *ip, xbuf *err)
{
	ip_addr want, u;
	if (!ip_parse(sv_cstr(ip), &want))
		return SEARCH_FAIL;
	ip_unmap(&want, &u);
	arena_mark m = arena_getmark(pool_scratch);
	sv *addrs;
	size_t n;
	dns_rc rc = dns_host_addresses(pool_scratch, sv_cstr(name), &addrs, &n);
	int result;
	if (rc == DNS_AGAIN) {
		xbuf_printf(err, "DNS lookup of \"%s\" deferred", name);
		result = SEARCH_DEFER;
	} else if (rc != DNS_SUCCEED) {
		/* Exim asks the system's resolver (gethostbyname: /etc/hosts, then the DNS); a name the
		 * DNS does not know may still be in /etc/hosts ("localhost"). */
		result = system_name_has(name, &u) ? SEARCH_OK : MATCH_NAME_UNKNOWN;
	} else {
		result = SEARCH_FAIL;
		for (size_t i = 0; i < n && result != SEARCH_OK; i++) {
			ip_addr got, gu;
			if (ip_parse(addrs[i], &got)) {
				ip_unmap(&got, &gu);
				if (ip_equal(&gu, &u))
					result = SEARCH_OK;
			}
		}
	}
	arena_reset(pool_scratch, m);
	return result;
}

void dns_install_match_hooks(void)
{
	match_host_lookup_hook = host_list_name;
	match_mx_hook = dns_match_mx;
}
