/* Host-list items. The subject is the host's IP address ("" = no remote host); its name is
 * ctx->host_name when known. Items: "" (local caller), "*", IP addresses and CIDR nets, "@[]"
 * (an address of a local interface), net[N]-type;data (lookup keyed by the address, masked to N
 * bits), type;data (keyed by the host name; by the address when no name is known, as
 * ${if match_ip} does), and name patterns (*suffix, ^regex, plain names, "@") which need the host
 * name: without it, the item is "unknown" and +include_unknown / +ignore_unknown decide.
 * Plain names would need a forward DNS lookup; until the DNS layer exists they match only the
 * known host name. */
#include "search/match_internal.h"
#include "lib/log.h"

int (*match_host_lookup_hook)(const char *name, const char *ip, xbuf *err);

#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

/* Subject text to an address; a v4-mapped IPv6 address is matched as IPv4. */
static bool subject_ip(sv text, ip_addr *out)
{
	ip_addr a;
	if (!ip_parse(text, &a))
		return false;
	ip_unmap(&a, out);
	return true;
}

/* Lookup key for net-/netN- items: IPv4 dotted quad; IPv6 as eight unabbreviated lower-case
 * groups joined by sep ('.' normally, ':' for iplsearch); "/N" appended when masked. */
void match_ip_key(const ip_addr *ip, int maskbits, char sep, xbuf *out)
{
	ip_addr m = *ip;
	if (maskbits >= 0)
		ip_mask(&m, maskbits);
	if (m.family == 4)
		xbuf_printf(out, "%u.%u.%u.%u", m.b[0], m.b[1], m.b[2], m.b[3]);
	else
		for (int i = 0; i < 8; i++)
			xbuf_printf(out, "%s%02x%02x", i ? (sep == ':' ? ":" : ".") : "", m.b[2 * i], m.b[2 * i + 1]);
	if (maskbits >= 0)
		xbuf_printf(out, "/%d", maskbits);
}

static bool is_local_interface(const ip_addr *ip)
{
	struct ifaddrs *ifs, *i;
	if (getifaddrs(&ifs) != 0)
		return false;
	bool found = false;
	for (i = ifs; i && !found; i = i->ifa_next) {
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

/* The host name is needed but not known. */
static int unknown_name(match_walk *w)
{
	if (w->include_unknown)
		return SEARCH_OK;
	if (w->ignore_unknown)
		return SEARCH_FAIL;
	return MATCH_UNKNOWN_STOP;
}

/* The host's name could not be found: Exim 4.96 logs an acceptance by +include_unknown. */
static int name_not_found(match_walk *w, sv subject)
{
	if (w->include_unknown)
		log_write(LOG_MAIN, "failed to find host name for " SV_FMT ": accepted by +include_unknown",
			SV_ARG(subject));
	return unknown_name(w);
}

int match_host_item(match_walk *w, sv subject, sv item)
{
	const match_ctx *ctx = w->ctx;
	if (item.len == 0)
		return subject.len == 0 ? SEARCH_OK : SEARCH_FAIL;
	if (sv_eq_cstr(item, "*"))
		return SEARCH_OK;
	if (subject.len == 0)
		return SEARCH_FAIL; /* no remote host: only "" and "*" apply */
	ip_addr ip, net;
	int bits;
	if (!subject_ip(subject, &ip))
		return SEARCH_FAIL;

	if (sv_eq_cstr(item, "@[]"))
		return is_local_interface(&ip) ? SEARCH_OK : SEARCH_FAIL;

	/* An address or a network. An item that looks like one but is malformed never matches. */
	/* Items are not unmapped: Exim 4.96 never matches "::ffff:a.b.c.d" items (the subject is). */
	if (ip_parse_cidr(item, &net, &bits) || ip_parse(item, &net)) {
		if (!memchr(item.p, '/', item.len))
			bits = ip_max_bits(&net);
		return net.family == ip.family && ip_in_net(&ip, &net, bits) ? SEARCH_OK : SEARCH_FAIL;
	}
	{
		const char *slash = memchr(item.p, '/', item.len);
		if (slash && item.p[0] != '/' && ip_parse(sv_sub(item, 0, (size_t)(slash - item.p)), &net)) {
			/* A mask longer than the address (1.2.3.4/33, /999) means every bit, as in Exim
			 * 4.96. Other malformed masks never match; Exim reads "1.2.3.4/" as /0 (match
			 * everything), which is kept out on purpose (tests/fuzz/FINDINGS.md). */
			sv num = sv_sub(item, (size_t)(slash - item.p) + 1, item.len);
			bool digits = num.len > 0;
			for (size_t i = 0; i < num.len && digits; i++)
				digits = num.p[i] >= '0' && num.p[i] <= '9';
			if (digits && net.family == ip.family && ip_in_net(&ip, &net, ip_max_bits(&net)))
				return SEARCH_OK;
			return SEARCH_FAIL;
		}
	}

	const char *semi = memchr(item.p, ';', item.len);
	if (semi && item.p[0] != '^') {
		sv prefix = sv_sub(item, 0, (size_t)(semi - item.p));
		sv data = sv_sub(item, (size_t)(semi - item.p) + 1, item.len);
		int maskbits = -2; /* -2: not net-; -1: net- without a mask */
		if (sv_starts(prefix, "net")) {
			size_t i = 3;
			long n = 0;
			bool digits = false;
			while (i < prefix.len && isdigit((unsigned char)prefix.p[i]) && n < 1000) {
				n = n * 10 + (prefix.p[i++] - '0');
				digits = true;
			}
			if (i < prefix.len && prefix.p[i] == '-') {
				maskbits = digits ? (int)n : -1;
				prefix = sv_sub(prefix, i + 1, prefix.len);
			}
		}
		search_spec spec;
		if (!match_parse_lookup(prefix, &spec, w->err))
			return SEARCH_DEFER;
		if (!(spec.li->type & LOOKUP_SINGLEKEY))
			return match_lookup_item(w, &spec, SV_NULL, data); /* net- has no effect */
		xbuf key;
		xbuf_init(&key, pool_scratch);
		if (maskbits != -2) {
			int max = ip_max_bits(&ip);
			if (maskbits > max)
				maskbits = max;
			bool colons = strcmp(spec.li->name, "iplsearch") == 0;
			match_ip_key(&ip, maskbits, colons ? ':' : '.', &key);
		} else if (ctx && ctx->host_name) {
			xbuf_puts(&key, ctx->host_name);
		} else if (ctx && ctx->host_name_required) {
			return name_not_found(w, subject);   /* Exim 4.96 does not fall back to the address */
		} else {
			xbuf_putsv(&key, subject);
		}
		return match_lookup_item(w, &spec, xbuf_sv(&key), data);
	}

	/* Everything else matches by host name. */
	const char *name = ctx ? ctx->host_name : NULL;
	if (sv_eq_cstr(item, "@")) {
		item = sv_cstr(ctx && ctx->primary_hostname ? ctx->primary_hostname : "");
		if (item.len == 0)
			return SEARCH_FAIL;
	}
	if (item.p[0] != '*' && item.p[0] != '^' && match_host_lookup_hook) {
		/* A plain name: its addresses are compared with the subject's. */
		int r = match_host_lookup_hook(sv_dup(pool_scratch, item), sv_dup(pool_scratch, subject), w->err);
		if (r == MATCH_NAME_UNKNOWN)
			return unknown_name(w);
		return r;
	}
	if (!name || !*name)
		return name_not_found(w, subject);
	sv n = sv_cstr(name);
	if (item.p[0] == '*')
		return match_suffix(n, sv_sub(item, 1, item.len), true) ? SEARCH_OK : SEARCH_FAIL;
	if (item.p[0] == '^') {
		bool m;
		if (!match_regex(n, item, true, &m, w->err))
			return SEARCH_DEFER;
		return m ? SEARCH_OK : SEARCH_FAIL;
	}
	return sv_eqi(n, item) ? SEARCH_OK : SEARCH_FAIL;
}
