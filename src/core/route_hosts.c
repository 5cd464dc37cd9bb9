/* Host lists of remote routes: finding addresses (byname / bydns), ignore_target_hosts, the
 * "is this host me?" check and the router's self option (Exim 4.96 "Generic options for
 * routers": self; the manualroute and dnslookup chapters). */
#include <ifaddrs.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "core/addr.h"
#include "core/dns.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "search/match.h"
#include "search/search.h"

void route_log(route_ctx *c, unsigned which, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (c->log_main) {
		char *text = arena_vprintf(c->a, fmt, ap);
		c->log_main(c->log_ctx, which, text);
	} else {
		log_vwrite(which, fmt, ap);
	}
	va_end(ap);
}

unsigned route_random(unsigned n)
{
	unsigned v = 0;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
		v = (unsigned)random(); /* no entropy yet: order matters little */
	return v % n;
}

/* "name", "name:port" (written "name::port" in a colon list), "[ip]:port", "ip" (IPv6). */
route_host *route_host_parse(arena *a, sv item)
{
	route_host *h = arena_calloc(a, 1, sizeof *h);
	h->mx = -1;
	h->port = -1;
	sv name = item, port = SV_NULL;
	if (item.len && item.p[0] == '[') {
		const char *close = memchr(item.p, ']', item.len);
		if (close) {
			size_t ci = (size_t)(close - item.p);
			name = sv_sub(item, 1, ci - 1);
			if (ci + 1 < item.len && item.p[ci + 1] == ':')
				port = sv_sub(item, ci + 2, item.len);
		}
	} else {
		const char *colon = memchr(item.p, ':', item.len);
		ip_addr ip;
		if (colon && memchr(colon + 1, ':', item.len - (size_t)(colon + 1 - item.p)) == NULL && !ip_parse(item, &ip)) {
			name = sv_sub(item, 0, (size_t)(colon - item.p));
			port = sv_sub(item, (size_t)(colon - item.p) + 1, item.len);
		}
	}
	long long pn;
	if (port.p && sv_to_long(port, &pn) && pn > 0 && pn < 65536)
		h->port = (int)pn;
	h->name = name;
	return h;
}

bool route_ip_is_local(sv text)
{
	ip_addr ip;
	if (!ip_parse(text, &ip))
		return false;
	if (ip.family == 4 && ip.b[0] == 127)
		return true;
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) != 0)
		return false;
	bool found = false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET && ip.family == 4)
			found = memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip.b, 4) == 0;
		else if (i->ifa_addr->sa_family == AF_INET6 && ip.family == 6)
			found = memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ip.b, 16) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

/* The addresses getaddrinfo() gives for a name (/etc/hosts, then whatever NSS says), IPv6 first
 * as Exim lists them. DNS_SUCCEED, DNS_NOMATCH or DNS_AGAIN. */
static dns_rc byname(arena *a, sv host, sv **addrs, size_t *n)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	char *name = sv_dup(a, host);
	int rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0)
		return rc == EAI_AGAIN ? DNS_AGAIN : DNS_NOMATCH;
	size_t count = 0;
	for (struct addrinfo *i = res; i; i = i->ai_next)
		count++;
	*addrs = arena_calloc(a, count ? count : 1, sizeof(sv));
	*n = 0;
	for (int fam = 6; fam >= 4; fam -= 2)
		for (struct addrinfo *i = res; i; i = i->ai_next) {
			ip_addr ip = { 0 };
			if (fam == 6 && i->ai_family == AF_INET6) {
				ip.family = 6;
				memcpy(ip.b, &((struct sockaddr_in6 *)i->ai_addr)->sin6_addr, 16);
			} else if (fam == 4 && i->ai_family == AF_INET) {
				ip.family = 4;
				memcpy(ip.b, &((struct sockaddr_in *)i->ai_addr)->sin_addr, 4);
			} else {
				continue;
			}
			xbuf t;
			xbuf_init(&t, a);
			ip_format(&ip, &t);
			bool dup = false;
			for (size_t k = 0; k < *n; k++)
				dup = dup || sv_eq((*addrs)[k], xbuf_sv(&t));
			if (!dup)
				(*addrs)[(*n)++] = xbuf_sv(&t);
		}
	freeaddrinfo(res);
	return *n ? DNS_SUCCEED : DNS_NOMATCH;
}

static bool ignored(sv address, sv ignore)
{
	if (!ignore.len)
		return false;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	arena_mark m = arena_getmark(pool_scratch);
	bool r = match_isinlist(address, ignore, 0, MATCH_HOST, false, NULL, &err) == SEARCH_OK;
	arena_reset(pool_scratch, m);
	return r;
}

route_rc route_hosts_find(arena *a, route_host **list, route_lookup how, sv ignore, int missing,
	sv *failed_host)
{
	route_host **pp = list;
	while (*pp) {
		route_host *h = *pp;
		ip_addr ip;
		sv *addrs = NULL;
		size_t n = 0;
		dns_rc rc;
		if (h->address.len || ip_parse(h->name, &ip)) {
			addrs = arena_alloc(a, sizeof *addrs);
			addrs[0] = h->address.len ? h->address : h->name;
			n = 1;
			rc = DNS_SUCCEED;
		} else if (how == ROUTE_LOOKUP_BYNAME) {
			rc = byname(a, h->name, &addrs, &n);
		} else {
			rc = dns_host_addresses(a, h->name, &addrs, &n);
			if (how == ROUTE_LOOKUP_DEFAULT && (rc == DNS_NOMATCH || rc == DNS_NODATA || rc == DNS_FAIL))
				rc = byname(a, h->name, &addrs, &n);
		}
		size_t kept = 0;
		for (size_t i = 0; rc == DNS_SUCCEED && i < n; i++)
			if (!ignored(addrs[i], ignore))
				addrs[kept++] = addrs[i];
		bool all_ignored = rc == DNS_SUCCEED && kept == 0;
		if (all_ignored)
			rc = DNS_NOMATCH;
		if (rc != DNS_SUCCEED && missing == ROUTE_MISSING_KEEP && !all_ignored && rc != DNS_AGAIN) {
			h->unusable = true;
			h->address = SV_NULL;
			pp = &h->next;
			continue;
		}
		if (rc != DNS_SUCCEED) {
			if (missing != ROUTE_MISSING_FAIL && rc != DNS_AGAIN) {
				*pp = h->next; /* dropped, as host_find_failed = ignore does */
				continue;
			}
			*failed_host = h->name;
			return rc == DNS_AGAIN ? ROUTE_DEFER : ROUTE_FAIL;
		}
		/* One entry per address, in the order found. */
		route_host *last = h;
		h->address = addrs[0];
		for (size_t i = 1; i < kept; i++) {
			route_host *x = arena_alloc(a, sizeof *x);
			*x = *h;
			x->address = addrs[i];
			x->next = last->next;
			last->next = x;
			last = x;
		}
		pp = &last->next;
	}
	return ROUTE_OK;
}

sv route_ignore_list(route_ctx *c, const driver_instance *r, xp_env *env)
{
	const char *ignore = route_opt_str(r, "ignore_target_hosts");
	if (!ignore)
		return SV_NULL;
	xbuf err;
	xbuf_init(&err, c->a);
	sv list;
	int rc = route_expand(env, ignore, &list, &err);
	if (rc == XP_OK)
		return list;
	if (rc == XP_ERROR)
		route_log(c, LOG_MAIN | LOG_PANIC, "failed to expand \"%s\" while checking a list: %s", ignore,
			xbuf_cstr(&err));
	return SV_NULL;
}

bool route_hosts_ignore(route_host **list, sv ignore, xp_env *env)
{
	if (ignore.len) {
		for (route_host **pp = list; *pp;) {
			xbuf err;
			xbuf_init(&err, env->a);
			if ((*pp)->address.len &&
				match_isinlist((*pp)->address, ignore, 0, MATCH_HOST, false, NULL, &err) == SEARCH_OK)
				*pp = (*pp)->next;
			else
				pp = &(*pp)->next;
		}
	}
	return *list != NULL;
}

static bool host_is_local(const route_host *h)
{
	if (route_ip_is_local(h->address))
		return true;
	const char *treat = conf_main_string("hosts_treat_as_local");
	if (!treat || !*treat)
		return false;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	return match_isinlist(h->name, sv_cstr(treat), 0, MATCH_DOMAIN, true, NULL, &err) == SEARCH_OK;
}

bool route_hosts_local_check(route_host **list)
{
	for (route_host **pp = list; *pp; pp = &(*pp)->next) {
		if (!host_is_local(*pp))
			continue;
		if (pp == list)
			return true;
		/* A less preferred MX (or a later host) than one that is us: drop it and those after. */
		int pref = (*pp)->mx;
		route_host **cut = list;
		while (*cut && *cut != *pp && (pref < 0 || (*cut)->mx < pref))
			cut = &(*cut)->next;
		*cut = NULL;
		return *list == NULL;
	}
	return false;
}

route_rc route_self_action(route_ctx *c, const driver_instance *r, address_item *a, sv hostname,
	const char *what)
{
	const char *self = route_opt_str(r, "self");
	if (!self)
		self = "freeze";
	if (strcmp(self, "send") == 0)
		return ROUTE_OK;
	if (strcmp(self, "pass") == 0)
		return ROUTE_PASS;
	if (strcmp(self, "fail") == 0) {
		a->message = sv_cstr(what);
		return ROUTE_FAIL;
	}
	if (strncmp(self, "reroute:", 8) == 0) {
		const char *dom = self + 8;
		if (strncmp(dom, "rewrite:", 8) == 0)
			dom += 8;
		xbuf na;
		xbuf_init(&na, c->a);
		xbuf_putsv(&na, a->cc_local_part);
		xbuf_putc(&na, '@');
		xbuf_puts(&na, dom);
		address_item *child = route_child_address(c, a, xbuf_sv(&na), ADDR_MAIL);
		route_queue(c, child);
		return ROUTE_REROUTED;
	}
	if (strcmp(self, "freeze") == 0) {
		if (c->verify_host.len)
			route_log(c, LOG_MAIN, "%s: " SV_FMT " (while verifying <" SV_FMT "> from host " SV_FMT ")", what,
				SV_ARG(hostname), SV_ARG(a->address), SV_ARG(c->verify_host));
		else
			route_log(c, LOG_MAIN, "%s: " SV_FMT " (while routing <" SV_FMT ">)", what, SV_ARG(hostname),
				SV_ARG(a->address));
	}
	a->message = sv_cstr(what);
	return ROUTE_DEFER;
}
