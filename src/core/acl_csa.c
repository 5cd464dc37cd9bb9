/* "verify = csa[/domain]": Client SMTP Authorization (draft-ietf-marid-csv-csa), as Exim 4.96
 * implements it. The SRV record _client._smtp.<domain> (priority 1 = CSA version 1) says in its
 * weight whether the domain may send (0/1 no, 2 yes, 3 "cannot say"); a yes is only believed if
 * the client's address is one of the target's addresses. Without a record of its own, the
 * nearest parent's record (up to dns_csa_search_limit levels, never a top-level domain) may
 * assert in bit 0 of its port that every client must be explicitly authorized.
 *
 * The condition is false only for a definite failure; "unknown", "defer" and "ok" are true, and
 * $csa_status tells them apart. An IP literal or bare address as the domain is looked up in the
 * reverse tree when dns_csa_use_reverse is set. */
#include <string.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/acl_internal.h"
#include "core/dns.h"
#include "lib/arena.h"
#include "lib/ip.h"

typedef enum csa_rc {
	CSA_UNKNOWN, CSA_OK, CSA_DEFER_SRV, CSA_DEFER_ADDR, CSA_FAIL_EXPLICIT, CSA_FAIL_DOMAIN,
	CSA_FAIL_NOADDR, CSA_FAIL_MISMATCH,
} csa_rc;

static const char *const reasons[] = {
	[CSA_UNKNOWN] = "unknown", [CSA_OK] = "ok",
	[CSA_DEFER_SRV] = "deferred (SRV lookup failed)",
	[CSA_DEFER_ADDR] = "deferred (target address lookup failed)",
	[CSA_FAIL_EXPLICIT] = "failed (explicit authorization required)",
	[CSA_FAIL_DOMAIN] = "failed (host name not authorized)",
	[CSA_FAIL_NOADDR] = "failed (no authorized addresses)",
	[CSA_FAIL_MISMATCH] = "failed (client address mismatch)",
};

/* Find the CSA SRV records for domain or its nearest parent; *found is the name they belong to. */
static dns_rc find_srv(arena *a, sv domain, dns_answer *ans, sv *found)
{
	int limit = conf_main.dns_csa_search_limit;
	sv d = domain;
	for (int level = 0; level <= limit; level++) {
		xbuf q;
		xbuf_init(&q, a);
		xbuf_printf(&q, "_client._smtp." SV_FMT, SV_ARG(d));
		dns_rc rc = dns_lookup(a, xbuf_sv(&q), DNS_T_SRV, ans);
		if (rc == DNS_SUCCEED) {
			*found = d;
			return rc;
		}
		if (rc == DNS_AGAIN)
			return rc;
		/* Up one level, but never to a top-level domain. */
		const char *dot = memchr(d.p, '.', d.len);
		if (!dot)
			break;
		d = sv_sub(d, (size_t)(dot - d.p) + 1, d.len);
		if (!memchr(d.p, '.', d.len))
			break;
	}
	return DNS_NOMATCH;
}

static csa_rc csa_check(acl_ctx *c, sv domain, sv client_ip)
{
	arena *a = c->user_msg.a;
	xbuf rev;
	xbuf_init(&rev, a);
	/* [1.2.3.4], [IPv6:...] or a bare address: the reverse tree */
	sv lit = domain;
	if (lit.len > 2 && lit.p[0] == '[' && lit.p[lit.len - 1] == ']') {
		lit = sv_range(lit, 1, lit.len - 1);
		if (sv_starts(lit, "IPv6:") || sv_starts(lit, "ipv6:"))
			lit = sv_sub(lit, 5, lit.len);
	}
	ip_addr ip;
	if (ip_parse(lit, &ip)) {
		if (!conf_main.dns_csa_use_reverse)
			return CSA_UNKNOWN;
		ip_reverse(&ip, &rev);
		domain = xbuf_sv(&rev);
		while (domain.len && domain.p[domain.len - 1] == '.')
			domain.len--;
	}
	dns_answer ans;
	sv found = SV_NULL;
	dns_rc rc = find_srv(a, domain, &ans, &found);
	if (rc == DNS_AGAIN)
		return CSA_DEFER_SRV;
	if (rc != DNS_SUCCEED)
		return CSA_UNKNOWN;
	sv target = SV_NULL;
	for (dns_rr *rr = ans.rrs; rr; rr = rr->next) {
		if (rr->type != DNS_T_SRV || rr->pref != 1)
			continue; /* priority is the CSA version; only 1 is defined */
		if (!sv_eqi(found, domain))
			return rr->port & 1 ? CSA_FAIL_EXPLICIT : CSA_UNKNOWN;
		if (rr->weight < 2)
			return CSA_FAIL_DOMAIN;
		if (rr->weight > 2)
			continue;
		target = rr->text;
		break;
	}
	if (!target.p)
		return CSA_UNKNOWN;
	sv *addrs;
	size_t n = 0;
	dns_rc arc = dns_host_addresses(a, target, &addrs, &n);
	if (arc == DNS_AGAIN)
		return CSA_DEFER_ADDR;
	if (arc != DNS_SUCCEED || !n)
		return CSA_FAIL_NOADDR;
	ip_addr want;
	if (!ip_parse(client_ip, &want))
		return CSA_FAIL_MISMATCH;
	for (size_t i = 0; i < n; i++) {
		ip_addr got;
		if (ip_parse(addrs[i], &got) && ip_equal(&got, &want))
			return CSA_OK;
	}
	return CSA_FAIL_MISMATCH;
}

acl_result acl_verify_csa(acl_ctx *c, sv domain)
{
	acl_engine *e = acl_engine_of(c);
	const msg_origin *o = c->origin;
	if (!o || !o->host_address.len) {
		e->csa_status = SV_LIT("unknown");
		return ACL_OK; /* a local caller: nothing to authorize */
	}
	if (!domain.len)
		domain = o->helo_name.len ? o->helo_name : o->host_address;
	csa_rc rc = csa_check(c, domain, o->host_address);
	static const char *const status[] = {
		[CSA_UNKNOWN] = "unknown", [CSA_OK] = "ok", [CSA_DEFER_SRV] = "defer", [CSA_DEFER_ADDR] = "defer",
		[CSA_FAIL_EXPLICIT] = "fail", [CSA_FAIL_DOMAIN] = "fail", [CSA_FAIL_NOADDR] = "fail",
		[CSA_FAIL_MISMATCH] = "fail",
	};
	e->csa_status = sv_cstr(status[rc]);
	if (rc < CSA_FAIL_EXPLICIT)
		return ACL_OK;
	xbuf_reset(&c->log_msg);
	xbuf_printf(&c->log_msg, "client SMTP authorization %s", reasons[rc]);
	return ACL_FAIL;
}
