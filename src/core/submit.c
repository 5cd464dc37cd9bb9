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
#include "core/priv_receive.h"
#include "core/priv_reexec.h"
#include "core/acl.h"
#include "core/queue_named.h"
#include "core/receive.h"
#include "core/route_verify.h"
#include "lib/log.h"

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
			"): rejected by non-SMTP ACL: " SV_FMT, SV_ARG(ref),
			SV_ARG(user.len ? user : sv_cstr("local configuration problem")));   /* as for -bm */
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

/* acl_not_smtp_start, which Exim's child process runs for the messages it makes too (observed),
 * for its modifiers as for a local submission (its verdict is not used). A "queue =" there
 * chooses the new message's queue; it starts as this process's, as Exim's child inherits it. */
static void not_smtp_start_acl(arena *a, message *m, msg_origin *o, spool_config *sc)
{
	message_vars mv;
	message_vars_init(&mv, m, o);
	xp_env env;
	xp_env_init(&env, a);
	xp_env_push_provider(&env, &mv.p);
	acl_ctx c;
	acl_ctx_init(&c, a, ACL_WHERE_NOTSMTP_START, &env);
	c.msg = m;
	c.origin = o;
	c.smtp_session = false;
	log_set_id(NULL);   /* Exim's child has no message id yet */
	acl_check(&c, sv_cstr(conf_main.acl_not_smtp_start));
	xp_env_release(&env);
	sc->queue_name = *queue_named_current() ? queue_named_current() : NULL;
}

static bool spool_it(arena *a, spool_config *sc, const submit_request *r, msg_origin *o,
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

	if (conf_main.acl_not_smtp_start && *conf_main.acl_not_smtp_start)
		not_smtp_start_acl(a, m, o, sc);
	receive_ctx *rc = receive_begin(m, sc, RECV_LOCAL_EOF, err);
	if (!rc)
		return false;
	receive_opts ro = {
		.local = true, .trusted = true, .sender_local = false,
		.extract_recipients = r->extract_recipients,
		.login = o->login,
		.reference_id = r->reference_id,
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
		if (!r->sender.len) {
			/* Exim's child "exim -t -oem -f <> -E<id>" logs the refusal, then that it cannot
			 * report it to anyone (observed: a header_line_maxsize its own error message
			 * breaks); the header limits are found before the message has an id. */
			xbuf reply, why;
			xbuf_init(&reply, pool_scratch);
			xbuf_init(&why, pool_scratch);
			log_set_id(NULL);
			receive_reject(rc, st, "", &reply);
			receive_reject_nosender_text(rc, st, &why);
			log_set_id(st == RECV_TOO_BIG ? m->id : NULL);
			if (r->reference_id.len)
				log_write(LOG_MAIN, "Error while reading message with no usable sender address (R=" SV_FMT "): %s",
					SV_ARG(r->reference_id), xbuf_cstr(&why));
			else
				log_write(LOG_MAIN, "Error while reading message with no usable sender address: %s", xbuf_cstr(&why));
		}
		receive_abort(rc);
		return false;
	}
	if (!receive_prepare_headers(rc, err)) {
		receive_abort(rc);
		return false;
	}
	sv bad_first = r->first_bad_recipient;
	size_t nbad = r->nbad_recipients;
	if (nbad) {
		/* Dropped by the caller: told as reception tells the ones it extracts (the id twice,
		 * the panic log too). */
		log_set_id(m->id);
		log_write(LOG_MAIN | LOG_PANIC, "%s bad addresses found in headers", m->id);
	}
	sv extracted_first;
	if (receive_bad_recipients(rc, NULL, &extracted_first) && !nbad++)
		bad_first = extracted_first;
	if (nbad && m->sender.len == 0) {
		/* An autoreply "to" list with an address that does not parse (observed from Exim
		 * 4.96: the reply goes to the others, and with nobody to tell this is logged). */
		log_set_id(m->id);
		log_write(LOG_MAIN, "Error while reading message with no usable sender address (R=" SV_FMT "): at least "
			"one malformed recipient address: " SV_FMT, SV_ARG(r->reference_id), SV_ARG(bad_first));
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
	/* The arrival line as reception writes it, with R=<reference id> after the sender. */
	receive_log_arrival(rc);
	log_set_id(m->id);
	receive_end(rc);
	return true;
}

bool submit_message(const spool_config *sc, const submit_request *r, char id_out[MSG_ID_LEN + 1],
	xbuf *err)
{
	id_out[0] = 0;
	/* Exim receives a message it makes in a process of its own, which notes a lost privilege
	 * (core/priv_reexec.h). */
	priv_reexec_note_child();
	arena *a = arena_new("submit");
	msg_origin *o = arena_calloc(a, 1, sizeof *o);
	o->uid = r->by_uid ? r->uid : r->by_exim_user ? (uid_t)conf_main.exim_user : geteuid();
	o->gid = r->by_uid ? r->gid : r->by_exim_user ? (gid_t)conf_main.exim_group : getegid();
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
	/* The new message's queue may become another (acl_not_smtp_start) while it is received;
	 * this process's own is back afterwards: Exim's child is another process. */
	spool_config qsc = *sc;
	const char *own = queue_named_current();
	queue_named_set(qsc.queue_name);
	bool ok = spool_it(a, &qsc, r, o, id_out, err);
	queue_named_set(own);
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
		if (priv_receive_hand_off(&qsc, id_out, &dopt, false)) {
			/* made in a reception run as the exim user: its root parent delivers it */
		} else if (priv_reexec_wanted())
			priv_reexec_delivery(&qsc, id_out, &dopt, priv_reexec_foreground(), false);
		else
			deliver_start_background(&qsc, id_out, &dopt);
	}
	return true;
}
