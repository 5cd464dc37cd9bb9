/* "verify = csa[/domain]": Client SMTP Authorization (draft-ietf-marid-csv-csa), as Exim 4.96
 * implements it. The DNS work — the SRV record _client._smtp.<domain>, its weight, the
 * target's addresses against the client's, the reverse tree for an address literal under
 * dns_csa_use_reverse — is dns_verify_csa() (src/core/dns_csa.c, compared with Exim against
 * the same zones); this file makes it an ACL condition.
 *
 * The condition is false only for a definite failure; "unknown", "defer" and "ok" are true, and
 * $csa_status tells them apart. $acl_verify_message gets the outcome's text ("client SMTP
 * authorization ok", "... failed (client address mismatch)"), as in Exim. */
#include "core/acl_internal.h"
#include "core/dns.h"
#include "lib/arena.h"

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
	xbuf text;
	xbuf_init(&text, e->tmp);
	dns_csa_status st = dns_verify_csa(e->tmp, domain, o->host_address, &text);
	e->csa_status = sv_cstr(dns_csa_status_name(st));
	e->verify_message = xbuf_sv(&text);
	e->have_verify_message = text.len > 0;
	/* The outcome's text is the statement's message and log text even when the condition
	 * holds (a deny without "message =" gives it; an implicit deny at the end logs it: Exim
	 * 4.96, observed with "require verify = csa" and "unknown"). */
	xbuf_reset(&c->user_msg);
	xbuf_putsv(&c->user_msg, xbuf_sv(&text));
	xbuf_reset(&c->log_msg);
	xbuf_putsv(&c->log_msg, xbuf_sv(&text));
	return st != DNS_CSA_FAIL ? ACL_OK : ACL_FAIL;
}
