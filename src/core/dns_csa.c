/* verify = csa (Client SMTP Authorization, ch-access_control_lists.html "Client SMTP
 * authorization"), the DNS part: the SRV records at _client._smtp.<domain> decide whether the
 * client may send mail under that name. Behaviour observed from Exim 4.96 -bh with NSD:
 *
 *   SRV lookup temporary error             defer   "deferred (SRV lookup failed)"
 *   no SRV record with priority (version) 1 unknown
 *   weight 0 or 1                           fail    "failed (host name not authorized)"
 *   weight 2, target has no A/AAAA          fail    "failed (no authorized addresses)"
 *   weight 2, client not among them         fail    "failed (client address mismatch)"
 *   weight 2, client among them             ok
 *   weight 3 or more                        unknown
 *
 * Exim 4.96 finds no records at parent domains (every "x.<parent>" case gives unknown whatever
 * the parent publishes), so there is no parent search here either. An IP address or [IP]
 * literal is looked up in the reverse tree when dns_csa_use_reverse is true. */
#include <string.h>

#include "conf/main_options.h"
#include "core/dns_internal.h"
#include "lib/ip.h"

static const char *const status_names[] = { "ok", "fail", "defer", "unknown" };

const char *dns_csa_status_name(dns_csa_status s)
{
	return s >= DNS_CSA_OK && s <= DNS_CSA_UNKNOWN ? status_names[s] : "unknown";
}

dns_csa_status dns_verify_csa(arena *a, sv domain, sv client_ip, xbuf *message)
{
	xbuf name;
	xbuf_init(&name, a);
	xbuf_puts(&name, "_client._smtp.");
	sv key = domain;
	if (key.len > 2 && key.p[0] == '[' && key.p[key.len - 1] == ']')
		key = sv_sub(key, 1, key.len - 2);
	xbuf rev;
	xbuf_init(&rev, a);
	if (conf_main.dns_csa_use_reverse && dns_reverse_name(key, &rev))
		xbuf_putsv(&name, xbuf_sv(&rev));
	else
		xbuf_putsv(&name, domain);

	dns_answer ans;
	dns_rc rc = dns_lookup(a, xbuf_sv(&name), DNS_T_SRV, &ans);
	if (rc == DNS_AGAIN || rc == DNS_FAIL) {
		xbuf_puts(message, "client SMTP authorization deferred (SRV lookup failed)");
		return DNS_CSA_DEFER;
	}
	const dns_rr *rr = NULL;
	if (rc == DNS_SUCCEED)
		for (rr = ans.rrs; rr && rr->pref != 1; rr = rr->next)
			;
	if (!rr || rr->weight > 2) {
		xbuf_puts(message, "client SMTP authorization unknown");
		return DNS_CSA_UNKNOWN;
	}
	if (rr->weight < 2) {
		xbuf_puts(message, "client SMTP authorization failed (host name not authorized)");
		return DNS_CSA_FAIL;
	}
	sv *addrs;
	size_t n;
	rc = dns_host_addresses(a, rr->text, &addrs, &n);
	if (rc == DNS_AGAIN) {
		xbuf_puts(message, "client SMTP authorization deferred (target address lookup failed)");
		return DNS_CSA_DEFER;
	}
	if (n == 0) {
		xbuf_puts(message, "client SMTP authorization failed (no authorized addresses)");
		return DNS_CSA_FAIL;
	}
	ip_addr client, cu;
	if (ip_parse(client_ip, &client)) {
		ip_unmap(&client, &cu);
		for (size_t i = 0; i < n; i++) {
			ip_addr t, tu;
			if (ip_parse(addrs[i], &t)) {
				ip_unmap(&t, &tu);
				if (ip_equal(&tu, &cu)) {
					xbuf_puts(message, "client SMTP authorization ok");
					return DNS_CSA_OK;
				}
			}
		}
	}
	xbuf_puts(message, "client SMTP authorization failed (client address mismatch)");
	return DNS_CSA_FAIL;
}
