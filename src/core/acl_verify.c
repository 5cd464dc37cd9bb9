/* "verify =": helo, header_syntax, header_sender, header_names_ascii, not_blind,
 * reverse_host_lookup, and sender/recipient through acl_ops.verify_address (the router engine
 * of the delivery issue; a stub chain until then). */
#include <ctype.h>
#include <string.h>

#include "conf/main_options.h"
#include "core/acl_internal.h"
#include "core/callout.h"
#include "core/dns.h"
#include "lib/arena.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "mail/address.h"
#include "mail/smtp_cmd.h"

#define W(x) ACL_BIT(ACL_WHERE_##x)

typedef enum vfy { VF_HELO, VF_HEADER_SYNTAX, VF_HEADER_SENDER, VF_HEADER_NAMES_ASCII, VF_NOT_BLIND,
	VF_REVERSE_HOST_LOOKUP, VF_SENDER, VF_RECIPIENT, VF_CERTIFICATE, VF_CSA, VF__COUNT } vfy;

static const struct { const char *name; unsigned allowed; } kinds[VF__COUNT] = {
	[VF_HELO] = { "helo", ACL_ALL_WHERE },
	/* Exim 4.96 lets these through in the QUIT and not-QUIT ACLs too (with no message they pass). */
	[VF_HEADER_SYNTAX] = { "header_syntax", W(DATA) | W(NOTSMTP) | W(QUIT) | W(NOTQUIT) },
	[VF_HEADER_SENDER] = { "header_sender", W(DATA) | W(NOTSMTP) | W(QUIT) | W(NOTQUIT) },
	[VF_HEADER_NAMES_ASCII] = { "header_names_ascii", W(DATA) | W(NOTSMTP) | W(QUIT) | W(NOTQUIT) },
	[VF_NOT_BLIND] = { "not_blind", W(DATA) | W(NOTSMTP) | W(QUIT) | W(NOTQUIT) },
	[VF_REVERSE_HOST_LOOKUP] = { "reverse_host_lookup", ACL_ALL_WHERE },
	[VF_SENDER] = { "sender", W(RCPT) | W(MAIL) | W(PREDATA) | W(MIME) | W(DKIM) | W(DATA) | W(PRDR) | W(NOTSMTP) },
	[VF_RECIPIENT] = { "recipient", W(RCPT) },   /* not VRFY: Exim 4.96 refuses it there (observed) */
	[VF_CERTIFICATE] = { "certificate", ACL_ALL_WHERE },
	[VF_CSA] = { "csa", ACL_ALL_WHERE },
};

/* Headers whose contents are address lists (RFC 5322), which header_syntax checks. */
static bool address_header(sv name)
{
	static const char *const names[] = { "sender", "from", "reply-to", "to", "cc", "bcc",
		"resent-sender", "resent-from", "resent-reply-to", "resent-to", "resent-cc", "resent-bcc", NULL };
	for (int i = 0; names[i]; i++)
		if (sv_eqi(name, sv_cstr(names[i])))
			return true;
	return false;
}

static bool split_header(const msg_header *h, sv *name, sv *value)
{
	const char *colon = memchr(h->text.p, ':', h->text.len);
	if (!colon)
		return false;
	*name = sv_trim(sv_make(h->text.p, (size_t)(colon - h->text.p)));
	*value = sv_sub(h->text, (size_t)(colon - h->text.p) + 1, h->text.len);
	return true;
}

/* The client's host name, looked up now if the session has not (Exim does it lazily for these
 * checks and logs a failure). */
static void ensure_host_name(acl_ctx *c)
{
	msg_origin *o = c->origin;
	if (!o || !o->host_address.len || o->host_name.len || o->host_lookup_failed || o->host_lookup_deferred)
		return;
	sv name, *aliases;
	size_t naliases;
	dns_rc rc = dns_host_name_lookup(c->user_msg.a, o->host_address, &name, &aliases, &naliases);
	if (rc == DNS_SUCCEED) {
		o->host_name = sv_copy(c->user_msg.a, name);
		return;
	}
	o->host_lookup_deferred = rc == DNS_AGAIN;
	o->host_lookup_failed = rc != DNS_AGAIN;
	if (o->host_lookup_failed)
		o->host_lookup_reason = dns_host_lookup_reason(c->user_msg.a, rc, o->host_address, name);
	if (rc == DNS_NOMATCH)
		acl_log(c, LOG_MAIN, "no host name found for IP address " SV_FMT, SV_ARG(o->host_address));
}

static acl_result verify_helo(acl_ctx *c)
{
	if (c->helo_verified)
		return ACL_OK;
	if (c->helo_verify_failed)
		return ACL_FAIL;
	const msg_origin *o = c->origin;
	/* An empty name (helo_accept_junk_hosts) is checked like any other: the client's name is
	 * looked up for it (Exim 4.96 logs "no host name found", observed). */
	if (!o || !o->helo_name.p)
		return ACL_FAIL;
	sv helo = o->helo_name;
	bool ok = false;
	if (helo.len && helo.p[0] == '[' && helo.p[helo.len - 1] == ']') {
		/* Compared as addresses, not as text (Exim 4.96 takes any literal that starts with the
		 * client's address as it writes it; docs/smtp.md, known differences). */
		ok = ip_helo_literal_matches(helo, o->host_address);
	} else if (ensure_host_name(c), o->host_name.len && sv_eqi(o->host_name, helo)) {
		ok = true;
	} else if (o->host_address.len && helo.len) {
		sv *addrs;
		size_t n = 0;
		ip_addr want;
		if (dns_host_addresses(c->user_msg.a, helo, &addrs, &n) == DNS_SUCCEED && ip_parse(o->host_address, &want))
			for (size_t i = 0; i < n && !ok; i++) {
				ip_addr got;
				ok = ip_parse(addrs[i], &got) && ip_equal(&got, &want);
			}
	}
	c->helo_verified = ok;
	c->helo_verify_failed = !ok;
	return ok ? ACL_OK : ACL_FAIL;
}

/* A failed header check: the reason goes to the log; the client is told it only with
 * smtp_return_error_details ("Rejected after DATA: ..."), as in Exim. */
static acl_result header_check_failed(acl_ctx *c)
{
	if (conf_main.smtp_return_error_details) {
		xbuf_reset(&c->user_msg);
		xbuf_printf(&c->user_msg, "Rejected after DATA: " SV_FMT, SV_ARG(xbuf_sv(&c->log_msg)));
	}
	return ACL_FAIL;
}

/* Why an address item does not parse, in Exim's words where the parser's own are shorter. */
static const char *syntax_reason(sv item, const char *why)
{
	bool quoted = false;
	for (size_t i = 0; i < item.len; i++) {
		if (item.p[i] == '\\' && i + 1 < item.len)
			i++;
		else if (item.p[i] == '"')
			quoted = !quoted;
	}
	if (quoted)
		return "unmatched doublequote in local part";
	return why ? why : "missing or malformed local part";
}

/* Exim's own words for an address item of a header that does not parse: the SMTP address
 * parser (smtp_cmd.h) says it as Exim's parser does ("domain missing or malformed", "'>'
 * missing at end of address"...); where it has nothing better, syntax_reason. */
static const char *header_reason(arena *a, sv item, const char *why)
{
	sv t = sv_trim(item);
	if (!memchr(t.p, ':', t.len) && !memchr(t.p, ';', t.len)) {   /* not a group: one address */
		xbuf out, w;
		xbuf_init(&out, a);
		xbuf_init(&w, a);
		bool is_null, has_domain;
		if (!smtp_parse_address(t, false, true, &out, &is_null, &has_domain, &w) && w.len
			&& !sv_starts(xbuf_sv(&w), "malformed address:"))
			return xbuf_cstr(&w);
	}
	return syntax_reason(item, why);
}

static acl_result verify_header_syntax(acl_ctx *c)
{
	if (!c->msg)
		return ACL_OK;
	for (const msg_header *h = c->msg->headers; h; h = h->next) {
		sv name, value;
		if (h->type == '*' || !split_header(h, &name, &value) || !address_header(name))
			continue;
		size_t pos = 0;
		sv item;
		addr_group_state groups = { .allow = true };
		while (addr_next_item(value, &pos, &item)) {
			if (!sv_trim(item).len)
				continue;
			xbuf out;
			xbuf_init(&out, c->user_msg.a);
			addr_parsed info;
			const char *why = NULL;
			bool parsed = addr_extract(item, &groups, &out, &info, &why);
			if (parsed && (info.empty || info.has_domain))
				continue;
			const char *reason = parsed ? "unqualified address not permitted" : header_reason(c->user_msg.a, item, why);
			xbuf_reset(&c->log_msg);
			xbuf_printf(&c->log_msg, "%s: failing address in \"" SV_FMT ":\" header is: " SV_FMT, reason,
				SV_ARG(name), SV_ARG(sv_trim(item)));
			return header_check_failed(c);
		}
	}
	return ACL_OK;
}

static acl_result verify_header_names_ascii(acl_ctx *c)
{
	if (!c->msg)
		return ACL_OK;
	for (const msg_header *h = c->msg->headers; h; h = h->next) {
		sv name, value;
		if (h->type == '*' || !split_header(h, &name, &value))
			continue;
		for (size_t i = 0; i < name.len; i++)
			if ((unsigned char)name.p[i] < 33 || (unsigned char)name.p[i] > 126) {
				xbuf_reset(&c->log_msg);
				xbuf_printf(&c->log_msg, "Invalid character in header \"" SV_FMT "\" found", SV_ARG(name));
				return header_check_failed(c);
			}
	}
	return ACL_OK;
}

/* Every envelope recipient must be in To:, Cc: or Bcc: (case of the local part kept unless
 * case_insensitive). */
static acl_result verify_not_blind(acl_ctx *c, bool caseless)
{
	if (!c->msg)
		return ACL_OK;
	for (size_t r = 0; r < c->msg->nrcpt; r++) {
		sv want = c->msg->rcpt[r].address;
		bool found = false;
		for (const msg_header *h = c->msg->headers; h && !found; h = h->next) {
			sv name, value;
			if (h->type == '*' || !split_header(h, &name, &value))
				continue;
			if (!sv_eqi(name, SV_LIT("to")) && !sv_eqi(name, SV_LIT("cc")) && !sv_eqi(name, SV_LIT("bcc")))
				continue;
			size_t pos = 0;
			sv item;
			addr_group_state groups = { .allow = true };
			while (!found && addr_next_item(value, &pos, &item)) {
				xbuf out;
				xbuf_init(&out, c->user_msg.a);
				addr_parsed info;
				const char *why;
				if (!addr_extract(item, &groups, &out, &info, &why) || info.empty)
					continue;
				sv got = xbuf_sv(&out);
				if (caseless)
					found = sv_eqi(got, want);
				else /* local parts are case-sensitive, domains never */
					found = got.len == want.len && info.local_len <= got.len
						&& memcmp(got.p, want.p, info.local_len) == 0
						&& sv_eqi(sv_sub(got, info.local_len, got.len), sv_sub(want, info.local_len, want.len));
			}
		}
		if (!found) {
			xbuf_reset(&c->log_msg);
			xbuf_printf(&c->log_msg, "bcc recipient detected");
			return header_check_failed(c);
		}
	}
	return ACL_OK;
}

static acl_result verify_reverse(acl_ctx *c, bool defer_ok)
{
	msg_origin *o = c->origin;
	if (!o || !o->host_address.len)
		return ACL_OK; /* a local caller has nothing to look up */
	/* Exim names the check only when the check did the lookup (not at the connection or an
	 * earlier check; observed). */
	bool looked_now = !o->host_name.len && !o->host_lookup_failed && !o->host_lookup_deferred;
	ensure_host_name(c);
	if (o->host_name.len)
		return ACL_OK;
	xbuf_reset(&c->log_msg);
	if (o->host_lookup_deferred) {
		if (defer_ok)
			return ACL_OK;
		xbuf_puts(&c->log_msg, "host lookup deferred for reverse lookup check");
		return ACL_DEFER;
	}
	xbuf_printf(&c->log_msg, "host lookup failed%s" SV_FMT, looked_now ? " for reverse lookup check" : "",
		SV_ARG(o->host_lookup_reason.len ? o->host_lookup_reason : sv_cstr(" (failed to find host name from IP address)")));
	return ACL_FAIL;
}

static bool has_option(sv options, const char *name)
{
	for (size_t i = 0; i < options.len;) {
		size_t e = i + 1;
		while (e < options.len && options.p[e] != '/')
			e++;
		if (sv_eq_cstr(sv_range(options, i + 1, e), name))
			return true;
		i = e;
	}
	return false;
}

/* A sender's verification is done once per message, as Exim does. A failure is reported when
 * an ACL rejects (acl_verify_report_sender): the log line "sender verify fail for <a>: why" and,
 * to an SMTP client, the details before the reply; later rejections just say it failed. */
typedef struct sender_cache {
	struct sender_cache *next;
	sv address;
	acl_result result;
	sv why_log, why_user;         /* the verification's reasons */
	bool details;                 /* the client may be told them (not no_details) */
	bool told;                    /* reported already */
	bool defer_passed;            /* its last use was a defer that defer_ok let through: then
	                               * there is nothing to report (Exim 4.96, observed) */
} sender_cache;

static const char *sender_summary(const sender_cache *sc)
{
	if (sc->result == ACL_FAIL)
		return "Sender verify failed";
	return sv_eq_cstr(sc->why_user, "Could not complete sender verify callout") ? "Could not complete sender verify callout"
		: "Could not complete sender verify";
}

static acl_result verify_sender(acl_ctx *c, sv address, sv options)
{
	acl_engine *e = acl_engine_of(c);
	sender_cache *sc = NULL;
	for (sender_cache *x = e->sender_verified; x && !sc; x = x->next)
		if (sv_eq(x->address, address))
			sc = x;
	if (!sc) {
		/* The cache is the message's (acl_ctx_message_done forgets it): in its arena. */
		arena *ma = acl_msg_arena(c);
		xbuf why_user, why_log;
		xbuf_init(&why_user, ma);
		xbuf_init(&why_log, ma);
		acl_result r = c->ops->verify_address(c->ops_ctx, false, address, options, &why_user, &why_log, NULL);
		sc = arena_calloc(ma, 1, sizeof *sc);
		sc->address = sv_copy(ma, address);
		sc->result = r;
		/* A cached callout failure leaves the log reason empty: Exim then logs none. */
		sc->why_log = xbuf_sv(&why_log);
		sc->why_user = xbuf_sv(&why_user);
		sc->details = !has_option(options, "no_details") && c->smtp_session;
		sc->next = e->sender_verified;
		e->sender_verified = sc;
	}
	if (sc->result != ACL_FAIL && sc->result != ACL_DEFER)
		return sc->result;
	sc->defer_passed = sc->result == ACL_DEFER && has_option(options, "defer_ok");
	if (sc->defer_passed)
		return ACL_OK;   /* defer_ok: a verification that cannot be completed passes */
	xbuf_reset(&c->user_msg);
	xbuf_reset(&c->log_msg);
	/* A sender verify deferred in routing tells the client nothing of it (Exim: the default
	 * 451 text), only the log gets "Could not complete sender verify"; a deferred callout is
	 * told to the client. */
	if (sc->result == ACL_FAIL || sv_eq_cstr(sc->why_user, "Could not complete sender verify callout"))
		xbuf_puts(&c->user_msg, sender_summary(sc));
	xbuf_puts(&c->log_msg, sender_summary(sc));
	return sc->result;
}

void acl_verify_report_sender(acl_ctx *c, acl_result r)
{
	acl_engine *e = acl_engine_of(c);
	sender_cache *sc = e->sender_verified;
	for (; sc; sc = sc->next)
		if (sc->result == ACL_FAIL || (sc->result == ACL_DEFER && !sc->defer_passed))
			break;
	if (!sc || sc->told)
		return;
	sc->told = true;
	if (!sc->details)
		return; /* Exim gives (and logs) the details only to an SMTP client */
	bool fail = sc->result == ACL_FAIL;
	xbuf prefix;
	xbuf_init(&prefix, e->tmp);   /* this run's work: the texts go to the log and user_msg */
	acl_log_prefix(c, &prefix);
	const log_config *lc = log_current_config();
	if (!fail || !lc || logsel_has(&lc->selector, LS_SENDER_VERIFY_FAIL))   /* a defer is always logged */
		acl_log(c, LOG_MAIN | LOG_REJECT, "%s%ssender verify %s for <" SV_FMT ">%s" SV_FMT, xbuf_cstr(&prefix),
			prefix.len ? " " : "", fail ? "fail" : "defer", SV_ARG(sc->address), sc->why_log.len ? ": " : "",
			SV_ARG(sc->why_log));
	/* An ACL that defers or fails with an error (a temporary rejection) logs the failure too,
	 * but the client gets only the statement's reply (Exim 4.96, observed); deny and drop give
	 * the details. */
	if (!fail || (r != ACL_FAIL && r != ACL_FAIL_DROP))
		return;
	xbuf msg;
	xbuf_init(&msg, e->tmp);
	xbuf_printf(&msg, "Verification failed for <" SV_FMT ">\n", SV_ARG(sc->address));
	if (sc->why_user.len)
		xbuf_printf(&msg, SV_FMT "\n", SV_ARG(sc->why_user));
	if (!c->log_msg.len && !c->user_msg.len)
		c->log_msg_none = true;   /* a refusal without a text logs no reason (the details are not one) */
	else if (!c->log_msg.len)
		xbuf_putsv(&c->log_msg, xbuf_sv(&c->user_msg));   /* the log keeps the reply's own text */
	/* A statement without a message rejects with the default text, after the details. */
	c->user_msg_details = msg.len;
	xbuf_putsv(&msg, c->user_msg.len ? xbuf_sv(&c->user_msg) : SV_LIT("Administrative prohibition"));
	xbuf_reset(&c->user_msg);
	xbuf_putsv(&c->user_msg, xbuf_sv(&msg));
}

static acl_result verify_address(acl_ctx *c, bool recipient, sv address, sv options)
{
	if (!c->ops || !c->ops->verify_address)
		return acl_error(c, "cannot verify %s: no router chain in this context", recipient ? "recipient" : "sender");
	if (!recipient && !address.len)
		return ACL_OK; /* the null sender always verifies */
	if (!recipient)
		return verify_sender(c, address, options);
	bool empty = false;
	acl_result r = c->ops->verify_address(c->ops_ctx, true, address, options, &c->user_msg, &c->log_msg, &empty);
	if (r == ACL_DEFER && has_option(options, "defer_ok")) {
		xbuf_reset(&c->user_msg);
		xbuf_reset(&c->log_msg);
		return ACL_OK;   /* defer_ok: a verification that cannot be completed passes */
	}
	c->msg_empty_given = empty && (r == ACL_FAIL || r == ACL_DEFER);
	if (r == ACL_FAIL && !c->user_msg.len && !c->msg_empty_given)
		xbuf_puts(&c->user_msg, "Recipient verify failed");
	return r;
}

/* Of the header senders (Sender:, Reply-To:, From:), one must verify. */
static acl_result verify_header_sender(acl_ctx *c, sv options)
{
	/* No header lines yet (the not-QUIT ACL before any DATA): a failure without texts (Exim
	 * 4.96, observed: the not-QUIT reply keeps its default). */
	if (!c->msg || !c->msg->headers)
		return ACL_FAIL;
	acl_result last = ACL_FAIL;
	sv fail_name = SV_NULL, fail_addr = SV_NULL, fail_text = SV_NULL;   /* the last address that failed */
	static const char *const names[] = { "sender", "reply-to", "from" };
	for (size_t k = 0; k < 3; k++)
		for (const msg_header *h = c->msg->headers; h; h = h->next) {
			sv name, value;
			if (h->type == '*' || !split_header(h, &name, &value) || !sv_eqi(name, sv_cstr(names[k])))
				continue;
			size_t pos = 0;
			sv item;
			addr_group_state groups = { .allow = true };
			while (addr_next_item(value, &pos, &item)) {
				xbuf out;
				xbuf_init(&out, c->user_msg.a);
				addr_parsed info;
				const char *why = NULL;
				if (!addr_extract(item, &groups, &out, &info, &why)) {
					if (!sv_trim(item).len)
						continue;
					/* A syntax error ends the search: a failure the log explains (Exim 4.96,
					 * observed; the reply keeps the statement's own text or the default). */
					xbuf_reset(&c->user_msg);
					xbuf_reset(&c->log_msg);
					xbuf_printf(&c->log_msg, "syntax error in '" SV_FMT ":' header when scanning for sender: %s in \""
						SV_FMT "\"", SV_ARG(name), header_reason(c->user_msg.a, item, why), SV_ARG(sv_trim(item)));
					/* smtp_return_error_details tells the client too (folded as long replies
					 * are; Exim 4.96, observed). */
					if (conf_main.smtp_return_error_details)
						xbuf_printf(&c->user_msg, "Rejected after DATA: " SV_FMT, SV_ARG(xbuf_sv(&c->log_msg)));
					return ACL_FAIL;
				}
				if (info.empty)
					continue;
				/* Not the envelope sender's once-per-message path: the header addresses are
				 * checked on their own and only the overall result is reported. */
				xbuf um, lm;
				xbuf_init(&um, c->user_msg.a);
				xbuf_init(&lm, c->user_msg.a);
				acl_result r = c->ops->verify_address(c->ops_ctx, false, xbuf_sv(&out), options, &um, &lm, NULL);
				if (r == ACL_OK || r == ACL_ERROR) {
					if (r == ACL_ERROR) {
						xbuf_reset(&c->log_msg);
						xbuf_putsv(&c->log_msg, xbuf_sv(&lm));
					}
					return r;
				}
				if (r == ACL_FAIL || r == ACL_DEFER) {
					fail_name = name;
					fail_addr = xbuf_sv(&out);
					fail_text = um.len ? xbuf_sv(&um) : xbuf_sv(&lm);
				}
				if (r == ACL_DEFER || last != ACL_DEFER)
					last = r;
			}
		}
	xbuf_reset(&c->user_msg);
	xbuf_reset(&c->log_msg);
	/* Exim 4.96's texts (observed with callouts, and without any sender header or with an
	 * empty group only): the client gets the verb's default reply. */
	xbuf_puts(&c->log_msg, last == ACL_DEFER ? "all attempts to verify a sender in a header line deferred"
		: "there is no valid sender in any header line");
	/* With smtp_return_error_details the client hears which address failed or deferred, or
	 * that there was none (observed). */
	if (fail_addr.p && conf_main.smtp_return_error_details)
		xbuf_printf(&c->user_msg, "Rejected after DATA: could not verify \"" SV_FMT ":\" header address\n" SV_FMT
			": " SV_FMT, SV_ARG(fail_name), SV_ARG(fail_addr), SV_ARG(fail_text));
	else if (last == ACL_FAIL && conf_main.smtp_return_error_details)   /* no sender header at all */
		xbuf_printf(&c->user_msg, "Rejected after DATA: " SV_FMT, SV_ARG(xbuf_sv(&c->log_msg)));
	return last;
}

acl_result acl_verify(acl_ctx *c, sv arg)
{
	sv a = sv_trim(arg);
	size_t n = 0;
	while (n < a.len && a.p[n] != '/' && a.p[n] != '=')
		n++;
	sv kind = sv_sub(a, 0, n);
	int k = -1;
	for (int i = 0; i < VF__COUNT; i++)
		if (sv_eqi(kind, sv_cstr(kinds[i].name)))
			k = i;
	if (k < 0)
		return acl_error(c, "expected \"sender[=address]\", \"recipient\", \"helo\", \"header_syntax\", "
			"\"header_sender\", \"header_names_ascii\" or \"reverse_host_lookup\" at start of ACL condition "
			"\"verify " SV_FMT "\"", SV_ARG(arg));
	sv rest = sv_sub(a, n, a.len);
	/* These take no options; Exim says so before it looks at where it is. */
	if ((k == VF_HELO || k == VF_HEADER_SYNTAX || k == VF_HEADER_NAMES_ASCII || k == VF_CERTIFICATE)
			&& rest.len && rest.p[0] == '/')
		return acl_error(c, "unexpected '/' found in \"" SV_FMT "\" (this verify item has no options)", SV_ARG(a));
	if (!(kinds[k].allowed & ACL_BIT(c->where)))
		return acl_error(c, "cannot verify %s in ACL for %s", kinds[k].name, acl_where_name(c->where));
	sv given = SV_NULL;
	if (k == VF_SENDER && rest.len && rest.p[0] == '=') {
		size_t e = 1;
		while (e < rest.len && rest.p[e] != '/')
			e++;
		given = sv_range(rest, 1, e);
		rest = sv_sub(rest, e, rest.len);
	} else if (rest.len && rest.p[0] == '=') {
		return acl_error(c, "unexpected \"=\" after \"" SV_FMT "\" in ACL condition \"verify " SV_FMT "\"",
			SV_ARG(kind), SV_ARG(arg));
	}
	if (k == VF_SENDER || k == VF_RECIPIENT || k == VF_HEADER_SENDER) {
		/* Callout parameters are checked here, where the condition's kind is known. */
		callout_opts co;
		xbuf err;
		xbuf_init(&err, c->user_msg.a);
		if (!callout_opts_parse(rest, k == VF_HEADER_SENDER, a, &co, &err))
			return acl_error(c, "%s", xbuf_cstr(&err));
	}
	bool opt_defer_ok = false, opt_caseless = false;
	for (size_t i = 0; i < rest.len;) {
		size_t e = i + 1;
		while (e < rest.len && rest.p[e] != '/')
			e++;
		sv opt = sv_range(rest, i + 1, e);
		if (k == VF_NOT_BLIND && sv_eqi(opt, SV_LIT("case_insensitive")))
			opt_caseless = true;
		else if (k == VF_NOT_BLIND)
			/* not_blind knows case_insensitive only (Exim 4.96 says so once it may run here) */
			return acl_error(c, "unknown option \"" SV_FMT "\" in ACL condition \"verify " SV_FMT "\"",
				SV_ARG(opt), SV_ARG(a));
		else if (sv_eq_cstr(opt, "defer_ok"))
			opt_defer_ok = true;
		else if (sv_eq_cstr(opt, "case_insensitive"))
			opt_caseless = true;
		i = e;
	}
	switch ((vfy)k) {
	case VF_HELO:
		return verify_helo(c);
	case VF_HEADER_SYNTAX:
		return verify_header_syntax(c);
	case VF_HEADER_SENDER:
		return verify_header_sender(c, rest);
	case VF_HEADER_NAMES_ASCII:
		return verify_header_names_ascii(c);
	case VF_NOT_BLIND:
		return verify_not_blind(c, opt_caseless);
	case VF_REVERSE_HOST_LOOKUP:
		return verify_reverse(c, opt_defer_ok);
	case VF_SENDER:
		return verify_address(c, false, given.p ? given : c->msg ? c->msg->sender : SV_LIT(""), rest);
	case VF_RECIPIENT:
		return verify_address(c, true, c->recipient, rest);
	case VF_CSA:
		return acl_verify_csa(c, rest.len ? sv_sub(rest, 1, rest.len) : SV_NULL);
	case VF_CERTIFICATE:
		/* Without a verified client certificate the condition is false (TLS issue fills it);
		 * Exim gives the reason as the message. */
		if (c->origin && c->origin->tls_certificate_verified)
			return ACL_OK;
		xbuf_reset(&c->user_msg);
		xbuf_puts(&c->user_msg, "no verified certificate");
		return ACL_FAIL;
	case VF__COUNT:
		break;
	}
	return ACL_ERROR;
}
