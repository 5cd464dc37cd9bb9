/* DANE lookups (src/tls/tls_client_dane.h). DANE is only usable when the host's address came
 * from DNSSEC-validated answers (the AD bit, or dns_trust_aa) and its TLSA records did too;
 * the address is looked up again here, from the resolver's cache as a rule, because routing
 * does not record whether its answers were authentic. */
#include "tls/tls_client_dane.h"

#include <string.h>

#include "core/dns.h"
#include "lib/ip.h"

typedef enum { SECURED, NOT_SECURED, DEFERRED } addr_state;

/* Is address among host_name's secured A/AAAA records? */
static addr_state address_secured(arena *a, sv host_name, sv address)
{
	ip_addr ip;
	if (!ip_parse(address, &ip)) return NOT_SECURED;
	int type = ip_max_bits(&ip) == 32 ? DNS_T_A : DNS_T_AAAA;
	dns_opts o = DNS_OPTS_DEFAULT;
	o.dnssec = 1;
	dns_answer ans;
	dns_rc rc = dns_lookup_opts(a, host_name, type, &o, &ans);
	if (rc == DNS_AGAIN) return DEFERRED;
	if (rc != DNS_SUCCEED || !ans.authentic) return NOT_SECURED;
	for (const dns_rr *r = ans.rrs; r; r = r->next) {
		ip_addr have;
		if (ip_parse(r->text, &have) && ip_equal(&have, &ip)) return SECURED;
	}
	return NOT_SECURED;
}

tls_dane_rc tls_dane_lookup(arena *a, sv host_name, sv address, int port, tls_dane *out, xbuf *why)
{
	memset(out, 0, sizeof *out);
	ip_addr literal;
	if (host_name.len == 0 || ip_parse(host_name, &literal)) {
		xbuf_printf(why, "DANE error: " SV_FMT " lookup not DNSSEC", SV_ARG(host_name));
		return TLS_DANE_NONE;
	}
	switch (address_secured(a, host_name, address)) {
	case DEFERRED:
		xbuf_printf(why, "DANE error: " SV_FMT " lookup DEFER", SV_ARG(host_name));
		return TLS_DANE_ERROR;
	case NOT_SECURED:
		xbuf_printf(why, "DANE error: " SV_FMT " lookup not DNSSEC", SV_ARG(host_name));
		return TLS_DANE_NONE;
	case SECURED:
		break;
	}
	xbuf name;
	xbuf_init(&name, a);
	xbuf_printf(&name, "_%d._tcp." SV_FMT, port, SV_ARG(host_name));
	dns_opts o = DNS_OPTS_DEFAULT;
	o.dnssec = 1;
	dns_answer ans;
	dns_rc rc = dns_lookup_opts(a, xbuf_sv(&name), DNS_T_TLSA, &o, &ans);
	if (rc == DNS_NOMATCH || rc == DNS_NODATA) {
		xbuf_puts(why, "DANE error: tlsa lookup FAIL");
		return TLS_DANE_NONE;
	}
	if (rc != DNS_SUCCEED) {
		xbuf_printf(why, "DANE error: tlsa lookup %s", rc == DNS_AGAIN ? "DEFER" : "FAIL");
		return TLS_DANE_ERROR;
	}
	if (!ans.authentic) {
		xbuf_puts(why, "DANE error: tlsa lookup not DNSSEC");
		return TLS_DANE_ERROR;
	}
	size_t n = 0;
	for (const dns_rr *r = ans.rrs; r; r = r->next) n++;
	out->rr = arena_calloc(a, n ? n : 1, sizeof *out->rr);
	for (const dns_rr *r = ans.rrs; r; r = r->next) {
		if (r->rdata.len < 4) continue;   /* usage, selector, matching type, some data */
		tls_tlsa *t = &out->rr[out->n++];
		const unsigned char *p = (const unsigned char *)r->rdata.p;
		t->usage = p[0];
		t->selector = p[1];
		t->mtype = p[2];
		t->data = p + 3;
		t->len = r->rdata.len - 3;
		if (t->usage < 8) out->usage_bits |= 1 << t->usage;
	}
	if (!out->n) {
		xbuf_puts(why, "DANE error: tlsa lookup FAIL");
		return TLS_DANE_NONE;
	}
	return TLS_DANE_USE;
}
