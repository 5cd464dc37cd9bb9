/* Header processing at reception (Exim 4.96 "Message processing", checked against Debian's
 * Exim): the header block into typed header lines, the Received: line, removal of
 * Return-Path:/Envelope-To:/Delivery-Date:, -t recipient extraction and Bcc: removal, and the
 * fix-ups for locally submitted (or submission-mode) messages: qualification of header
 * addresses, From: for a bare login name, Sender:, Message-Id:, From:, Date:.
 *
 * Headers that are replaced are kept with type '*' (not sent, not counted), as Exim does; new
 * ones follow the old one. Added headers go to the end in the order Message-Id, From, Sender,
 * Date; the Received: line goes first.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/filter.h"
#include "core/receive_internal.h"
#include "core/rewrite.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "mail/address.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

/* ---- variables ---- */

typedef struct rcv_provider {
	xp_provider p;
	receive_ctx *r;
} rcv_provider;

/* $received_for: the one recipient, when there is exactly one. $sender_address once submission
 * mode has replaced it (the Received header's envelope-from shows the new one, as in Exim). */
static bool rcv_var(void *ctx, sv name, xbuf *out)
{
	receive_ctx *r = ctx;
	if (sv_eq_cstr(name, "received_for")) {
		if (r->m->nrcpt == 1)
			xbuf_putsv(out, r->m->rcpt[0].address);
		return true;
	}
	if (r->submission_sender_set && sv_eq_cstr(name, "sender_address")) {
		xbuf_putsv(out, r->m->sender);
		return true;
	}
	return false;
}

typedef struct rcv_env {
	xp_env own;
	message_vars mv;
	rcv_provider rp;
	xp_env *env;
	xp_provider *saved;
} rcv_env;

static void env_open(receive_ctx *r, rcv_env *e)
{
	if (r->opts.env) {
		e->env = r->opts.env;
	} else {
		xp_env_init(&e->own, pool_scratch);
		message_vars_init(&e->mv, r->m, r->m->origin);
		xp_env_push_provider(&e->own, &e->mv.p);
		e->env = &e->own;
	}
	e->saved = e->env->providers;
	e->rp.p = (xp_provider){ rcv_var, r, NULL };
	e->rp.r = r;
	xp_env_push_provider(e->env, &e->rp.p);
}

static void env_close(rcv_env *e)
{
	e->env->providers = e->saved;
}

/* Expand src; NULL (and err set) on failure. */
static const char *expand(rcv_env *e, const char *src, arena *a, xbuf *err)
{
	xbuf out;
	xbuf_init(&out, a);
	if (xp_expand(e->env, sv_cstr(src), &out, err) != XP_OK)
		return NULL;
	return xbuf_cstr(&out);
}

static const char *var(rcv_env *e, const char *name, arena *a)
{
	xbuf err;
	xbuf_init(&err, pool_scratch);
	const char *v = expand(e, name, a, &err);
	return v ? v : "";
}

/* ---- helpers ---- */

char rcv_header_type(sv name)
{
	/* Resent-To:, Resent-From: ... have the letters of To:, From: ... (observed in Exim's -H);
	 * Resent-Reply-To: has none (observed: Exim 4.96 neither types nor qualifies it). */
	if (name.len > 7 && strncasecmp(name.p, "Resent-", 7) == 0) {
		name = sv_sub(name, 7, name.len - 7);
		if (sv_eqi(sv_trim(name), SV_LIT("reply-to")))
			return ' ';
	}
	return message_header_type(name);
}

static sv text_of(arena *a, const char *s, bool tainted)
{
	sv v = sv_copy(a, sv_cstr(s));
	v.taint = tainted;
	return v;
}

static msg_header *find(message *m, const char *name)
{
	return message_find_header(m, sv_cstr(name));
}

static bool any_resent(const message *m)
{
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*' && h->text.len > 7 && strncasecmp(h->text.p, "Resent-", 7) == 0)
			return true;
	return false;
}

/* Mark every header called name as deleted. */
static void remove_named(message *m, const char *name)
{
	for (msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*' && hdr_name_is(h->text, sv_cstr(name)))
			h->type = '*';
}

/* Insert new text after old (which becomes '*'). */
static msg_header *replace_header(message *m, msg_header *old, sv text)
{
	old->type = '*';
	msg_header *after = old->next;
	const char *colon = memchr(text.p, ':', text.len);
	char type = rcv_header_type(sv_make(text.p, colon ? (size_t)(colon - text.p) : 0));
	if (after)
		return message_insert_header(m, after, type, text);
	return message_add_header(m, type, text);
}

/* A phrase as RFC 5322 allows it unquoted: atoms, spaces and quoted strings (an unterminated
 * quoted string counts: it is closed, as Exim does). */
static bool phrase_ok(sv s, bool *unterminated)
{
	bool quoted = false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (quoted) {
			if (c == '\\' && i + 1 < s.len)
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (!(isalnum(c) || c == ' ' || strchr("!#$%&'*+-/=?^_`{|}~", c)))
			return false;
	}
	*unterminated = quoted;
	return true;
}

/* The full name as a header phrase, as Exim writes it: RFC 2047 encoded (headers_charset) when
 * it has non-printing characters (top-bit ones too unless print_topbitchars), else as it is
 * when it is a valid phrase, else quoted as a whole. */
static void put_phrase(xbuf *out, sv name)
{
	bool encode = false;
	for (size_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.p[i];
		if (c < 32 || c == 127 || (c >= 128 && !conf_main.print_topbitchars))
			encode = true;
	}
	if (encode) {
		const char *cs = conf_main.headers_charset && *conf_main.headers_charset ? conf_main.headers_charset : "UTF-8";
		rfc2047_encode(name, cs, out);
		return;
	}
	bool unterminated = false;
	if (phrase_ok(name, &unterminated)) {
		xbuf_putsv(out, name);
		if (unterminated)
			xbuf_putc(out, '"');
		return;
	}
	xbuf_putc(out, '"');
	for (size_t i = 0; i < name.len; i++) {
		if (name.p[i] == '"' || name.p[i] == '\\')
			xbuf_putc(out, '\\');
		xbuf_putc(out, name.p[i]);
	}
	xbuf_putc(out, '"');
}

/* "Full Name <login@domain>"; the bare address when there is no name. */
static void constructed_address(xbuf *out, sv fullname, sv login, const char *domain)
{
	if (fullname.len) {
		put_phrase(out, fullname);
		xbuf_printf(out, " <" SV_FMT "@%s>", SV_ARG(login), domain);
	} else
		xbuf_printf(out, SV_FMT "@%s", SV_ARG(login), domain);
}

/* The first address of a header body, or empty. */
static sv first_address(arena *a, sv body)
{
	xbuf out;
	xbuf_init(&out, a);
	if (!hdr_addresses(body, &out, NULL))
		return SV_NULL;
	return sv_cstr(xbuf_cstr(&out));
}

/* ---- the steps ---- */

static bool split_block(receive_ctx *r, xbuf *err)
{
	message *m = r->m;
	sv block = xbuf_sv(&r->rd.headers);
	block.taint = 1;
	size_t pos = 0;
	sv f;
	/* (received_headers_max is a delivery-time check in Exim: a message with too many
	 * Received: lines is accepted and bounced when delivered.) */
	while (hdr_next_field(block, &pos, &f)) {
		sv text = sv_copy(m->a, f);
		message_add_header(m, rcv_header_type(hdr_field_name(f)), text);
	}
	(void)err;
	if (conf_main.return_path_remove)
		remove_named(m, "Return-Path");
	if (conf_main.envelope_to_remove)
		remove_named(m, "Envelope-To");
	if (conf_main.delivery_date_remove)
		remove_named(m, "Delivery-Date");
	return true;
}

static bool excluded(const receive_opts *o, sv addr)
{
	for (size_t i = 0; i < o->nt_exclude; i++)
		if (sv_eqi(addr, sv_cstr(o->t_exclude[i])))
			return true;
	return false;
}

/* A bad -t item as Exim 4.96 reports it (observed): from its start to the end of its header
 * ("To: c@@x, b@x" reports "c@@x, b@x", though b@x is delivered), with addr_extract's reason. */
static void note_bad_recipient(receive_ctx *r, sv body, sv item, const char *why)
{
	sv rest = sv_sub(body, (size_t)(item.p - body.p), body.len - (size_t)(item.p - body.p));
	while (rest.len && (rest.p[rest.len - 1] == '\n' || rest.p[rest.len - 1] == ' ' || rest.p[rest.len - 1] == '\t'))
		rest.len--;
	/* Exim's words for what is wrong (the filter's deliver command reports them the same way). */
	const char *exim_why = filter_address_error(item, r->a);
	if (exim_why && *exim_why)
		why = exim_why;
	if (!why || !*why)
		why = "malformed address";
	if (r->nbad_rcpts++ == 0) {
		xbuf_init(&r->bad_rcpts, r->a);
		r->first_bad_rcpt = sv_cstr(arena_printf(r->a, SV_FMT " - %s", SV_ARG(rest), why));
	}
	xbuf_printf(&r->bad_rcpts, "  " SV_FMT ": %s\n", SV_ARG(rest), why);
}

struct bad_ctx {
	receive_ctx *r;
	sv body;
};

static void on_bad_recipient(void *ctx, sv item, const char *why)
{
	struct bad_ctx *c = ctx;
	note_bad_recipient(c->r, c->body, item, why);
}

/* The addresses of a To/Cc/Bcc body (NUL-separated in out), with the items that do not parse
 * noted for the report. UTF-8 domains are taken, as Exim 4.96's -t does (observed: it takes
 * "To: récip@bücher.test" with allow_utf8_domains unset, and its bounce to a UTF-8 sender
 * depends on that). */
static size_t header_addresses(receive_ctx *r, sv body, xbuf *out)
{
	struct bad_ctx c = { r, body };
	return hdr_addresses_each(body, ADDR_UTF8_DOMAINS, out, on_bad_recipient, &c);
}

size_t receive_bad_recipients(receive_ctx *r, sv *report, sv *first)
{
	if (report)
		*report = r->nbad_rcpts ? xbuf_sv(&r->bad_rcpts) : SV_NULL;
	if (first)
		*first = r->first_bad_rcpt;
	return r->nbad_rcpts;
}

/* -t: recipients from To:, Cc:, Bcc: (the Resent- ones when there are Resent- headers);
 * unqualified ones get qualify_recipient; Bcc: is removed; command-line addresses found there
 * become non-recipients. */
static void extract_recipients(receive_ctx *r, rcv_env *e)
{
	message *m = r->m;
	bool resent = any_resent(m);
	const char *names[3] = { "To", "Cc", "Bcc" };
	if (resent) {
		names[0] = "Resent-To";
		names[1] = "Resent-Cc";
		names[2] = "Resent-Bcc";
	}
	const char *qr = var(e, "$qualify_recipient", m->a);
	for (msg_header *h = m->headers; h; h = h->next) {
		if (h->type == '*')
			continue;
		int which = -1;
		for (int i = 0; i < 3; i++)
			if (hdr_name_is(h->text, sv_cstr(names[i])))
				which = i;
		if (which < 0)
			continue;
		xbuf list;
		xbuf_init(&list, m->a);
		size_t n = header_addresses(r, hdr_field_body(h->text), &list);
		const char *p = xbuf_cstr(&list);
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(p);
			sv a = { p, len, 1, 0 };
			if (!memchr(p, '@', len)) {
				char *q = arena_printf(m->a, "%s@%s", p, qr);
				a = (sv){ q, strlen(q), 1, 0 };
			}
			/* An address both in the headers and on the command line is not delivered to:
			 * Exim records it as already handled (the non-recipients tree). */
			if (excluded(&r->opts, a))
				message_add_nonrecipient(m, a);
			else {
				message_add_recipient(m, a);
				if (addr_is_8bit(a))
					m->smtputf8 = true;
			}
			p += len + 1;
		}
		if (which == 2)
			h->type = '*';
	}
}

/* Qualify the unqualified addresses of an address header: Exim rewrites the header, keeping the
 * old one as '*' with the new one after it. */
static void qualify_header(message *m, msg_header *h, const char *domain)
{
	sv text;
	if (rewrite_header_qualify(m->a, h->text, domain, &text))
		replace_header(m, h, text)->qualified = true;
}

/* Unqualified addresses in the address headers get the qualify domains when the message may
 * have them (-allow_unqualified_sender / -allow_unqualified_recipient: local input, or a host in
 * sender_unqualified_hosts / recipient_unqualified_hosts), whatever the local fix-ups: Exim 4.96
 * qualifies them with suppress_local_fixups and in submission mode too (observed from its -H
 * files). Resent-Reply-To: is left as it is (observed). */
static void qualify_headers(receive_ctx *r, rcv_env *e)
{
	message *m = r->m;
	if (!m->allow_unqualified_sender && !m->allow_unqualified_recipient)
		return;
	const char *qd = var(e, "$qualify_domain", m->a);
	const char *qr = var(e, "$qualify_recipient", m->a);
	static const struct { const char *name; bool recipient; } which[] = {
		{ "From", false }, { "Sender", false }, { "Reply-To", false },
		{ "Resent-From", false }, { "Resent-Sender", false },
		{ "To", true }, { "Cc", true }, { "Bcc", true },
		{ "Resent-To", true }, { "Resent-Cc", true }, { "Resent-Bcc", true },
	};
	for (msg_header *h = m->headers; h; h = h->next) {
		if (h->type == '*')
			continue;
		for (size_t i = 0; i < sizeof which / sizeof which[0]; i++)
			if (hdr_name_is(h->text, sv_cstr(which[i].name))) {
				bool rcpt = which[i].recipient;
				if (rcpt ? m->allow_unqualified_recipient : m->allow_unqualified_sender)
					qualify_header(m, h, rcpt ? qr : qd);
				break;
			}
	}
}

/* Whether the address in a From:-type header is the caller's own (login@qualify_domain,
 * with local_from_prefix / local_from_suffix allowed around the login; "*" forms only). */
static bool from_is_caller(message *m, msg_header *from, sv login, const char *qd)
{
	sv a = first_address(m->a, hdr_field_body(from->text));
	const char *at = a.p ? memchr(a.p, '@', a.len) : NULL;
	if (!at || strcasecmp(at + 1, qd) != 0)
		return false;
	sv lp = sv_make(a.p, (size_t)(at - a.p));
	if (sv_eq(lp, login))
		return true;
	const char *pre = conf_main.local_from_prefix, *suf = conf_main.local_from_suffix;
	if (pre && *pre) {
		size_t pl = strlen(pre);
		if (pre[0] == '*' && lp.len >= login.len && memcmp(lp.p + lp.len - login.len, login.p, login.len) == 0)
			return true;
		if (pre[0] != '*' && lp.len > pl && strncasecmp(lp.p, pre, pl) == 0 && sv_eq(sv_sub(lp, pl, lp.len), login))
			return true;
	}
	if (suf && *suf) {
		size_t sl = strlen(suf);
		if (suf[sl - 1] == '*' && lp.len >= login.len && memcmp(lp.p, login.p, login.len) == 0)
			return true;
		if (suf[sl - 1] != '*' && lp.len > sl && strncasecmp(lp.p + lp.len - sl, suf, sl) == 0
			&& sv_eq(sv_sub(lp, 0, lp.len - sl), login))
			return true;
	}
	return false;
}

/* The address submission mode works with: $authenticated_id, qualified as the control says.
 * A qualified id is a local part, quoted as ${quote_local_part:} would ("a b" or
 * "user@example.com" become "\"a b\"@dom"); with an empty domain= it is used as it is (Exim
 * 4.96, observed). A client that authenticated with an empty id counts too ("@dom"). */
static void submission_address(receive_ctx *r, const char *qd, xbuf *a)
{
	sv id = r->m->origin->auth_id;
	if (r->submission_domain_set && r->submission_domain.len == 0) {
		xbuf_putsv(a, id);
		return;
	}
	if (id.len)
		addr_quote_local_part(id, a);   /* an empty id stays empty: "@dom" */
	xbuf_printf(a, "@%s", r->submission_domain_set ? sv_dup(r->a, r->submission_domain) : qd);
}

/* Non-SMTP input: a From: (Resent-From:) with just the caller's login name is replaced by
 * "Full Name <login@qualify_domain>", the new line at the end, also with -oMa and
 * suppress_local_fixups; with no name (a trusted caller's -f without -F) it is " <login@...>".
 * SMTP input (-bs) only gets it qualified in place (Exim 4.96, observed). */
static void login_from(receive_ctx *r, rcv_env *e)
{
	message *m = r->m;
	const receive_opts *o = &r->opts;
	const char *from_name = any_resent(m) ? "Resent-From" : "From";
	msg_header *from = find(m, from_name);
	if (!from || !o->login.len || !sv_eq(sv_trim(hdr_field_body(from->text)), o->login))
		return;
	xbuf t;
	xbuf_init(&t, m->a);
	xbuf_printf(&t, "%s: ", from_name);
	if (o->fullname.len)
		put_phrase(&t, o->fullname);
	xbuf_printf(&t, " <" SV_FMT "@%s>\n", SV_ARG(o->login), var(e, "$qualify_domain", m->a));
	from->type = '*';
	message_add_header(m, 'F', text_of(m->a, xbuf_cstr(&t), true));
}

/* The local-submission and submission-mode fix-ups. With Resent- headers in the message the
 * Resent- forms are checked and added instead (Resent-From:, Resent-Sender:,
 * Resent-Message-Id:, Resent-Date:), as Exim does; the added Resent-Date: and
 * Resent-Message-Id: go at the top (under Received:), the others at the end. */
static void local_fixups(receive_ctx *r, rcv_env *e)
{
	message *m = r->m;
	const receive_opts *o = &r->opts;
	const char *qd = var(e, "$qualify_domain", m->a);
	bool local = o->local && !r->submission;
	bool resent = any_resent(m);
	const char *P = resent ? "Resent-" : "";
	char from_name[16], sender_name[16], date_name[16], msgid_name[24];
	snprintf(from_name, sizeof from_name, "%sFrom", P);
	snprintf(sender_name, sizeof sender_name, "%sSender", P);
	snprintf(date_name, sizeof date_name, "%sDate", P);
	snprintf(msgid_name, sizeof msgid_name, "%sMessage-ID", P);

	msg_header *from;
	from = find(m, from_name);

	/* Sender: the address this message may claim to be from. */
	xbuf sender_hdr;
	xbuf_init(&sender_hdr, m->a);
	if (local && !o->trusted && !conf_main.local_sender_retain) {
		remove_named(m, "Sender");
		if (resent)
			remove_named(m, "Resent-Sender");
	}
	/* Submission mode with an authenticated client: unless sender_retain, its address becomes
	 * the envelope sender (the null sender stays <>), whether or not a Sender: is needed, before
	 * the Received header and the DATA ACL see $sender_address; a missing From: is still made
	 * from the sender as the client gave it (Exim 4.96, observed). */
	xbuf sub_addr;
	xbuf_init(&sub_addr, m->a);
	sv client_sender = m->sender;
	bool sub_fix = r->submission && !r->submission_sender_retain;
	if (r->submission && m->origin && (m->origin->auth_driver.len || m->origin->auth_id.len))
		submission_address(r, qd, &sub_addr);
	if (sub_fix) {
		remove_named(m, sender_name);
		if (sub_addr.len && m->sender.len) {
			m->sender = sv_copy(m->a, xbuf_sv(&sub_addr));
			r->submission_sender_set = true;
		}
	}
	/* After the Sender: lines are dropped (Exim keeps no qualified copy of those), before the
	 * From: is compared with the caller. */
	qualify_headers(r, e);
	from = find(m, from_name);
	if (local && !o->trusted && conf_main.local_from_check && from && !from_is_caller(m, from, o->login, qd)) {
		xbuf_printf(&sender_hdr, "%s: ", sender_name);
		constructed_address(&sender_hdr, o->fullname, o->login, qd);
		xbuf_putc(&sender_hdr, '\n');
	}

	/* Message-Id: (Resent-Message-Id:) unless there is one. */
	if (!find(m, msgid_name)) {
		xbuf err;
		xbuf_init(&err, pool_scratch);
		const char *dom = conf_main.message_id_header_domain ? expand(e, conf_main.message_id_header_domain, m->a, &err) : NULL;
		const char *txt = conf_main.message_id_header_text ? expand(e, conf_main.message_id_header_text, m->a, &err) : NULL;
		if (!dom || !*dom)
			dom = var(e, "$primary_hostname", m->a);
		char *h = arena_printf(m->a, "%sMessage-Id: <E%s%s%s@%s>\n", P, m->id, txt && *txt ? "." : "", txt ? txt : "", dom);
		if (resent)
			message_insert_header(m, m->headers, 'I', text_of(m->a, h, false));
		else
			message_add_header(m, 'I', text_of(m->a, h, false));
		r->msgid_created = true;
	}

	/* The rewrite rules run around the From: fix-up as in Exim (observed from its -H files):
	 * recipients now, then a missing From: is made from the sender as it was, then the headers
	 * and the sender are rewritten; Sender: and Date: come after. */
	rewrite_reception_recipients(m, e->env);

	/* From: when missing: the caller's constructed address when the sender is the caller or
	 * the message is one Postern made (-localerror: observed, Exim 4.96's autoreply without
	 * "from" gets "From: <transport user>@<qualify_domain>"), else the envelope sender (none
	 * for the null sender); in submission mode $authenticated_id when there is no sender. */
	if (!from) {
		xbuf t;
		xbuf_init(&t, m->a);
		if (local && (o->sender_local || m->localerror))
			constructed_address(&t, o->fullname, o->login, qd);
		else if (client_sender.len)
			xbuf_putsv(&t, client_sender);
		else if (sub_addr.len)
			xbuf_putsv(&t, xbuf_sv(&sub_addr));
		if (t.len) {
			xbuf h;
			xbuf_init(&h, m->a);
			xbuf_printf(&h, "%s: ", from_name);
			xbuf_putsv(&h, xbuf_sv(&t));
			xbuf_putc(&h, '\n');
			sv v = xbuf_sv(&h);
			v.taint = client_sender.taint;
			message_add_header(m, 'F', v);
		}
	}
	/* Submission mode's Sender: when the From: (the one just made too) names another address. */
	if (sub_fix && sub_addr.len) {
		from = find(m, from_name);
		sv fa = from ? first_address(m->a, hdr_field_body(from->text)) : SV_NULL;
		if (from && !sv_eqi(fa, xbuf_sv(&sub_addr))) {
			xbuf_printf(&sender_hdr, "%s: ", sender_name);
			if (r->submission_name.len)
				xbuf_printf(&sender_hdr, SV_FMT " <" SV_FMT ">", SV_ARG(r->submission_name), SV_ARG(xbuf_sv(&sub_addr)));
			else
				xbuf_putsv(&sender_hdr, xbuf_sv(&sub_addr));
			xbuf_putc(&sender_hdr, '\n');
		}
	}
	rewrite_reception_headers_sender(m, e->env);
	if (sender_hdr.len)
		message_add_header(m, 'S', xbuf_sv(&sender_hdr));

	/* Date: (Resent-Date:) when missing: the time reception started. */
	if (!find(m, date_name)) {
		xbuf t;
		xbuf_init(&t, m->a);
		xbuf_printf(&t, "%s: ", date_name);
		tod_format_time(TOD_FULL, m->received_time, 0, &t);
		xbuf_putc(&t, '\n');
		if (resent)
			message_insert_header(m, m->headers, ' ', xbuf_sv(&t));
		else
			message_add_header(m, ' ', xbuf_sv(&t));
	}
}

/* The Received: line from received_header_text, with ";\n\t<date>" appended as Exim does. */
static bool add_received(receive_ctx *r, rcv_env *e, xbuf *err)
{
	message *m = r->m;
	const char *src = conf_main.received_header_text;
	if (!src || !*src)
		return true;
	/* Compiled once per process (a copy in pool_perm, so the cached program never depends on
	 * where the option's text lives); recompiled if the text ever differs. Compiling it was
	 * about an eighth of a message's instructions on a reused connection (callgrind). */
	static char *compiled_src;
	static xp_prog *compiled;
	if (!compiled_src || strcmp(compiled_src, src) != 0) {
		compiled_src = arena_strdup(pool_perm, src);
		compiled = xp_compile(pool_perm, sv_cstr(compiled_src));
	}
	xbuf out;
	xbuf_init(&out, m->a);
	if (xp_expand_compiled(e->env, compiled, sv_cstr(compiled_src), &out, err) != XP_OK) {
		xbuf msg;
		xbuf_init(&msg, pool_scratch);
		xbuf_printf(&msg, "Expansion of \"%s\" (received_header_text) failed: %s", src, xbuf_cstr(err));
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&msg));
		xbuf_reset(err);
		xbuf_putsv(err, xbuf_sv(&msg));
		return false;
	}
	if (out.len == 0)
		return true;
	xbuf_puts(&out, ";\n\t");
	r->received_prefix = xbuf_sv(&out);
	xbuf t;
	xbuf_init(&t, m->a);
	xbuf_putsv(&t, r->received_prefix);
	tod_format_time(TOD_FULL, m->received_time, 0, &t);
	xbuf_putc(&t, '\n');
	r->received = message_insert_header(m, m->headers, 'P', xbuf_sv(&t));
	return true;
}

bool rcv_build_headers(receive_ctx *r, xbuf *err)
{
	if (!split_block(r, err))
		return false;
	rcv_env e;
	env_open(r, &e);
	bool ok = true;
	if (r->opts.extract_recipients) {
		extract_recipients(r, &e);
		if (r->nbad_rcpts) {
			/* Exim writes the id in the text as well, and to the panic log too (observed). */
			log_set_id(r->m->id);
			log_write(LOG_MAIN | LOG_PANIC, "%s bad addresses found in headers", r->m->id);
			log_set_id(NULL);
		}
	}
	if (r->how == RECV_LOCAL_DOT || r->how == RECV_LOCAL_EOF)
		login_from(r, &e);
	if ((r->opts.local || r->submission) && !r->suppress_local_fixups)
		local_fixups(r, &e);       /* rewrites the envelope and headers at its point */
	else {
		qualify_headers(r, &e);
		rewrite_message_at_reception(r->m, e.env, false);
	}
	/* Received: shows the rewritten recipient ("for ..."), so it comes after rewriting. */
	ok = add_received(r, &e, err);
	env_close(&e);
	return ok;
}

void rcv_redate_received(receive_ctx *r, time_t t)
{
	if (!r->received || r->received->type != 'P')
		return;
	xbuf b;
	xbuf_init(&b, r->a);
	xbuf_putsv(&b, r->received_prefix);
	tod_format_time(TOD_FULL, t, 0, &b);
	xbuf_putc(&b, '\n');
	r->received->text = xbuf_sv(&b);
}

long long rcv_header_size(const message *m)
{
	long long n = 0;
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			n += (long long)h->text.len;
	return n;
}
