/* The SMTP session's variables for expansions and ACLs: what the connection and the command
 * being processed define ($smtp_command, $sender_helo_name, $sender_fullhost, $rcpt_count...).
 * Message variables come from the message provider (core/message.h), which is asked after this
 * one; both read the same msg_origin. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf/main_options.h"
#include "core/receive.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "lib/logsel.h"
#include "smtp/proxy_read.h"
#include "smtp/session_int.h"

static void put_int(xbuf *out, long long v)
{
	xbuf_printf(out, "%lld", v);
}

/* The HELO name is an address literal ("[1.2.3.4]", "[IPv6:...]", "[::1]") of the client's
 * own address. */
static bool helo_is_own_literal(const msg_origin *o)
{
	sv h = o->helo_name;
	if (h.len < 3 || h.p[0] != '[' || h.p[h.len - 1] != ']') return false;
	sv inner = sv_sub(h, 1, h.len - 2);
	if (inner.len > 5 && strncasecmp(inner.p, "IPv6:", 5) == 0) inner = sv_sub(inner, 5, inner.len - 5);
	ip_addr a, b;
	return ip_parse(inner, &a) && ip_parse(o->host_address, &b) && ip_equal(&a, &b);
}

/* "[ip]", "name ([ip])" with " helo=..."/" ident=..." inside the parentheses, as Exim's
 * $sender_rcvhost; a HELO name that is the client's own address literal is left out. Under log_selector incoming_port the port follows the address inside the
 * parentheses ("name ([ip]:port ...)"), or is "port=N" first in them when there is no name
 * (observed: "[127.0.0.1] (port=47533 helo=x ident=fred)"). */
static void rcvhost(const smtp_session *s, xbuf *out)
{
	const msg_origin *o = &s->origin;
	if (!o->host_address.len) return;
	msg_origin without_helo;
	o = msg_origin_for_texts(o, &without_helo);   /* -bS with -oMa, a refused HELO (core/message.h) */
	const log_config *lc = log_current_config();
	bool port = lc && logsel_has(&lc->selector, LS_INCOMING_PORT) && o->host_port > 0;
	bool name = o->host_name.len > 0;
	/* An empty HELO name (helo_accept_junk_hosts) shows as "helo=" (Exim 4.96, observed). */
	bool helo = o->helo_name.p && !(name && sv_eqi(o->helo_name, o->host_name)) && !helo_is_own_literal(o);
	if (name) {
		/* With both a HELO name shown and an ident Exim folds the value before the parenthesis
		 * (observed: with only one of them it does not, whatever the length). */
		xbuf_printf(out, SV_FMT "%s([" SV_FMT "]", SV_ARG(o->host_name), helo && o->ident.len ? "\n\t" : " ",
			SV_ARG(o->host_address));
		if (port) xbuf_printf(out, ":%d", o->host_port);
		if (helo) xbuf_printf(out, " helo=" SV_FMT, SV_ARG(o->helo_name));
		if (o->ident.len) xbuf_printf(out, " ident=" SV_FMT, SV_ARG(o->ident));
		xbuf_putc(out, ')');
		return;
	}
	xbuf_printf(out, "[" SV_FMT "]", SV_ARG(o->host_address));
	if (!helo && !o->ident.len && !port) return;
	const char *sep = "";
	xbuf_puts(out, " (");
	if (port) { xbuf_printf(out, "port=%d", o->host_port); sep = " "; }
	if (helo) { xbuf_printf(out, "%shelo=" SV_FMT, sep, SV_ARG(o->helo_name)); sep = " "; }
	if (o->ident.len) xbuf_printf(out, "%sident=" SV_FMT, sep, SV_ARG(o->ident));
	xbuf_putc(out, ')');
}

static bool get(void *ctx, sv name, xbuf *out)
{
	smtp_session *s = ctx;
	const msg_origin *o = &s->origin;
#define IS(n) sv_eq_cstr(name, n)
	if (IS("smtp_command")) xbuf_putsv(out, s->cmd_line);
	else if (IS("smtp_command_argument")) xbuf_putsv(out, s->cmd_arg);
	else if (IS("smtp_active_hostname")) xbuf_puts(out, s->active_hostname);
	else if (IS("smtp_notquit_reason")) { if (s->notquit_reason) xbuf_puts(out, s->notquit_reason); }
	else if (IS("sender_helo_name")) xbuf_putsv(out, o->helo_name);
	else if (IS("sender_host_address")) xbuf_putsv(out, o->host_address);
	else if (IS("sender_host_port")) { if (o->host_address.len) put_int(out, o->host_port); }
	else if (IS("sender_host_name")) {
		/* Exim looks the name up the first time it is asked for. */
		sess_lookup_host_name(s);
		xbuf_putsv(out, o->host_name);
	}
	else if (IS("sender_ident")) xbuf_putsv(out, o->ident);
	else if (IS("sender_fullhost")) {
		if (o->host_address.len) xbuf_putsv(out, sv_sub(s->host_ident, 0, s->host_full_len));
	}
	else if (IS("sender_rcvhost")) rcvhost(s, out);
	else if (IS("received_ip_address") || IS("interface_address")) xbuf_putsv(out, o->interface_address);
	else if (IS("received_port") || IS("interface_port")) { if (o->interface_address.len) put_int(out, o->interface_port); }
	else if (IS("received_protocol")) xbuf_putsv(out, o->protocol);
	else if (IS("authenticated_id")) xbuf_putsv(out, o->auth_id);
	else if (IS("authenticated_sender")) xbuf_putsv(out, o->auth_sender);
	else if (IS("sender_host_authenticated")) xbuf_putsv(out, o->auth_driver);
	else if (IS("host_lookup_failed")) xbuf_puts(out, o->host_lookup_failed ? "1" : "0");
	else if (IS("host_lookup_deferred")) xbuf_puts(out, o->host_lookup_deferred ? "1" : "0");
	else if (IS("sender_address") || IS("sender_address_local_part") || IS("sender_address_domain")) {
		if (!s->mail_given && !s->msg) {
			/* A local session (-bs, -bh) starts with the caller's address as the sender, seen
			 * by the connect ACL and the banner; Exim clears it before the first command. */
			if (!s->commands_started && s->mode != SMTP_MODE_DAEMON) return false;
			return true;
		}
		sv a = s->sender_replaced && s->msg ? s->msg->sender : s->sender;
		size_t at = a.len;
		while (at > 0 && a.p[at - 1] != '@') at--;
		if (IS("sender_address")) xbuf_putsv(out, a);
		else if (IS("sender_address_domain")) { if (at) xbuf_putsv(out, sv_sub(a, at, a.len - at)); }
		else xbuf_putsv(out, at ? sv_sub(a, 0, at - 1) : a);
	}
	else if (IS("rcpt_count")) put_int(out, s->rcpt_count);
	else if (IS("rcpt_defer_count")) put_int(out, s->rcpt_defer_count);
	else if (IS("rcpt_fail_count")) put_int(out, s->rcpt_fail_count);
	else if (IS("recipients_count")) put_int(out, s->msg ? (long long)s->msg->nrcpt : 0);
	/* "yes"/"no"; from DATA on "no" unless the PRDR phase runs (more than one recipient and
	 * acl_smtp_data_prdr set; Exim 4.96, observed) */
	else if (IS("prdr_requested"))
		xbuf_puts(out, s->recv ? (s->prdr_requested && s->prdr_ran ? "yes" : "no")
			: s->prdr_requested || s->mail.prdr ? "yes" : "no");   /* the MAIL ACL sees it already */
	else if (IS("proxy_session")) xbuf_puts(out, o->proxy_session ? "yes" : "");
	else if (IS("proxy_local_address") || IS("proxy_host_address")) xbuf_putsv(out, o->proxy_local_address);
	else if (IS("proxy_local_port") || IS("proxy_host_port")) put_int(out, o->proxy_local_port);
	else if (IS("proxy_external_address") || IS("proxy_target_address")) xbuf_putsv(out, o->proxy_external_address);
	else if (IS("proxy_external_port") || IS("proxy_target_port")) put_int(out, o->proxy_external_port);
	else if (IS("message_size") && !s->recv)   /* 0 before the first command (connect ACL) */
		put_int(out, !s->commands_started ? 0 : s->mail.size_given ? s->mail.size : -1);
	else if (IS("message_size") || IS("message_linecount")) {
		/* as received, before the Received header */
		long long size, lines;
		sess_received_counts(s, &size, &lines);
		put_int(out, IS("message_size") ? size : lines);
	}
	else if (IS("local_part") || IS("domain")) {
		if (!s->cur_rcpt.len) return false;
		const char *at = memchr(s->cur_rcpt.p, '@', s->cur_rcpt.len);
		const char *rat = at;
		for (const char *q = at; q && q < s->cur_rcpt.p + s->cur_rcpt.len; q++) if (*q == '@') rat = q;
		size_t k = rat ? (size_t)(rat - s->cur_rcpt.p) : s->cur_rcpt.len;
		/* Exim 4.96 lower-cases both for the ACL; control = caseful_local_part brings the
		 * local part's case back (observed with -bh) */
		sv lp = acl_local_part(s->work, s->cur_rcpt);
		sv dom = rat ? sv_sub(s->cur_rcpt, k + 1, s->cur_rcpt.len - k - 1) : SV_NULL;
		/* percent_hack_domains: the ACL sees "a%b@c" as a@b, again while the new domain is in
		 * the list (Exim 4.96, observed; the recipient itself stays as it was given). */
		for (const char *pct; conf_main.percent_hack_domains && dom.p
			&& (pct = memrchr(lp.p, '%', lp.len)) != NULL
			&& sess_domain_in(s, conf_main.percent_hack_domains, dom);) {
			dom = sv_make(pct + 1, (size_t)(lp.p + lp.len - pct - 1));
			lp.len = (size_t)(pct - lp.p);
		}
		sv v = IS("local_part") ? lp : dom;
		size_t from = out->len;
		xbuf_putsv(out, v);
		if (!IS("local_part") || !s->acl.controls.caseful_local_part)
			for (size_t i = from; i < out->len; i++)
				out->p[i] = (char)tolower((unsigned char)out->p[i]);
	}
	else return false;
#undef IS
	return true;
}

void sess_set_message_vars(smtp_session *s, const message *m)
{
	/* Re-initialising the provider must keep its place in the chain. */
	xp_provider *next = s->msgvars.p.next;
	message_vars_init(&s->msgvars, m, &s->origin);
	s->msgvars.p.next = next;
}

void sess_vars_init(smtp_session *s)
{
	message_vars_init(&s->msgvars, NULL, &s->origin);
	xp_env_push_provider(&s->env, &s->msgvars.p);
	proxy_vars_provider(NULL, &s->proxy_vars);
	xp_env_push_provider(&s->env, &s->proxy_vars);
	s->vars = (xp_provider){ .get = get, .ctx = s };
	xp_env_push_provider(&s->env, &s->vars);
	sess_acl_reset(s);
	acl_ctx_init(&s->expand_acl, s->conn, ACL_WHERE_UNKNOWN, &s->env);
	s->expand_acl.origin = &s->origin;
	s->expand_acl.smtp_session = true;
	s->hooks = (xp_hooks){ .acl = acl_expand_hook, .ctx = &s->expand_acl };
	s->env.hooks = &s->hooks;
}
