/* The expansion variables a message and the connection it came on define (core/message.h).
 *
 * The provider answers only for names it knows AND only when it has the structure the value
 * comes from; otherwise it declines, so the expansion engine's built-in defaults (Exim's values
 * outside a message: "0", "-1", "no", empty) apply. Values are read live from the structures.
 * Taint follows the source: what came from the network (host names, HELO, addresses, ACL
 * variables set from such data) keeps its sv taint bit.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/message.h"
#include "lib/log.h"

static void put_num(xbuf *out, long long n)
{
	xbuf_printf(out, "%lld", n);
}

static bool has_incoming_port(void)
{
	const log_config *c = log_current_config();
	return c && logsel_has(&c->selector, LS_INCOMING_PORT);
}

/* "[addr]" or "[addr]:port" (log_selector +incoming_port), as Exim shows the client. */
static void put_addrport(const msg_origin *o, xbuf *out)
{
	xbuf_putc(out, '[');
	xbuf_putsv(out, o->host_address);
	xbuf_putc(out, ']');
	if (has_incoming_port() && o->host_port)   /* -bh without a port shows none (Exim) */
		xbuf_printf(out, ":%d", o->host_port);
}

/* Whether the HELO name is just the client's address as a literal ("[192.0.2.1]"), which Exim
 * does not repeat where it already shows the address. */
static bool helo_is_address_literal(const msg_origin *o)
{
	sv h = o->helo_name;
	return h.len == o->host_address.len + 2 && h.p[0] == '[' && h.p[h.len - 1] == ']' &&
		memcmp(h.p + 1, o->host_address.p, o->host_address.len) == 0;
}

/* $sender_fullhost: "name (helo) [addr]", the helo part only when it says something new. */
void message_sender_fullhost(const msg_origin *o, xbuf *out)
{
	if (!o || !o->host_address.len)
		return;
	msg_origin without_helo;
	o = msg_origin_for_texts(o, &without_helo);
	/* An empty HELO name (helo_accept_junk_hosts) is still a name given: "()" (Exim 4.96). */
	if (o->host_name.len) {
		xbuf_putsv(out, o->host_name);
		if (o->helo_name.p && !sv_eqi(o->helo_name, o->host_name) && !helo_is_address_literal(o)) {
			xbuf_puts(out, " (");
			xbuf_putsv(out, o->helo_name);
			xbuf_putc(out, ')');
		}
		xbuf_putc(out, ' ');
	} else if (o->helo_name.p) {
		xbuf_putc(out, '(');
		xbuf_putsv(out, o->helo_name);
		xbuf_puts(out, ") ");
	}
	put_addrport(o, out);
}

/* $sender_rcvhost, for Received: "name ([addr] helo=H ident=I)" with a line break before the
 * parenthesis when both a differing HELO name and an ident are shown (observed, not a length rule); "[addr] (helo=H ident=I)" without a name. */
void message_sender_rcvhost(const msg_origin *o, xbuf *out)
{
	if (!o || !o->host_address.len)
		return;
	msg_origin without_helo;
	o = msg_origin_for_texts(o, &without_helo);
	/* An empty HELO name shows as "helo=" (Exim 4.96, observed). */
	bool show_helo = o->helo_name.p && !helo_is_address_literal(o) &&
		!(o->host_name.len && sv_eqi(o->helo_name, o->host_name));
	if (o->host_name.len) {
		xbuf_putsv(out, o->host_name);
		xbuf_puts(out, show_helo && o->ident.len ? "\n\t(" : " (");
		put_addrport(o, out);
		if (show_helo) {
			xbuf_puts(out, " helo=");
			xbuf_putsv(out, o->helo_name);
		}
		if (o->ident.len) {
			xbuf_puts(out, " ident=");
			xbuf_putsv(out, o->ident);
		}
		xbuf_putc(out, ')');
		return;
	}
	/* Without a name the port is "port=N" inside the parentheses (observed, incoming_port). */
	xbuf_putc(out, '[');
	xbuf_putsv(out, o->host_address);
	xbuf_putc(out, ']');
	bool port = has_incoming_port() && o->host_port > 0;
	if (show_helo || o->ident.len || port) {
		xbuf_puts(out, " (");
		if (port)
			xbuf_printf(out, "port=%d%s", o->host_port, show_helo || o->ident.len ? " " : "");
		if (show_helo) {
			xbuf_puts(out, "helo=");
			xbuf_putsv(out, o->helo_name);
		}
		if (o->ident.len) {
			if (show_helo)
				xbuf_putc(out, ' ');
			xbuf_puts(out, "ident=");
			xbuf_putsv(out, o->ident);
		}
		xbuf_putc(out, ')');
	}
}

static bool origin_var(const msg_origin *o, sv name, xbuf *out)
{
#define IS(s) sv_eq_cstr(name, s)
	if (IS("sender_host_address")) xbuf_putsv(out, o->host_address);
	else if (IS("sender_host_port")) put_num(out, o->host_port);
	else if (IS("sender_host_name")) xbuf_putsv(out, o->host_name);
	else if (IS("sender_helo_name")) xbuf_putsv(out, o->helo_name);
	else if (IS("sender_ident")) xbuf_putsv(out, o->ident);
	else if (IS("sender_host_dnssec")) xbuf_puts(out, o->host_dnssec ? "yes" : "no");
	else if (IS("sender_fullhost")) message_sender_fullhost(o, out);
	else if (IS("sender_rcvhost")) message_sender_rcvhost(o, out);
	else if (IS("host_lookup_failed")) xbuf_puts(out, o->host_lookup_failed ? "1" : "0");
	else if (IS("host_lookup_deferred")) xbuf_puts(out, o->host_lookup_deferred ? "1" : "0");
	else if (IS("received_protocol")) xbuf_putsv(out, o->protocol);
	else if (IS("received_ip_address") || IS("interface_address")) xbuf_putsv(out, o->interface_address);
	else if (IS("received_port") || IS("interface_port")) {
		if (o->interface_address.len) put_num(out, o->interface_port);
		else xbuf_puts(out, "-1");
	}
	else if (IS("smtp_active_hostname")) {
		if (!o->active_hostname.len) return false; /* the engine's default: primary_hostname */
		xbuf_putsv(out, o->active_hostname);
	}
	else if (IS("authenticated_id")) xbuf_putsv(out, o->auth_id);
	else if (IS("authenticated_sender")) xbuf_putsv(out, o->auth_sender);
	else if (IS("sender_host_authenticated")) xbuf_putsv(out, o->auth_driver);
	/* TLS basics (the TLS issue fills the fields) */
	else if (IS("tls_in_cipher") || IS("tls_cipher")) xbuf_putsv(out, o->tls_cipher);
	else if (IS("tls_in_bits") || IS("tls_bits")) {
		/* The cipher text ends ":<bits>" (Exim's X= form); no TLS: 0. */
		long long bits = 0;
		sv c = o->tls_cipher;
		size_t k = c.len;
		while (k > 0 && c.p[k - 1] != ':')
			k--;
		if (k > 0 && k < c.len && !sv_to_long(sv_sub(c, k, c.len), &bits))
			bits = 0;
		put_num(out, (int)bits);
	}
	else if (IS("tls_in_peerdn") || IS("tls_peerdn")) xbuf_putsv(out, o->tls_peerdn);
	else if (IS("tls_in_sni") || IS("tls_sni")) xbuf_putsv(out, o->tls_sni);
	else if (IS("tls_in_ver")) xbuf_putsv(out, o->tls_ver);
	else if (IS("tls_in_ourcert")) xbuf_putsv(out, o->tls_ourcert);
	else if (IS("tls_in_peercert")) xbuf_putsv(out, o->tls_peercert);
	else if (IS("tls_in_certificate_verified")) xbuf_puts(out, o->tls_certificate_verified ? "1" : "0");
	else if (IS("tls_in_ocsp")) put_num(out, o->tls_ocsp);
	else if (IS("tls_in_resumption")) put_num(out, o->tls_resumption);
	/* PROXY protocol, with the experimental-era names as aliases (facts §14) */
	else if (IS("proxy_session")) xbuf_puts(out, o->proxy_session ? "yes" : "no");
	else if (IS("proxy_local_address") || IS("proxy_host_address")) xbuf_putsv(out, o->proxy_local_address);
	else if (IS("proxy_local_port") || IS("proxy_host_port")) put_num(out, o->proxy_local_port);
	else if (IS("proxy_external_address") || IS("proxy_target_address")) xbuf_putsv(out, o->proxy_external_address);
	else if (IS("proxy_external_port") || IS("proxy_target_port")) put_num(out, o->proxy_external_port);
	else return false;
	return true;
#undef IS
}

/* $sender_address_local_part / _domain: split at the last '@' (no '@': all local part). */
static sv sender_part(sv s, bool domain)
{
	size_t at = s.len;
	while (at > 0 && s.p[at - 1] != '@')
		at--;
	if (at == 0)
		return domain ? sv_sub(s, s.len, 0) : s;
	return domain ? sv_sub(s, at, s.len) : sv_sub(s, 0, at - 1);
}

static long long header_lines(const message *m)
{
	long long n = 0;
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			for (size_t i = 0; i < h->text.len; i++)
				n += h->text.p[i] == '\n';
	return n;
}

static bool message_var(const message_vars *v, sv name, xbuf *out)
{
	const message *m = v->m;
#define IS(s) sv_eq_cstr(name, s)
	if (IS("message_id") || IS("message_exim_id")) xbuf_puts(out, m->id);
	else if (IS("sender_address")) xbuf_putsv(out, m->sender);
	/* A null sender has empty parts (not the caller's, as -be without a message shows). */
	else if (IS("sender_address_local_part")) xbuf_putsv(out, sender_part(m->sender, false));
	else if (IS("sender_address_domain")) xbuf_putsv(out, sender_part(m->sender, true));
	else if (IS("recipients")) {
		/* Exim shows the list only in the contexts its documentation names (system filter,
		 * DATA/MIME/not-SMTP ACLs, ${if}-style tests there); elsewhere it is empty. */
		if (!v->allow_recipients) return false;
		for (size_t i = 0; i < m->nrcpt; i++) {
			if (i) xbuf_puts(out, ", ");
			xbuf_putsv(out, m->rcpt[i].address);
		}
	}
	else if (IS("recipients_count")) put_num(out, (long long)m->nrcpt);
	else if (IS("message_size")) put_num(out, m->size);
	else if (IS("message_body_size")) {
		long long b = m->size - message_header_size(m) - 1;
		put_num(out, b > 0 ? b : 0);
	}
	else if (IS("message_linecount")) put_num(out, header_lines(m) + m->body_linecount);
	else if (IS("body_linecount")) put_num(out, m->body_linecount);
	else if (IS("body_zerocount")) put_num(out, m->body_zerocount);
	else if (IS("max_received_linelength")) put_num(out, m->max_received_linelength);
	else if (IS("received_time")) put_num(out, (long long)m->received_time);
	else if (IS("message_age")) {
		long long age = (long long)(time(NULL) - m->received_time);
		put_num(out, age < 0 ? 0 : age);
	}
	else if (IS("local_scan_data")) xbuf_putsv(out, m->local_scan);
	else if (IS("received_count")) {
		long long n = 0;
		for (const msg_header *h = m->headers; h; h = h->next)
			n += h->type == 'P';
		put_num(out, n);
	}
	else if (sv_starts(name, "acl_c") || sv_starts(name, "acl_m")) {
		const msg_aclvar *a = message_get_aclvar(m, name);
		if (!a) return false;
		xbuf_putsv(out, a->value);
	}
	else return false;
	return true;
#undef IS
}

static bool vars_get(void *ctx, sv name, xbuf *out)
{
	const message_vars *v = ctx;
	if (v->m && message_var(v, name, out))
		return true;
	const msg_origin *o = v->o ? v->o : v->m ? v->m->origin : NULL;
	return o && origin_var(o, name, out);
}

void message_vars_init(message_vars *v, const message *m, const msg_origin *o)
{
	memset(v, 0, sizeof *v);
	v->m = m;
	v->o = o;
	v->p.get = vars_get;
	v->p.ctx = v;
}
