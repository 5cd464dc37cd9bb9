/* DANE lookups (src/tls/tls_client_dane.h). DANE is only usable when the host's address came
 * from DNSSEC-validated answers (the AD bit, or dns_trust_aa), the MX record that named it did
 * too, and so did its TLSA records. Routing does not record whether its answers were
 * authentic, so the MX and address records are looked up again here, from the resolver's cache
 * as a rule. The outcomes follow Exim 4.96's smtp transport: which failures defer, which fail
 * the addresses, and the dane:fail event's Result Types (RFC 8460 4.3). */
#include "tls/tls_client_dane.h"

#include <string.h>

#include "core/dns.h"
#include "lib/ip.h"
#include "lib/log.h"

typedef enum { SECURED, NOT_SECURED, DEFERRED } secure_state;

/* Is address among host_name's secured A/AAAA records? */
static secure_state address_secured(arena *a, sv host_name, sv address)
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

/* When mx_domain's MX records name host_name, the host came from them: they must be secured
 * as well. A domain without MX records (the host is the domain itself, or a manualroute
 * host) adds nothing. */
static secure_state mx_secured(arena *a, sv mx_domain, sv host_name)
{
	if (mx_domain.len == 0) return SECURED;
	dns_opts o = DNS_OPTS_DEFAULT;
	o.dnssec = 1;
	dns_answer ans;
	dns_rc rc = dns_lookup_opts(a, mx_domain, DNS_T_MX, &o, &ans);
	if (rc == DNS_AGAIN) return DEFERRED;
	if (rc != DNS_SUCCEED) return SECURED;
	for (const dns_rr *r = ans.rrs; r; r = r->next)
		if (sv_eqi(r->text, host_name)) return ans.authentic ? SECURED : NOT_SECURED;
	return SECURED;
}

static tls_dane_rc refuse(tls_dane *out, bool permanent, const char *event_data)
{
	out->permanent = permanent;
	out->event_data = event_data;
	return TLS_DANE_REFUSE;
}

tls_dane_rc tls_dane_lookup(arena *a, sv host_name, sv address, int port, sv mx_domain, bool require,
	tls_dane *out, xbuf *why)
{
	memset(out, 0, sizeof *out);
	ip_addr literal;
	secure_state host = SECURED;
	if (host_name.len == 0 || ip_parse(host_name, &literal)) host = NOT_SECURED;
	if (host == SECURED) host = address_secured(a, host_name, address);
	if (host == SECURED) host = mx_secured(a, mx_domain, host_name);
	if (host != SECURED) {
		xbuf_printf(why, "DANE error: " SV_FMT " lookup %s", SV_ARG(host_name),
			host == DEFERRED ? "DEFER" : "not DNSSEC");
		if (!require) return TLS_DANE_NONE;
		/* Exim fails the addresses for a host known not to be secured; one whose lookups
		 * deferred may be secured after all, so it is only deferred. */
		return refuse(out, host == NOT_SECURED, "dane-required");
	}
	xbuf name;
	xbuf_init(&name, a);
	xbuf_printf(&name, "_%d._tcp." SV_FMT, port, SV_ARG(host_name));
	dns_opts o = DNS_OPTS_DEFAULT;
	o.dnssec = 1;
	dns_answer ans;
	dns_rc rc = dns_lookup_opts(a, xbuf_sv(&name), DNS_T_TLSA, &o, &ans);
	const char *event_data = require ? "dane-required" : "dnssec-invalid";
	if (rc == DNS_AGAIN) {
		xbuf_puts(why, "DANE error: tlsa lookup DEFER");
		return refuse(out, false, event_data);
	}
	if (rc == DNS_SUCCEED && !ans.authentic) {
		log_write(LOG_MAIN, "DANE error: TLSA lookup for " SV_FMT " not DNSSEC", SV_ARG(host_name));
		rc = DNS_NODATA;   /* then as if there were none */
	}
	if (rc == DNS_SUCCEED) {
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
		if (out->n) return TLS_DANE_USE;
		rc = DNS_NODATA;
	}
	if (rc == DNS_NOMATCH || rc == DNS_NODATA) {
		xbuf_puts(why, "DANE error: tlsa lookup FAIL");
		return require ? refuse(out, true, event_data) : TLS_DANE_NONE;
	}
	xbuf_printf(why, "DANE error: tlsa lookup %s", require ? "FAIL" : "DEFER");
	return refuse(out, require, event_data);
}
