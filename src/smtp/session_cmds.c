/* SMTP commands other than DATA/BDAT and AUTH: HELO/EHLO (with the EHLO keywords in Exim's
 * order), MAIL, RCPT, VRFY, EXPN, ETRN, HELP. Replies and log lines as Exim 4.96 -bh shows. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_dump.h"
#include "conf/driver.h"
#include "conf/main_options.h"
#include "core/auth.h"
#include "core/dns.h"
#include "core/receive.h"
#include "core/receive_space.h"
#include "core/rewrite.h"
#include "core/route_verify.h"
#include "core/spool_worker.h"
#include "lib/codec.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "search/match.h"
#include "smtp/session_int.h"


/* SMTP-time rewriting (rewrite rules with the S flag): the address part of the MAIL/RCPT
 * argument, angle brackets included, is matched and replaced before anything else looks at it,
 * as Exim does; the ESMTP parameters after it stay. */
static void smtp_time_rewrite(smtp_session *s)
{
	bool any = false;
	for (const conf_rewrite_rule *r = conf_rewrite_rules(); r && !any; r = r->next)
		any = (r->flags & CONF_REWRITE_SMTP) != 0;
	if (!any)
		return;
	sv arg = s->cmd_arg;
	size_t i = 0;
	while (i < arg.len && isspace((unsigned char)arg.p[i]))
		i++;
	size_t start = i;
	if (i < arg.len && arg.p[i] == '<') {
		while (i < arg.len && arg.p[i] != '>')
			i++;
		if (i < arg.len)
			i++;
	} else {
		while (i < arg.len && !isspace((unsigned char)arg.p[i]))
			i++;
	}
	sv out;
	if (!rewrite_smtp_address(s->work, sv_sub(arg, start, i - start), &s->env, &out))
		return;
	xbuf b;
	xbuf_init(&b, s->work);
	xbuf_putsv(&b, out);
	xbuf_putsv(&b, sv_sub(arg, i, arg.len - i));
	s->cmd_arg = xbuf_sv(&b);
	s->cmd_arg.taint |= arg.taint;
}

static const char *dupsv(smtp_session *s, sv v) { return sv_dup(s->work, v); }

void sess_reset_transaction(smtp_session *s)
{
	if (s->recv) {
		receive_abort(s->recv);
		s->recv = NULL;
	}
	s->in_bdat = s->bdat_only_rset = false;
	s->local_sender_replacement = SV_NULL;
	s->msg = NULL;
	s->env.msg = NULL;
	s->mail_given = false;
	s->mail_discarded = false;
	s->mail_discard_why = SV_NULL;
	s->acl_headers_applied = NULL;
	s->rcpt_count = s->rcpt_defer_count = s->rcpt_fail_count = s->rcpt_ok_count = 0;
	s->rcpt_error = SV_NULL;
	s->rcpt_errors_differ = false;
	s->rcpt_error_trimmed = false;
	s->rcpt_toomany_logged = false;
	s->cutthrough = false;
	s->prdr_requested = s->prdr_ran = false;
	s->sender = SV_NULL;
	s->sender_replaced = false;
	s->origin.auth_sender = SV_NULL;
	/* An SMTPUTF8 MAIL's "utf8" stays on $received_protocol until the next HELO/EHLO, through
	 * RSET and later messages (Exim 4.96, observed): set_protocol drops it. */
	memset(&s->mail, 0, sizeof s->mail);
	sess_set_message_vars(s, NULL);
	sess_acl_message_done(s);
	arena_clear(pool_msg);
}

/* message_size_limit: a number with an optional K, M or G; 0 means no limit. */
long long sess_size_limit(smtp_session *s)
{
	const char *v = sess_expand(s, conf_main.message_size_limit);
	if (!v) return 0;
	char *end;
	long long n = strtoll(v, &end, 10);
	switch (toupper((unsigned char)*end)) {
	case 'K': n *= 1024; break;
	case 'M': n *= 1024 * 1024; break;
	case 'G': n *= 1024LL * 1024 * 1024; break;
	default: break;
	}
	return n < 0 ? 0 : n;
}

/* ---- AUTH advertising --------------------------------------------------------------------- */

/* " PLAIN LOGIN" for the EHLO AUTH line (empty: nothing to advertise). */
static void auth_mechanisms(smtp_session *s, xbuf *out)
{
	for (const driver_instance *d = conf_driver_instances("authenticators"); d; d = d->next) {
		const char *pub = auth_public_name(d);
		if (!pub) pub = d->name;
		if (!auth_find_server(sv_cstr(pub))) continue;
		const char *cond = auth_generic_option(d, "server_advertise_condition");
		if (cond) {
			bool ok = false;
			xbuf err;
			xbuf_init(&err, s->work);
			if (xp_expand_bool(&s->env, sv_cstr(cond), &ok, &err) != XP_OK || !ok) continue;
		}
		/* The same public name twice is advertised once. */
		xbuf word;
		xbuf_init(&word, s->work);
		xbuf_printf(&word, " %s ", pub);
		xbuf padded;
		xbuf_init(&padded, s->work);
		xbuf_printf(&padded, "%s ", xbuf_cstr(out));
		if (strstr(xbuf_cstr(&padded), xbuf_cstr(&word))) continue;
		xbuf_printf(out, " %s", pub);
	}
}

/* ---- HELO / EHLO -------------------------------------------------------------------------- */

static void set_protocol(smtp_session *s)
{
	s->base_protocol = SV_NULL;
	if (s->p->protocol.len) { s->origin.protocol = s->p->protocol; return; }
	const char *base = s->esmtp ? "esmtp" : "smtp";
	xbuf b;
	xbuf_init(&b, s->conn);
	if (!s->origin.host_address.len) xbuf_puts(&b, "local-");
	xbuf_puts(&b, base);
	if (s->esmtp && s->origin.tls_cipher.len) xbuf_putc(&b, 's');
	if (s->esmtp && s->authenticated) xbuf_putc(&b, 'a');
	s->origin.protocol = xbuf_sv(&b);
}

/* helo_verify_hosts / helo_try_verify_hosts: the HELO name is an address literal for the
 * client's address, the client's (reverse-looked-up) name, or a name whose addresses include
 * the client's. */
static bool helo_matches_host(smtp_session *s, sv helo)
{
	msg_origin *o = &s->origin;
	/* A literal is compared as an address, as the ACL's verify = helo (core/acl_verify.c). */
	if (helo.len > 2 && helo.p[0] == '[' && helo.p[helo.len - 1] == ']')
		return ip_helo_literal_matches(helo, o->host_address);
	sess_lookup_host_name(s);
	if (o->host_name.len && sv_eqi(helo, o->host_name)) return true;
	sv *addrs = NULL;
	size_t naddrs = 0;
	if (dns_host_addresses(s->work, helo, &addrs, &naddrs) != DNS_SUCCEED) return false;
	for (size_t i = 0; i < naddrs; i++)
		if (sv_eq(addrs[i], o->host_address)) return true;
	return false;
}

sess_next sess_helo(smtp_session *s, bool ehlo)
{
	const char *verb = ehlo ? "EHLO" : "HELO";
	sv arg = s->cmd_arg;
	/* The verb alone decides whether MAIL/RCPT take parameters from now on, even when the
	 * command is then refused ($received_protocol keeps the last accepted one). */
	s->esmtp = ehlo;
	bool junk_ok = sess_host_in(s, conf_main.helo_accept_junk_hosts);
	/* helo_accept_junk_hosts may even give no name at all (Exim names it "()" then). */
	if (!junk_ok && (arg.len == 0 || !smtp_helo_valid(arg, sv_cstr(conf_main.helo_allow_chars)))) {
		sess_log(s, LOG_MAIN | LOG_REJECT, "rejected %s from %s: syntactically invalid argument(s): %s",
			verb, dupsv(s, s->host_ident), arg.len ? sess_printable(s, arg) : "(no argument given)");
		/* Exim forgets the HELO name ($sender_helo_name) but not the host text built from it
		 * (H= keeps the old name until the next HELO); a HELO accepted before still counts. */
		if (!s->origin.texts_helo_set) {
			s->origin.texts_helo_name = s->origin.helo_name;
			s->origin.texts_helo_set = true;
		}
		s->origin.helo_name = SV_NULL;
		/* Counted as a syntax error, but the reply never gets the "too many" line. */
		sess_reply(s, 501, "Syntactically invalid %s argument(s)", verb);
		return sess_count_synprot(s) ? SESS_DROP : SESS_CONTINUE;
	}
	/* The transaction is reset only once the HELO ACL accepts: a refused HELO leaves sender,
	 * recipients, RCPT replies and the warn lines logged as they were. A warn in the HELO ACL
	 * is thus not logged again when the same line (its H= part carries the new name) was logged
	 * since the last accepted HELO (Exim 4.96, observed: HELO a, VRFY, HELO a logs the HELO
	 * ACL's line once; HELO b would log it). */
	sess_set_log_id(s, NULL);
	s->origin.helo_name = sv_tainted(sv_copy(s->conn, arg));
	s->origin.texts_helo_set = false;
	sess_update_host_ident(s);

	/* A client calling itself by one of our names (helo_lookup_domains) gets its real name
	 * looked up, so the Received header can show it; at every such HELO, even after a failed
	 * lookup (Exim 4.96 logs "no host name found" each time, observed). */
	if (!s->origin.host_name.len && s->origin.host_address.len && conf_main.helo_lookup_domains) {
		const char *l = sess_expand(s, conf_main.helo_lookup_domains);
		xbuf err;
		xbuf_init(&err, s->work);
		match_ctx mc = { .primary_hostname = conf_main.primary_hostname };
		if (l && match_isinlist(arg, sv_cstr(l), 0, MATCH_DOMAIN, true, &mc, &err) == 0)
			sess_lookup_host_name_again(s);
	}
	s->helo_verified = s->helo_verify_failed = false;
	bool must = sess_host_in(s, conf_main.helo_verify_hosts);
	if (must || sess_host_in(s, conf_main.helo_try_verify_hosts)) {
		s->helo_verified = helo_matches_host(s, arg);
		s->helo_verify_failed = !s->helo_verified;
		if (must && !s->helo_verified) {
			sess_log(s, LOG_MAIN | LOG_REJECT, "rejected \"%s %s\" from %s", verb, sess_printable(s, arg),
				dupsv(s, s->host_ident));
			/* The name stays (as in Exim), and so does an earlier HELO's acceptance. */
			sess_reply(s, 550, "%s argument does not match calling host", verb);
			return SESS_CONTINUE;
		}
	}

	sv accept_msg = SV_NULL;
	if (conf_main.acl_smtp_helo) {
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_HELO, conf_main.acl_smtp_helo, SV_NULL, &c);
		if (rc == ACL_OK && c.user_msg.len) accept_msg = sv_copy(s->work, xbuf_sv(&c.user_msg));
		if (rc != ACL_OK) {
			xbuf what;
			xbuf_init(&what, s->work);
			/* Exim names the lower-cased HELO argument here (the H= field keeps its case),
			 * only its first word, and at most 100 characters of it. */
			size_t w = 0;
			while (w < arg.len && w < 100 && arg.p[w] != ' ' && arg.p[w] != '\t') w++;
			char *lc = (char *)sess_loggable(s, sv_sub(arg, 0, w));
			for (char *q = lc; *q; q++) if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
			xbuf_printf(&what, "EHLO or HELO %s", lc);
			sess_next n = sess_acl_reply(s, ACL_WHERE_HELO, rc, &c, xbuf_cstr(&what));
			/* Refused: no HELO name at all (Exim), an earlier HELO's acceptance stays. */
			s->origin.helo_name = SV_NULL;
			s->origin.texts_helo_set = false;
			sess_update_host_ident(s);
			return n;
		}
	}

	sess_reset_transaction(s);       /* forgets the warn lines logged too (observed) */
	s->txn_line = s->io.lines;
	s->helo_seen = true;
	s->esmtp = ehlo;
	set_protocol(s);
	const msg_origin *o = &s->origin;
	xbuf r;
	xbuf_init(&r, s->work);
	int code = 250;
	if (accept_msg.len) {
		/* the HELO ACL's accepting message replaces the greeting (a code of its own too) */
		code = sess_message_code(s, &accept_msg, 250);
		/* Only its first line: the capabilities follow it (Exim 4.96 logs the whole). */
		const char *nl = memchr(accept_msg.p, '\n', accept_msg.len);
		if (nl) {
			sess_log(s, LOG_MAIN, "EHLO/HELO response must not contain newlines: message truncated: %d %s",
				code, sess_printable(s, accept_msg));
			accept_msg.len = (size_t)(nl - accept_msg.p);
		}
		xbuf_putsv(&r, accept_msg);
	} else {
		xbuf_printf(&r, "%s Hello ", s->active_hostname);
		if (o->ident.len) xbuf_printf(&r, SV_FMT " at ", SV_ARG(o->ident));
		xbuf_putsv(&r, o->host_name.len ? o->host_name : arg);
		if (o->host_address.len) xbuf_printf(&r, " [" SV_FMT "]", SV_ARG(o->host_address));
	}

	s->adv_pipelining = s->adv_dsn = s->adv_prdr = s->adv_smtputf8 = false;
	/* CHUNKING offered by an earlier EHLO stays offered after a HELO (Exim 4.96 decides it in
	 * EHLO only: BDAT after "EHLO, HELO" is taken, observed). */
	if (ehlo) s->adv_chunking = false;
	s->adv_pipe_connect = false;
	s->adv_auth = s->adv_size = s->adv_8bitmime = s->adv_starttls = false;
	if (ehlo) {
		long long limit = sess_size_limit(s);
		s->adv_size = true;
		if (limit > 0) xbuf_printf(&r, "\nSIZE %lld", limit);
		else xbuf_puts(&r, "\nSIZE");
		if (conf_main.accept_8bitmime) { s->adv_8bitmime = true; xbuf_puts(&r, "\n8BITMIME"); }
		if (sess_host_in(s, conf_main.dsn_advertise_hosts)) { s->adv_dsn = true; xbuf_puts(&r, "\nDSN"); }
		if (conf_main.acl_smtp_etrn) xbuf_puts(&r, "\nETRN");
		if (conf_main.acl_smtp_vrfy) xbuf_puts(&r, "\nVRFY");
		if (conf_main.acl_smtp_expn) xbuf_puts(&r, "\nEXPN");
		if (!s->controls.no_pipelining && sess_host_in(s, conf_main.pipelining_advertise_hosts)) {
			s->adv_pipelining = true;
			xbuf_puts(&r, "\nPIPELINING");
			/* Exim stops offering it once a DATA or BDAT has been taken on the connection
			 * (observed with Exim 4.96 -bh: even one refused for want of a recipient). */
			if (o->host_address.len && !s->data_cmd_seen
				&& sess_host_in(s, conf_main.pipelining_connect_advertise_hosts)) {
				xbuf_puts(&r, "\nPIPECONNECT");
				s->adv_pipe_connect = true;
			}
		}
		if (!s->authenticated && sess_host_in(s, conf_main.auth_advertise_hosts)) {
			xbuf mechs;
			xbuf_init(&mechs, s->work);
			auth_mechanisms(s, &mechs);
			s->auth_offered = sv_copy(s->conn, xbuf_sv(&mechs));
			if (mechs.len) { s->adv_auth = true; xbuf_printf(&r, "\nAUTH%s", xbuf_cstr(&mechs)); }
		}
		if (sess_host_in(s, conf_main.chunking_advertise_hosts)) { s->adv_chunking = true; xbuf_puts(&r, "\nCHUNKING"); }
		if (sess_tls_offerable(s)) { s->adv_starttls = true; xbuf_puts(&r, "\nSTARTTLS"); }
		if (conf_main.prdr_enable) { s->adv_prdr = true; xbuf_puts(&r, "\nPRDR"); }
		if (conf_main.accept_8bitmime && sess_host_in(s, conf_main.smtputf8_advertise_hosts)) {
			s->adv_smtputf8 = true;
			xbuf_puts(&r, "\nSMTPUTF8");
		}
		xbuf_puts(&r, "\nHELP");
	}
	sess_reply_lines(s, code, xbuf_sv(&r));
	return SESS_CONTINUE;
}

/* ---- MAIL --------------------------------------------------------------------------------- */

/* "unqualified sender rejected: <u> H=..." under log_selector smtp_syntax_error. */
static void sess_log_unqualified(smtp_session *s, const char *what, sv address)
{
	const log_config *lc = log_current_config();
	if (lc && logsel_has(&lc->selector, LS_SMTP_SYNTAX_ERROR))
		sess_log(s, LOG_MAIN, "unqualified %s rejected: <%s> %s%s", what, sess_printable(s, address),
			dupsv(s, s->host_tag),
			!s->origin.host_lookup_failed ? "" : s->origin.host_lookup_reason.len
				? dupsv(s, s->origin.host_lookup_reason) : " (failed to find host name from IP address)");
}

static smtp_features features(smtp_session *s)
{
	return (smtp_features){ .dsn = s->adv_dsn, .prdr = s->adv_prdr, .smtputf8 = s->adv_smtputf8,
		/* BODY= follows accept_8bitmime, advertised or not (Exim 4.96, observed after a refused
		 * EHLO that followed a HELO: MAIL takes parameters again, BODY=junk is refused). */
		.eightbitmime = conf_main.accept_8bitmime, .allow_domain_literals = conf_main.allow_domain_literals,
		.no_params = !s->esmtp, .strip_trailing_dot = conf_main.strip_trailing_dot,
		.utf8_addresses = conf_main.allow_utf8_domains || s->utf8_domains };
}

static sv qualify(smtp_session *s, sv local, const char *domain_opt)
{
	const char *d = domain_opt ? domain_opt : conf_main.qualify_domain;
	if (!d) d = conf_main.primary_hostname ? conf_main.primary_hostname : "";
	xbuf b;
	xbuf_init(&b, s->work);
	xbuf_printf(&b, SV_FMT "@%s", SV_ARG(local), d);
	sv r = xbuf_sv(&b);
	r.taint = local.taint;
	return r;
}

/* AUTH= on MAIL (RFC 4954 5), as Exim 4.96 takes it: the decoded value is $authenticated_sender
 * while acl_smtp_mailauth decides (without that ACL: only from an authenticated client); then
 * the authenticator's server_mail_auth_condition may still refuse it. A refused value is
 * logged and ignored; a deferring ACL refuses the MAIL (*next set, false returned).
 * "<>" and an empty value are passed over without a word. */
/* Exim takes MAIL's parameters from the right and acts on an AUTH= as it comes to it: when that
 * refuses the MAIL, a SIZE= to its left was never read, so $message_size does not show it
 * (observed: a later "${if >{$message_size}{100}}" in the AUTH ACL). auth_off is the AUTH=
 * value's offset in the argument. */
static void forget_size_left_of(smtp_session *s, size_t auth_off)
{
	sv a = s->cmd_arg;
	for (size_t i = 1; i + 5 <= a.len && i < auth_off; i++)
		if ((a.p[i - 1] == ' ' || a.p[i - 1] == '\t') && strncasecmp(a.p + i, "SIZE=", 5) == 0
			&& i + 5 < auth_off) {
			s->mail.size_given = false;
			s->mail.size = 0;
		}
}

static bool mail_auth_param(smtp_session *s, sv value, const char *work, sess_next *next)
{
	if (value.len == 0) return true;
	/* $authenticated_sender lasts the message, and a refused MAIL's until the next MAIL (so not
	 * in pool_msg): one buffer for the connection, reused, not a copy per message. */
	xbuf dec;
	xbuf_init(&dec, s->work);
	/* xtext is printable ASCII (RFC 3461 4): a control character or an 8-bit byte is invalid
	 * data, as a malformed "+XX" is (Exim 4.96, observed; DEL passes). */
	bool bad = false;
	for (size_t i = 0; i < value.len && !bad; i++)
		bad = (unsigned char)value.p[i] < 33 || (unsigned char)value.p[i] > 127;
	if (bad || (!sv_eq_cstr(value, "<>") && !codec_xtext_decode(value, &dec))) {
		/* Exim's decoder leaves what it decoded before the bad character in place as
		 * $authenticated_sender ("bad+zz" gives "bad": observed through def: in a later
		 * ACL; its copy is not terminated, so only that prefix is reproduced). */
		xbuf_reset(&dec);
		for (size_t i = 0; i < value.len; i++) {
			unsigned char ch = (unsigned char)value.p[i];
			if (ch < 33 || ch > 127 || ch == '=')
				break;
			if (ch != '+') {
				xbuf_putc(&dec, (char)ch);
				continue;
			}
			int hi = i + 2 < value.len ? codec_hex_digit((unsigned char)value.p[i + 1]) : -1;
			int lo = hi >= 0 ? codec_hex_digit((unsigned char)value.p[i + 2]) : -1;
			if (lo < 0)
				break;
			xbuf_putc(&dec, (char)(hi << 4 | lo));
			i += 2;
		}
		if (dec.len) {
			xbuf_reset(&s->auth_sender_buf);
			xbuf_putsv(&s->auth_sender_buf, xbuf_sv(&dec));
			s->origin.auth_sender = sv_tainted(xbuf_sv(&s->auth_sender_buf));
		}
		*next = sess_syntax_error(s, 501, "invalid data for AUTH", "invalid data for AUTH");
		return false;
	}
	if (sv_eq_cstr(value, "<>")) {
		if (s->authenticated) s->origin.auth_sender = sv_tainted(SV_LIT(""));
		return true;
	}
	xbuf_reset(&s->auth_sender_buf);
	xbuf_putsv(&s->auth_sender_buf, xbuf_sv(&dec));
	sv a = xbuf_sv(&s->auth_sender_buf);
	a.taint = 1;
	s->origin.auth_sender = a;
	acl_result rc = s->authenticated ? ACL_OK : ACL_FAIL;
	const char *why = "client not authenticated";
	acl_ctx c;
	if (conf_main.acl_smtp_mailauth) {
		why = "rejected by ACL";
		rc = sess_acl(s, ACL_WHERE_MAILAUTH, conf_main.acl_smtp_mailauth, SV_NULL, &c);
		s->mailauth_msg = sv_copy(s->work, xbuf_sv(&c.user_msg));
	}
	if (rc == ACL_OK && s->authenticated) {
		/* the authenticator's server_mail_auth_condition ($authenticated_sender set) */
		const driver_instance *d = auth_find_server(s->origin.auth_pubname);
		const char *cond = d ? auth_generic_option(d, "server_mail_auth_condition") : NULL;
		bool ok = true;
		xbuf err;
		xbuf_init(&err, s->work);
		if (cond && (xp_expand_bool(&s->env, sv_cstr(cond), &ok, &err) != XP_OK || !ok)) {
			rc = ACL_FAIL;
			xbuf w;
			xbuf_init(&w, s->work);
			xbuf_puts(&w, "server_mail_auth_condition failed");
			if (s->origin.auth_id.p) xbuf_printf(&w, ": authenticated ID=\"" SV_FMT "\"", SV_ARG(s->origin.auth_id));
			why = xbuf_cstr(&w);
		}
	}
	if (rc == ACL_OK) return true;
	if (rc == ACL_FAIL) {
		s->origin.auth_sender = SV_NULL;
		sess_log(s, LOG_MAIN, "ignoring AUTH=%s from %s (%s)", sess_printable(s, value), dupsv(s, s->host_tag), why);
		return true;
	}
	/* A deferring ACL leaves $authenticated_sender set until the next MAIL (the not-QUIT ACL
	 * sees it; Exim 4.96, observed). The refusal names the MAIL's argument after "FROM:" up
	 * to this AUTH= (Exim takes the
	 * parameters off from the end). value points into work, a copy of the argument. */
	sv arg = s->cmd_arg;
	if (value.p >= work && (size_t)(value.p - work) + value.len <= arg.len)
		arg = sv_sub(arg, 0, (size_t)(value.p - work) + value.len);
	if (arg.len >= 5 && sv_eqi(sv_sub(arg, 0, 5), SV_LIT("FROM:"))) arg = sv_sub(arg, 5, arg.len);
	while (arg.len && (arg.p[0] == ' ' || arg.p[0] == '\t')) arg = sv_sub(arg, 1, arg.len);
	xbuf what;
	xbuf_init(&what, s->work);
	xbuf_printf(&what, "MAILAUTH %s", sess_loggable(s, arg));
	*next = sess_acl_reply(s, ACL_WHERE_MAILAUTH, rc, &c, xbuf_cstr(&what));
	return false;
}

/* Exim counts PIPELINING as used when a MAIL or RCPT arrives with more input already waiting
 * (observed with a daemon; over -bs it never does). */
static void sess_note_pipelining(smtp_session *s)
{
	if (!s->adv_pipelining || s->mode != SMTP_MODE_DAEMON || s->pipelining_used)
		return;
	/* Only the <= line's L field shows it, and only with +pipelining: without that the socket
	 * need not be asked (a poll per MAIL and RCPT). */
	const log_config *lc = log_current_config();
	logsel def = logsel_default();
	if (!logsel_has(lc ? &lc->selector : &def, LS_PIPELINING))
		return;
	if (bio_input_pending(&s->io, 0))
		s->pipelining_used = true;
}

sess_next sess_mail(smtp_session *s)
{
	s->any_mail = true;   /* any MAIL command, even refused, spares "no MAIL" (Exim) */
	s->mail_cmds++;
	sess_ratelimit_mail(s);
	if (!s->helo_seen && s->mode != SMTP_MODE_BATCH && sess_host_in(s, conf_main.hosts_require_helo)) {
		sess_log(s, LOG_MAIN | LOG_REJECT, "rejected MAIL from %s: no HELO/EHLO given", dupsv(s, s->host_ident));
		/* Exim does not count this refusal against smtp_max_synprot_errors. */
		sess_reply(s, 503, "HELO or EHLO required");
		return SESS_CONTINUE;
	}
	if (s->mail_given) return sess_syntax_error(s, 503, "sender already given", "sender already given");
	/* Before the per-connection limit and before the transaction is reset (Exim's order). */
	if (s->cmd_arg.len == 0) {
		s->was_rej_mail = true;   /* refused like any MAIL, for the RCPTs pipelined behind it */
		/* a protocol error in Exim's log, where RCPT's twin is a syntax error (observed) */
		return sess_protocol_error(s, 501, "MAIL must have an address operand", "MAIL must have an address operand");
	}
	const char *per_conn = sess_expand(s, conf_main.smtp_accept_max_per_connection);
	long max_msgs = per_conn ? strtol(per_conn, NULL, 10) : 0;
	if (max_msgs > 0 && s->mail_cmds > max_msgs) {
		s->was_rej_mail = true;   /* RCPTs pipelined behind it are answered as after any refused MAIL */
		sess_log(s, LOG_MAIN | LOG_REJECT, "rejected MAIL command %s: too many messages in one connection",
			dupsv(s, s->host_tag));
		sess_reply(s, 421, "too many messages in this connection");
		return SESS_CONTINUE;
	}
	sess_set_log_id(s, NULL);
	/* From here a refused MAIL counts as refused for the RCPTs pipelined behind it, and the
	 * remembered RCPT replies of an earlier attempt are forgotten (Exim resets here). */
	s->was_rej_mail = true;
	s->origin.auth_sender = SV_NULL;   /* an earlier MAIL's AUTH= (a refused one's too) */
	acl_ctx_warned_reset(&s->acl);   /* each MAIL's warn texts are logged afresh (observed) */
	s->rcpt_count = s->rcpt_defer_count = s->rcpt_fail_count = s->rcpt_ok_count = 0;  /* RCPTs without MAIL */
	s->rcpt_error = SV_NULL;
	s->rcpt_errors_differ = false;
	s->rcpt_error_trimmed = false;
	s->rcpt_toomany_logged = false;
	s->cutthrough = false;

	smtp_time_rewrite(s);
	char *work = arena_alloc(s->work, s->cmd_arg.len + 1);
	xbuf msg, addr;
	xbuf_init(&msg, s->work);
	xbuf_init(&addr, s->work);
	smtp_addr_result r = { .msg = &msg, .addr = &addr };
	smtp_features f = features(s);
	s->pipelining_used = false;
	sess_note_pipelining(s);
	bool parsed = smtp_parse_mail(s->cmd_arg, work, &f, &s->mail, &r);
	/* Exim allows UTF-8 domains from the first SMTPUTF8 on, for the rest of the connection. */
	if (s->mail.smtputf8) s->utf8_domains = true;
	/* $received_protocol gets its "utf8" (utf8esmtp, utf8esmtpa ...) as soon as the parameter
	 * is taken, so also when this MAIL is then refused (SIZE, AUTH=, the ACL): a later message
	 * is logged with it (Exim 4.96, observed). */
	if (s->mail.smtputf8 && !s->p->protocol.len && !s->base_protocol.len) {
		s->base_protocol = s->origin.protocol;
		s->origin.protocol = sv_cstr(arena_printf(s->conn, "utf8" SV_FMT, SV_ARG(s->base_protocol)));
	}
	/* Exim acts on each AUTH= while taking the parameters off, before the address is read. */
	s->mailauth_msg = SV_NULL;
	for (unsigned i = 0; i < s->mail.n_auths; i++) {
		sess_next next;
		if (!mail_auth_param(s, s->mail.auths[i], work, &next)) {
			forget_size_left_of(s, (size_t)(s->mail.auths[i].p - work));
			return next;
		}
	}
	if (!parsed)
		return sess_syntax_error(s, r.code, xbuf_cstr(&msg) + r.why_off, xbuf_cstr(&msg));

	long long limit = sess_size_limit(s);
	if (s->mail.size_given && limit > 0 && s->mail.size > limit) {
		if (!sess_log_selected(LS_SIZE_REJECT))
			;
		else if (s->mail.size_clamped)
			sess_log(s, LOG_MAIN | LOG_REJECT, "rejected MAIL FROM:<" SV_FMT "> %s: message too big: "
				"size>=%lld max=%lld", SV_ARG(r.address), dupsv(s, s->host_tag), s->mail.size, limit);
		else
			sess_log(s, LOG_MAIN | LOG_REJECT, "rejected MAIL FROM:<" SV_FMT "> %s: message too big: "
				"size=%lld max=%lld", SV_ARG(r.address), dupsv(s, s->host_tag), s->mail.size, limit);
		sess_reply(s, 552, "Message size exceeds maximum permitted");
		return SESS_CONTINUE;
	}
	/* Room on the spool and log disks, at every MAIL (smtp_check_spool_space only adds the SIZE
	 * value to what Exim prints in its debug output: the check itself is the same). */
	if (!receive_space_ok()) {
		sess_reply(s, 452, "Space shortage, please try later");
		return SESS_CONTINUE;
	}

	sv sender = sv_copy(s->work, r.address);
	if (!r.null_address && !r.has_domain) {
		/* Local input may use unqualified addresses; remote hosts only when listed. */
		if (s->origin.host_address.len && !sess_host_in(s, conf_main.sender_unqualified_hosts)) {
			xbuf t;
			xbuf_init(&t, s->work);
			xbuf_printf(&t, SV_FMT ": sender address must contain a domain", SV_ARG(r.cmd_data));
			/* Not counted as a syntax error (Exim 4.96), but logged under its selector */
			sess_log_unqualified(s, "sender", r.address);
			sess_reply(s, 501, "%s", xbuf_cstr(&t));
			return SESS_CONTINUE;
		}
		sender = qualify(s, sender, NULL);
	}
	/* A local untrusted caller cannot choose the envelope sender, except as
	 * untrusted_set_sender allows: the sender is the caller's own address. */
	bool set_untrusted = false;
	sv replacement = SV_NULL;
	if (s->mode == SMTP_MODE_BS && !s->origin.host_address.len && !s->p->trusted_caller) {
		bool allowed = false;
		if (conf_main.untrusted_set_sender) {
			const char *l = sess_expand(s, conf_main.untrusted_set_sender);
			xbuf err;
			xbuf_init(&err, s->work);
			match_ctx mc = { .primary_hostname = conf_main.primary_hostname };
			allowed = l && match_isinlist(sender, sv_cstr(l), 0, MATCH_ADDRESS, true, &mc, &err) == 0;
		}
		if (!allowed) replacement = qualify(s, s->origin.login, NULL);
		else set_untrusted = true;
	}

	s->msg = message_new(pool_msg);
	s->msg->origin = &s->origin;
	s->msg->sender = sv_copy(pool_msg, sender);
	s->msg->smtputf8 = s->mail.smtputf8;
	s->msg->sender_set_untrusted = set_untrusted;
	s->local_sender_replacement = replacement.len ? sv_copy(pool_msg, replacement) : SV_NULL;
	s->msg->dsn_ret = s->mail.ret;
	if (s->mail.envid_given) {
		xbuf e;
		xbuf_init(&e, pool_msg);
		if (codec_xtext_decode(s->mail.envid, &e)) s->msg->dsn_envid = sv_tainted(xbuf_sv(&e));
	}
	s->sender = s->msg->sender;
	sess_set_message_vars(s, s->msg);

	acl_ctx c;
	/* Batched SMTP: acl_not_smtp_start here, once the sender is known, for its modifiers (its
	 * verdict is not used, as for -bm); the MAIL ACL is not run (session_acl.c). */
	if (s->mode == SMTP_MODE_BATCH && conf_main.acl_not_smtp_start && *conf_main.acl_not_smtp_start)
		sess_acl(s, ACL_WHERE_NOTSMTP_START, conf_main.acl_not_smtp_start, SV_NULL, &c);
	acl_result rc = sess_acl(s, ACL_WHERE_MAIL, conf_main.acl_smtp_mail, SV_NULL, &c);
	/* discard: accepted, and every recipient of this message will be discarded */
	if (rc == ACL_DISCARD) {
		s->mail_discarded = true;
		s->mail_discard_why = sv_copy(pool_msg, acl_log_text(&c));   /* for this message's RCPTs */
	}
	else if (rc != ACL_OK) {
		xbuf what;
		xbuf_init(&what, s->work);
		/* Exim shows the command's address text as given (after its parameters). */
		xbuf_printf(&what, "MAIL %s", sess_loggable(s, r.cmd_data));
		sess_next n = sess_acl_reply(s, ACL_WHERE_MAIL, rc, &c, xbuf_cstr(&what));
		/* $authenticated_sender outlives the refused MAIL until the next one (Exim 4.96,
		 * observed in a later AUTH ACL) */
		sv auth_sender = s->origin.auth_sender;
		/* So does its SIZE= as $message_size (observed in the not-QUIT ACL) */
		bool size_given = s->mail.size_given;
		long long size = s->mail.size;
		sess_reset_transaction(s);
		s->origin.auth_sender = auth_sender;
		s->mail.size_given = size_given;
		s->mail.size = size;
		return n;
	}
	s->mail_given = true;
	s->was_rej_mail = false;
	s->prdr_requested = s->mail.prdr;
	spool_spares_prepare(); /* files for this message, made while RCPT and DATA come in */
	/* Without a MAIL ACL, the MAILAUTH ACL's message (accepting or not) is the reply's text
	 * (Exim 4.96, observed: one message variable serves both). */
	if (!conf_main.acl_smtp_mail && s->mailauth_msg.len)
		sess_reply_message(s, 250, s->mailauth_msg);
	else
		sess_accept_reply(s, &c, 250, s->prdr_requested ? "OK, PRDR Requested" : "OK");
	return SESS_CONTINUE;
}

/* ---- RCPT --------------------------------------------------------------------------------- */

/* Exim 4.96 (observed under -bh, where no connection is made to a transport's hosts): with
 * cutthrough on, an accepted RCPT is routed once more. Unrouteable: refused as the ACL's deny
 * would be (its message and log_message, else "Administrative prohibition"), and cutthrough is
 * over; a deferral accepts it and ends cutthrough; routing to more than one address (a
 * redirection to a list) ends it too. */
static void route_log_line(void *ctx, unsigned which, const char *text);

static acl_result cutthrough_route(smtp_session *s, sv rcpt)
{
	size_t routed = 0;
	acl_result rc = route_cutthrough(&s->env, s->work, s->sender, rcpt, route_log_line, s, &routed);
	if (rc != ACL_OK || routed != 1)
		s->cutthrough = false;
	return rc == ACL_FAIL ? ACL_FAIL : ACL_OK;
}

sess_next sess_rcpt(smtp_session *s)
{
	s->was_rcpt = s->rcpt_in_progress = true;
	if (!s->mail_given) {
		/* Exim counts these too, as failed ($rcpt_count and $rcpt_fail_count in a later ACL,
		 * e.g. QUIT; observed), until the next MAIL resets the counts. */
		s->rcpt_count++;
		s->rcpt_fail_count++;
		/* After a refused MAIL, with PIPELINING advertised, Exim takes the client to be
		 * pipelining: 503 without counting a protocol error, for every RCPT that follows. */
		if (s->adv_pipelining && s->last_was_rej_mail) {
			s->was_rej_mail = true;
			sess_reply(s, 503, "sender not yet given");
			return SESS_CONTINUE;
		}
		s->was_rcpt = false;
		return sess_syntax_error(s, 503, "sender not yet given", "sender not yet given");
	}
	sess_note_pipelining(s);
	sess_ratelimit_rcpt(s);
	/* Every RCPT of the transaction counts ($rcpt_count, recipients_max), refused ones too;
	 * those refused for their syntax count as failed. */
	s->rcpt_count++;
	if (s->cmd_arg.len == 0) {
		s->rcpt_fail_count++;
		return sess_syntax_error(s, 501, "RCPT must have an address operand", "RCPT must have an address operand");
	}
	smtp_time_rewrite(s);
	char *work = arena_alloc(s->work, s->cmd_arg.len + 1);
	xbuf msg, addr;
	xbuf_init(&msg, s->work);
	xbuf_init(&addr, s->work);
	smtp_addr_result r = { .msg = &msg, .addr = &addr };
	smtp_features f = features(s);
	smtp_rcpt_params rp;
	if (!smtp_parse_rcpt(s->cmd_arg, work, &f, &rp, &r)) {
		s->rcpt_fail_count++;
		return sess_syntax_error(s, r.code, xbuf_cstr(&msg) + r.why_off, xbuf_cstr(&msg));
	}

	sv rcpt = sv_copy(s->work, r.address);
	if (!r.has_domain) {
		if (sv_eqi(rcpt, SV_LIT("postmaster")) || !s->origin.host_address.len
			|| sess_host_in(s, conf_main.recipient_unqualified_hosts)) {
			rcpt = qualify(s, rcpt, conf_main.qualify_recipient);
		} else {
			xbuf t;
			xbuf_init(&t, s->work);
			xbuf_printf(&t, SV_FMT ": recipient address must contain a domain", SV_ARG(r.cmd_data));
			/* Not counted as a syntax error (Exim 4.96), but logged under its selector */
			sess_log_unqualified(s, "recipient", r.address);
			s->rcpt_fail_count++;
			sess_reply(s, 501, "%s", xbuf_cstr(&t));
			return SESS_CONTINUE;
		}
	}
	if (conf_main.recipients_max > 0 && s->rcpt_count > conf_main.recipients_max) {
		s->rcpt_fail_count++;
		/* Logged once per message, for the first recipient refused for this. */
		if (!s->rcpt_toomany_logged)
			sess_log(s, LOG_MAIN, "too many recipients: %s: sender=<" SV_FMT "> %s",
				conf_main.recipients_max_reject ? "message rejected" : "excess temporarily rejected",
				SV_ARG(s->sender), dupsv(s, s->host_tag));
		s->rcpt_toomany_logged = true;
		sess_reply(s, conf_main.recipients_max_reject ? 552 : 452, "too many recipients");
		return SESS_CONTINUE;
	}

	acl_ctx c;
	acl_result rc = sess_acl(s, ACL_WHERE_RCPT, conf_main.acl_smtp_rcpt, rcpt, &c);
	xbuf what;
	xbuf_init(&what, s->work);
	xbuf_printf(&what, "RCPT %s", sess_loggable(s, r.cmd_data));
	if (c.controls.cutthrough_delivery && s->rcpt_count == 1 && !s->prdr_requested)
		s->cutthrough = true;
	if (rc == ACL_OK && s->cutthrough)
		rc = cutthrough_route(s, rcpt);
	if (rc == ACL_DISCARD) {
		/* This line shows the whole argument, parameters too, and the discarding statement's
		 * text (the MAIL ACL's for a discarded sender); its message is the reply. */
		sv why = s->mail_discarded ? s->mail_discard_why : acl_log_text(&c);
		/* The reply first: a wrong code in its message is logged before this line (Exim 4.96). */
		if (s->mail_discarded) sess_reply(s, 250, "Accepted");
		else sess_accept_reply(s, &c, 250, "Accepted");
		sess_log(s, LOG_MAIN, "%s F=<" SV_FMT "> RCPT %s: discarded by %s ACL%s%s",
			dupsv(s, s->host_tag), SV_ARG(s->sender), sess_loggable(s, s->cmd_arg), s->mail_discarded ? "MAIL" : "RCPT",
			why.len ? ": " : "", why.len ? sess_loggable_lines(s, why) : "");
		s->rcpt_ok_count++;
		s->rcpt_discarded_since_data = true;
		return SESS_CONTINUE;
	}
	if (rc != ACL_OK) {
		if (rc == ACL_DEFER || rc == ACL_ERROR) s->rcpt_defer_count++;
		else s->rcpt_fail_count++;
		return sess_acl_reply(s, ACL_WHERE_RCPT, rc, &c, xbuf_cstr(&what));
	}
	message_add_recipient(s->msg, sv_copy(pool_msg, rcpt));
	msg_recipient *mr = message_last_recipient(s->msg);
	if (rp.notify_given) mr->dsn_flags = rp.notify;
	if (rp.orcpt.len) {
		/* "rfc822;addr" with the address xtext-decoded, as the spool keeps it */
		xbuf o;
		xbuf_init(&o, pool_msg);
		const char *semi = memchr(rp.orcpt.p, ';', rp.orcpt.len);
		if (semi) {
			size_t k = (size_t)(semi - rp.orcpt.p) + 1;
			xbuf_put(&o, rp.orcpt.p, k);
			if (!codec_xtext_decode(sv_sub(rp.orcpt, k, rp.orcpt.len - k), &o)) xbuf_truncate(&o, 0);
		}
		if (o.len) mr->orcpt = sv_tainted(xbuf_sv(&o));
	}
	s->rcpt_ok_count++;
	sess_accept_reply(s, &c, 250, "Accepted");
	return SESS_CONTINUE;
}

/* ---- VRFY, EXPN, ETRN, HELP --------------------------------------------------------------- */

static void route_log_line(void *ctx, unsigned which, const char *text)
{
	sess_log(ctx, which, "%s", text);
}

sess_next sess_vrfy_expn(smtp_session *s, bool expn)
{
	const char *verb = expn ? "EXPN" : "VRFY";
	sv arg = s->cmd_arg;
	const char *spec = expn ? conf_main.acl_smtp_expn : conf_main.acl_smtp_vrfy;
	sv address = arg, as_given = arg;
	if (!expn) {
		/* The address is checked before the ACL (and without one): no parameters, the parser's
		 * own words after 501, and none of it counts as a syntax error (Exim 4.96). */
		if (arg.len == 0) {
			sess_reply(s, 501, "empty address");
			return SESS_CONTINUE;
		}
		xbuf addr, why;
		xbuf_init(&addr, s->work);
		xbuf_init(&why, s->work);
		bool is_null = false, has_domain = false;
		if (!smtp_parse_address_opts(arg, false, conf_main.allow_domain_literals, conf_main.strip_trailing_dot,
				conf_main.allow_utf8_domains || s->utf8_domains, &addr, &is_null, &has_domain, &why)) {
			sess_reply(s, 501, "%s", xbuf_cstr(&why));
			return SESS_CONTINUE;
		}
		address = sv_tainted(sv_copy(s->work, xbuf_sv(&addr)));
		if (!has_domain) {
			if (!sv_eqi(address, SV_LIT("postmaster"))
				&& !sess_host_in(s, conf_main.recipient_unqualified_hosts)) {
				sess_log_unqualified(s, "verify", address);   /* as RCPT's (Exim 4.96, observed) */
				sess_reply(s, 501, SV_FMT ": recipient address must contain a domain", SV_ARG(arg));
				return SESS_CONTINUE;
			}
			address = qualify(s, address, conf_main.qualify_recipient);
		}
	}
	if (!spec) {
		sess_log(s, LOG_MAIN | LOG_REJECT, "%s rejected %s %s", dupsv(s, s->host_tag), verb, sess_loggable(s, arg));
		sess_reply(s, expn ? 550 : 252, "Administrative prohibition");
		return SESS_CONTINUE;
	}
	acl_ctx c;
	/* Only VRFY's ACL sees the address as $local_part and $domain (Exim 4.96: they are empty in
	 * the EXPN ACL, observed). */
	acl_result rc = sess_acl(s, expn ? ACL_WHERE_EXPN : ACL_WHERE_VRFY, spec, expn ? SV_NULL : address, &c);
	if (rc != ACL_OK) {
		xbuf what;
		xbuf_init(&what, s->work);
		xbuf_printf(&what, "%s %s", verb, sess_printable(s, arg));
		return sess_acl_reply(s, expn ? ACL_WHERE_EXPN : ACL_WHERE_VRFY, rc, &c, xbuf_cstr(&what));
	}
	/* Accepted: the answer comes from routing the address (no routers: nothing is routable). */
	if (!expn) {
		xbuf um, lm;
		xbuf_init(&um, s->work);
		xbuf_init(&lm, s->work);
		bool empty = false;
		acl_result vr = route_verify(&s->env, s->work, SV_NULL, true, address, SV_NULL, &um, &lm, &empty,
			route_log_line, s);
		if (vr == ACL_OK) {
			sess_reply(s, 250, "<" SV_FMT "> is deliverable", SV_ARG(address));
		} else if (vr == ACL_FAIL) {
			/* the argument as the client gave it ("<a@b>", "Name <a@b>"), as Exim logs it */
			sess_log(s, LOG_MAIN, "VRFY failed for %s %s", sess_loggable(s, sv_trim(as_given)),
				dupsv(s, s->host_tag));
			sess_reply(s, 550, "<" SV_FMT "> %s", SV_ARG(address),
				um.len || empty ? xbuf_cstr(&um) : "Unrouteable address");
		} else if (um.len || empty) {
			/* a :defer: text is told (Exim 4.96, observed: "451 <a@b> text", even empty) */
			sess_reply(s, 451, "<" SV_FMT "> %s", SV_ARG(address), xbuf_cstr(&um));
		} else {
			sess_reply(s, 451, "Cannot resolve <" SV_FMT "> at this time", SV_ARG(address));
		}
	} else {
		/* EXPN shows one level of redirection (src/core/route_verify.h route_expn). */
		xbuf lines;
		xbuf_init(&lines, s->work);
		sv q;
		acl_result er = route_expn(&s->env, s->work, address, &lines, &q);
		if (er == ACL_OK)
			sess_reply_lines(s, 250, xbuf_sv(&lines));
		else
			sess_reply(s, 553, SV_FMT " %s", SV_ARG(q),
				er == ACL_FAIL ? "is undeliverable" : "cannot be resolved at this time");
	}
	return SESS_CONTINUE;
}

sess_next sess_etrn(smtp_session *s)
{
	sv arg = s->cmd_arg;
	if (s->mail_given)
		return sess_syntax_error(s, 503, "ETRN is not permitted inside a transaction",
			"ETRN is not permitted inside a transaction");
	if (sess_log_selected(LS_ETRN))
		sess_log(s, LOG_MAIN, "ETRN %s received from %s", sess_printable(s, arg), dupsv(s, s->host_ident));
	if (!conf_main.acl_smtp_etrn) {
		sess_log(s, LOG_MAIN | LOG_REJECT, "%s rejected ETRN %s", dupsv(s, s->host_tag), sess_printable(s, arg));
		sess_reply(s, 458, "Administrative prohibition");
		return SESS_CONTINUE;
	}
	acl_ctx c;
	acl_result rc = sess_acl(s, ACL_WHERE_ETRN, conf_main.acl_smtp_etrn, SV_NULL, &c);
	if (rc != ACL_OK) {
		xbuf what;
		xbuf_init(&what, s->work);
		xbuf_printf(&what, "ETRN %s", sess_printable(s, arg));
		return sess_acl_reply(s, ACL_WHERE_ETRN, rc, &c, xbuf_cstr(&what));
	}
	if (!conf_main.smtp_etrn_command) {
		/* Without a command, ETRN starts a queue run for the named domain: "#" form only. */
		if (arg.len == 0 || arg.p[0] != '#')
			return sess_syntax_error(s, 501, "argument must begin with #", "argument must begin with #");
		return sess_etrn_queue_run(s, arg, &c);
	}
	return sess_etrn_command(s, arg, &c);
}

sess_next sess_help(smtp_session *s)
{
	xbuf r;
	xbuf_init(&r, s->work);
	xbuf_puts(&r, "Commands supported:\nAUTH");
	if (sess_host_in(s, conf_main.tls_advertise_hosts)) xbuf_puts(&r, " STARTTLS");
	xbuf_puts(&r, " HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP");
	if (conf_main.acl_smtp_etrn) xbuf_puts(&r, " ETRN");
	if (conf_main.acl_smtp_expn) xbuf_puts(&r, " EXPN");
	if (conf_main.acl_smtp_vrfy) xbuf_puts(&r, " VRFY");
	sess_reply_lines(s, 214, xbuf_sv(&r));
	return SESS_CONTINUE;
}
