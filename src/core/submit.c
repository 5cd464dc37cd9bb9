/* Messages Postern makes itself (bounces, warnings, DSNs, autoreplies).
 *
 * Exim 4.96 hands such a message to a child "exim -t -oem -oi -f <> -E<id>" that reads it from a
 * pipe, so the message goes through ordinary local reception: the Received header ("from <login>
 * by <host> with local"), Message-Id and Date fix-ups, the spool flags of a local message plus
 * -localerror (from -E), and an arrival line with R=<id> right after the sender. This file does
 * the same in-process with the reception code, so the spool files come out as Exim's would, and
 * the caller learns the new id.
 */
#include "core/submit.h"

#include <pwd.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver.h"
#include "core/acl.h"
#include "core/receive.h"
#include "core/route_verify.h"
#include "lib/log.h"
#include "lib/printing.h"
#include "mail/header.h"

static void put_escaped(xbuf *out, sv v)
{
	printing_escape(v, PRINT_TAB_LITERAL, out);
}

/* The "<=" line of an internally generated message (observed from Exim 4.96, log_selector +all):
 *   <= <> R=<ref> U=root P=local S=1524 M8S=0 RT=0.009s id*=E...@host T="..." from <> for rcpt
 * It is a local message: no H=, no TLS, no AUTH. */
static void arrival_line(const message *m, sv ref, bool msgid_created, xbuf *out)
{
	const log_config *lc = log_current_config();
	logsel def = logsel_default();
	const logsel *ls = lc ? &lc->selector : &def;
	xbuf_puts(out, "<= ");
	if (m->sender.len)
		put_escaped(out, m->sender);
	else
		xbuf_puts(out, "<>");
	if (ref.len) {
		xbuf_puts(out, " R=");
		put_escaped(out, ref);
	}
	if (m->origin && m->origin->ident.len) {
		xbuf_puts(out, " U=");
		put_escaped(out, m->origin->ident);
	}
	xbuf_puts(out, " P=local");
	xbuf_printf(out, " S=%lld", m->size);
	if (logsel_has(ls, LS_8BITMIME))
		xbuf_puts(out, " M8S=0");
	if (logsel_has(ls, LS_RECEIVE_TIME)) {
		long long us = ((long long)m->received_complete - m->received_time) * 1000000LL
			+ (m->received_complete_usec - m->received_usec);
		if (us < 0)
			us = 0;
		if (logsel_has(ls, LS_MILLISEC))
			xbuf_printf(out, " RT=%lld.%03llds", us / 1000000, (us / 1000) % 1000);
		else
			xbuf_printf(out, " RT=%llds", us / 1000000);
	}
	const msg_header *mid = message_find_header(m, sv_cstr("Message-ID"));
	if (mid && (msgid_created ? logsel_has(ls, LS_MSG_ID_CREATED) : logsel_has(ls, LS_MSG_ID))) {
		sv v = sv_trim(hdr_field_body(mid->text));
		if (v.len >= 2 && v.p[0] == '<' && v.p[v.len - 1] == '>')
			v = sv_sub(v, 1, v.len - 2);
		xbuf_puts(out, msgid_created ? " id*=" : " id=");
		put_escaped(out, v);
	}
	if (logsel_has(ls, LS_SUBJECT)) {
		const msg_header *s = message_find_header(m, sv_cstr("Subject"));
		if (s) {
			xbuf e;
			xbuf_init(&e, pool_scratch);
			put_escaped(&e, hdr_field_body(s->text));
			xbuf_puts(out, " T=\"");
			for (size_t i = 0; i < e.len; i++) {
				if (e.p[i] == '"')
					xbuf_putc(out, '\\');
				xbuf_putc(out, e.p[i]);
			}
			xbuf_putc(out, '"');
		}
	}
	if (logsel_has(ls, LS_RECEIVED_SENDER)) {
		xbuf_puts(out, " from <");
		put_escaped(out, m->sender);
		xbuf_putc(out, '>');
	}
	if (logsel_has(ls, LS_RECEIVED_RECIPIENTS)) {
		xbuf_puts(out, " for");
		for (size_t i = 0; i < m->nrcpt; i++) {
			xbuf_putc(out, ' ');
			put_escaped(out, m->rcpt[i].address);
		}
	}
}

/* Does the text (headers up to the first blank line) have a Message-ID header? */
static bool text_has_message_id(sv text)
{
	size_t pos = 0;
	while (pos < text.len && text.p[pos] != '\n') {
		const char *nl = memchr(text.p + pos, '\n', text.len - pos);
		size_t end = nl ? (size_t)(nl - text.p) : text.len;
		sv line = sv_sub(text, pos, end - pos);
		if (line.len >= 11 && strncasecmp(line.p, "Message-ID:", 11) == 0)
			return true;
		pos = end + 1;
	}
	return false;
}

/* acl_not_smtp, which Exim 4.96 also runs for the messages it makes (observed). 1: accepted
 * (its headers applied), 0: discarded, -1: rejected (logged as Exim does; err is "1", the exit
 * status of Exim's child, which the caller's "Process failed (1) ..." line shows). */
static int not_smtp_acl(arena *a, message *m, msg_origin *o, receive_ctx *rc, sv ref, xbuf *err)
{
	message_vars mv;
	message_vars_init(&mv, m, o);
	mv.allow_recipients = true;
	xp_env env;
	xp_env_init(&env, a);
	xp_env_push_provider(&env, &mv.p);
	xp_message xm;
	message_to_xp(m, (sv){ "", 0, 0, 0 }, &xm, a);
	env.msg = &xm;
	acl_ctx c;
	acl_ctx_init(&c, a, ACL_WHERE_NOTSMTP, &env);
	c.msg = m;
	c.origin = o;
	c.smtp_session = false;
	acl_ops ops;
	route_verify_ctx v;
	route_acl_ops_init(&ops, &v, &env, a, m->sender, NULL, NULL, NULL, NULL);
	c.ops = &ops;
	c.ops_ctx = &v;
	log_set_id(m->id);
	acl_result res = acl_check(&c, sv_cstr(conf_main.acl_not_smtp));
	int verdict = 1;
	if (res == ACL_DISCARD) {
		verdict = 0;
	} else if (res != ACL_OK) {
		sv user = xbuf_sv(&c.user_msg), logm = xbuf_sv(&c.log_msg);
		sv why = logm.len ? logm : user.len ? user : sv_cstr("NULL");
		log_write(LOG_MAIN, "F=<" SV_FMT "> rejected by non-SMTP ACL: " SV_FMT, SV_ARG(m->sender), SV_ARG(why));
		log_write(LOG_MAIN, "Error while reading message with no usable sender address (R=" SV_FMT
			"): rejected by non-SMTP ACL: " SV_FMT, SV_ARG(ref), SV_ARG(user.len ? user : why));
		xbuf_puts(err, "1");
		receive_abort(rc);
		verdict = -1;
	} else {
		receive_apply_acl_headers(rc, &c);
		if (c.controls.freeze)
			m->frozen = m->received_time;
	}
	xp_env_release(&env);
	return verdict;
}

static bool spool_it(arena *a, const spool_config *sc, const submit_request *r, msg_origin *o,
	char id_out[MSG_ID_LEN + 1], xbuf *err)
{
	message *m = message_new(a);
	m->origin = o;
	m->sender = r->sender;
	m->sender.taint = 0;
	/* What a local submission by a trusted caller with -f sets, plus -E's -localerror. */
	m->allow_unqualified_recipient = true;
	m->allow_unqualified_sender = true;
	m->deliver_firsttime = true;
	m->localerror = true;
	if (!r->extract_recipients)
		for (size_t i = 0; i < r->nrecipients; i++)
			message_add_recipient(m, r->recipients[i]);

	receive_ctx *rc = receive_begin(m, sc, RECV_LOCAL_EOF, err);
	if (!rc)
		return false;
	receive_opts ro = {
		.local = true, .trusted = true, .sender_local = false,
		.extract_recipients = r->extract_recipients,
		.login = o->login,
	};
	receive_set_opts(rc, &ro);
	size_t used = 0;
	receive_status st = r->text.len ? receive_feed(rc, r->text.p, r->text.len, &used, false) : RECV_MORE;
	if (st == RECV_MORE)
		st = receive_eof(rc);
	if (st != RECV_END) {
		xbuf text;
		xbuf_init(&text, pool_scratch);
		receive_reject_local_text(rc, st, &text);
		xbuf_puts(err, xbuf_cstr(&text));
		receive_abort(rc);
		return false;
	}
	if (!receive_prepare_headers(rc, err)) {
		receive_abort(rc);
		return false;
	}
	if (m->nrcpt == 0) {
		xbuf_puts(err, "no recipients in message");
		receive_abort(rc);
		return false;
	}
	if (conf_main.acl_not_smtp && *conf_main.acl_not_smtp) {
		int verdict = not_smtp_acl(a, m, o, rc, r->reference_id, err);
		if (verdict < 0)
			return false;
		if (verdict == 0) {
			/* Discarded: gone, as if delivered (Exim logs the blackhole). */
			memcpy(id_out, m->id, MSG_ID_LEN + 1);
			receive_discard(rc, "non-SMTP ACL discarded recipients");
			return true;
		}
	}
	if (!receive_commit(rc, err)) {
		receive_abort(rc);
		return false;
	}
	memcpy(id_out, m->id, MSG_ID_LEN + 1);
	xbuf line;
	xbuf_init(&line, pool_scratch);
	arrival_line(m, r->reference_id, !text_has_message_id(r->text), &line);
	log_set_id(m->id);
	log_write(LOG_MAIN, "%s", xbuf_cstr(&line));
	if (conf_main.message_logs)
		spool_msglog(sc, m->id, "Received from %s", xbuf_cstr(&line) + 3);
	receive_end(rc);
	return true;
}

bool submit_message(const spool_config *sc, const submit_request *r, char id_out[MSG_ID_LEN + 1],
	xbuf *err)
{
	id_out[0] = 0;
	arena *a = arena_new("submit");
	msg_origin *o = arena_calloc(a, 1, sizeof *o);
	o->uid = geteuid();
	o->gid = getegid();
	struct passwd *pw = getpwuid(o->uid);
	const char *login = pw ? pw->pw_name
		: conf_main.unknown_login && *conf_main.unknown_login ? conf_main.unknown_login : "unknown";
	o->login = sv_cstr(arena_strdup(a, login));
	o->ident = o->login;
	o->protocol = sv_cstr("local");
	/* Exim gives every message it makes with sender <> (bounces, warnings, autoreplies, quota
	 * warnings) bounce_sender_authentication as -oMas, and marks it tainted in -H
	 * ("--auth_sender") as any -oMas value. */
	sv as = r->auth_sender;
	if (!as.len && !r->sender.len && conf_main.bounce_sender_authentication)
		as = sv_cstr(conf_main.bounce_sender_authentication);
	if (as.len)
		o->auth_sender = sv_tainted(sv_cstr(sv_dup(a, as)));
	bool ok = spool_it(a, sc, r, o, id_out, err);
	/* The caller is normally delivering the message this one is about: its lines carry on. */
	log_set_id(r->reference_id.len ? sv_dup(pool_scratch, r->reference_id) : NULL);
	arena_free(a);
	if (!ok) {
		id_out[0] = 0;
		return false;
	}
	if (!r->queue_only && !conf_main.queue_only) {
		deliver_opts dopt;
		memset(&dopt, 0, sizeof dopt);
		deliver_start_background(sc, id_out, &dopt);
	}
	return true;
}
