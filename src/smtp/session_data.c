/* DATA and BDAT: the message text goes through src/core/receive.h into the spool; the DATA ACL
 * runs on the received message; 250 is sent only after receive_commit() made the spool files
 * durable. Under -bh the message is received and then thrown away, with Exim's notice that the
 * id is not real.
 */
#include <string.h>

#include "conf/main_options.h"
#include "core/deliver.h"
#include "core/receive.h"
#include "core/spool.h"
#include "core/spool_worker.h"
#include "core/tfo_state.h"
#include "core/priv_trust.h"
#include "lib/log.h"
#include "smtp/session_int.h"

static bool host_checking(const smtp_session *s)
{
	return s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC;
}

/* A message that was not accepted: Exim forgets its id at once, so the log lines that
 * follow (other commands' refusals) carry none. */
static void message_refused(smtp_session *s)
{
	sess_reset_transaction(s);
	s->log_id_sticky = false;
	sess_set_log_id(s, NULL);
}

/* Checks shared by DATA and BDAT before any message text is taken. */
static bool transaction_ready(smtp_session *s, const char *verb, sess_next *next)
{
	s->predata_message = SV_NULL;
	/* After recipients_max_reject refused a DATA, the sender is gone but the recipients stay
	 * (below): the next DATA or BDAT is refused the same way. */
	bool toomany = conf_main.recipients_max_reject && s->rcpt_toomany_logged;
	bool no_rcpt = s->mail_given ? s->rcpt_ok_count == 0 : !(toomany && s->rcpt_ok_count);
	if (no_rcpt && s->rcpt_discarded_since_data && conf_main.acl_smtp_predata && strcmp(verb, "DATA") == 0) {
		/* Exim runs the predata ACL here (and fails if it accepts: then the usual refusal
		 * below is given instead). */
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_PREDATA, conf_main.acl_smtp_predata, SV_NULL, &c);
		if (rc != ACL_OK) {
			*next = sess_acl_reply(s, ACL_WHERE_PREDATA, rc, &c, verb);
			return false;
		}
	}
	if (no_rcpt) {
		/* When every RCPT got the same reply, Exim repeats it first (as continuation lines). */
		if (s->rcpt_error.p && !s->rcpt_errors_differ) {
			xbuf t;
			xbuf_init(&t, s->work);
			xbuf_printf(&t, "All RCPT commands were rejected with this error:\n" SV_FMT, SV_ARG(s->rcpt_error));
			sess_reply_continued(s, 503, xbuf_sv(&t));
			if (s->rcpt_error_coded) s->rcpt_error_trimmed = true;
		}
		/* Right after a RCPT with PIPELINING advertised the client was pipelining: not an
		 * error of its own. */
		if (s->adv_pipelining && s->last_was_rcpt) {
			sess_reply(s, 503, "Valid RCPT command must precede %s", verb);
			*next = SESS_CONTINUE;
			return false;
		}
		xbuf t;
		xbuf_init(&t, s->work);
		xbuf_printf(&t, "valid RCPT command must precede %s", verb);
		*next = sess_syntax_error(s, 503, xbuf_cstr(&t), xbuf_cstr(&t));
		return false;
	}
	/* recipients_max_reject refuses the whole message once a RCPT went over the limit
	 * (Exim 4.96, observed: the accepted recipients do not get it either; a BDAT's chunk is
	 * skipped; not a protocol error, and it stays so until the next MAIL or RSET). */
	if (toomany) {
		/* Exim 4.96 (observed): the refusal ends the sender's part of the transaction, so a
		 * MAIL is taken next and a RCPT is "sender not yet given". */
		s->mail_given = s->mail_discarded = s->acl.discarded = false;
		s->sender = s->mail_discard_why = SV_NULL;
		sess_reply(s, 554, "Too many recipients");
		*next = SESS_CONTINUE;
		return false;
	}
	/* The predata ACL is for DATA only: Exim does not run it before BDAT. */
	if (conf_main.acl_smtp_predata && strcmp(verb, "DATA") == 0) {
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_PREDATA, conf_main.acl_smtp_predata, SV_NULL, &c);
		if (rc != ACL_OK) {
			*next = sess_acl_reply(s, ACL_WHERE_PREDATA, rc, &c, verb);
			return false;
		}
		if (c.user_msg.len) s->predata_message = sv_copy(s->work, xbuf_sv(&c.user_msg));
	}
	return true;
}

/* -bs: the DATA message of a reception whose spool file cannot be made, read to its end and
 * dropped; its lines are not commands. */
static void skip_data_message(smtp_session *s)
{
	xbuf line;
	xbuf_init(&line, s->work);
	while (bio_read_line(&s->io, &line, SMTP_CMD_MAX, s->receive_timeout_ms) == BIO_OK) {
		sv l = xbuf_sv(&line);
		while (l.len && (l.p[l.len - 1] == '\n' || l.p[l.len - 1] == '\r'))
			l.len--;
		if (l.len == 1 && l.p[0] == '.')
			return;
	}
}

static bool start_receive(smtp_session *s, receive_input how)
{
	xbuf err;
	xbuf_init(&err, s->work);
	spool_config sc;
	if (s->local_sender_replacement.len) {
		s->msg->sender = s->local_sender_replacement;   /* the caller's own address from here on */
		s->local_sender_replacement = SV_NULL;
	}
	if (!spool_config_from_main(&sc, &err) || !(s->recv = receive_begin(s->msg, &sc, how, &err))) {
		if (priv_caller_lacks_trust()) {
			/* Exim has answered DATA before it makes its spool file; a caller without its
			 * rights cannot make it (or give it to the exim user) and the process ends there
			 * with nothing more said (observed: 354, the line on stderr, status 1). */
			sess_reply(s, 354, "Enter message, ending with \".\" on a line by itself");
			sess_flush(s);
			sess_die_install(NULL);
			log_write(LOG_MAIN | LOG_PANIC | LOG_DIE, "%s", xbuf_cstr(&err));
		}
		if (s->mode == SMTP_MODE_BS && how == RECV_SMTP_DATA && s->msg && s->msg->id[0]
			&& strstr(xbuf_cstr(&err), "Failed to create spool file")) {
			/* As Exim 4.96 (observed with -bs by root, the exim user unable to write the
			 * spool): 354, the message is read, then the process dies with the id on the line:
			 * "421 Unexpected failure", QUIT still answered, status 1. Not accepted: the
			 * client keeps the message. */
			sess_reply(s, 354, "Enter message, ending with \".\" on a line by itself");
			sess_flush(s);
			skip_data_message(s);
			sess_set_log_id(s, s->msg->id);
			sess_die_install(s);
			log_write(LOG_MAIN | LOG_PANIC | LOG_DIE, "%s", xbuf_cstr(&err));
		}
		sess_log(s, LOG_MAIN | LOG_PANIC, "cannot start receiving a message: %s", xbuf_cstr(&err));
		sess_reply(s, 451, "Temporary local problem - please try later");
		return false;
	}
	sess_set_log_id(s, s->msg->id);
	s->bdat_message = how == RECV_SMTP_BDAT;
	sess_phase_reset(&s->phase);
	s->rcpt_discarded_since_data = false;
	/* Whatever becomes of this message, a new one is expected next: one HELO/EHLO, RSET and
	 * STARTTLS are free again (smtp_accept_max_nonmail). */
	s->helo_free = s->rset_free = s->starttls_free = true;
	/* A local -bs session gets the local fix-ups; the Received header and the other
	 * expansions see the session's variables. */
	bool local = !s->origin.host_address.len;
	receive_opts o = { .local = local, .trusted = s->p->trusted_caller, .login = s->origin.login,
		.sender_local = local && !s->p->trusted_caller && !s->msg->sender_set_untrusted, .env = &s->env,
		.body_type = s->mail.body };
	/* The L field: "L", then "." (PIPECONNECT offered, not used) and "-" (PIPELINING not used). */
	if (s->adv_pipelining)
		o.pipelining = s->pipe_connect_used && s->adv_pipe_connect ? (s->pipelining_used ? "L*" : "L*-")
			: s->adv_pipe_connect ? (s->pipelining_used ? "L." : "L.-") : (s->pipelining_used ? "L" : "L-");
	s->recv_opts = o;
	receive_set_opts(s->recv, &s->recv_opts);
	/* A local -bs message may have unqualified addresses, as may one from a host in
	 * sender_unqualified_hosts / recipient_unqualified_hosts; its -H file says so and its
	 * headers get qualified (Exim 4.96, observed). */
	if (local) s->msg->allow_unqualified_recipient = s->msg->allow_unqualified_sender = true;
	else {
		s->msg->allow_unqualified_sender = sess_host_in(s, conf_main.sender_unqualified_hosts);
		s->msg->allow_unqualified_recipient = sess_host_in(s, conf_main.recipient_unqualified_hosts);
	}
	/* Exim 4.96 marks a -bs message (also with -oMa) for its first delivery attempt (observed). */
	if (s->mode == SMTP_MODE_BS || s->mode == SMTP_MODE_BATCH) s->msg->deliver_firsttime = true;
	return true;
}

/* After DATA failed part way: read and drop the rest up to the "." line. */
static bio_rc skip_to_dot(smtp_session *s)
{
	xbuf line;
	xbuf_init(&line, NULL);
	bio_rc rc;
	while ((rc = bio_read_line(&s->io, &line, SMTP_CMD_MAX, s->receive_timeout_ms)) == BIO_OK
		|| rc == BIO_TOOLONG) {
		if (rc == BIO_OK && line.len == 1 && line.p[0] == '.') break;
	}
	xbuf_free(&line);
	return rc;
}

/* The connection failed while message text was being read. */
static sess_next data_lost(smtp_session *s, bio_rc rc)
{
	sess_exit_failure(s);
	const char *who = sv_dup(s->work, s->host_ident);
	if (rc == BIO_TIMEOUT) {
		const char *dflt = arena_printf(s->work, "%s SMTP incoming data timeout - closing connection.", s->active_hostname);
		const char *text = sess_notquit(s, "data-timeout", dflt);
		if (sess_log_selected(LS_LOST_INCOMING_CONNECTION))
			sess_log(s, LOG_MAIN, "SMTP data timeout (message abandoned) on connection from %s F=<" SV_FMT ">",
				who, SV_ARG(s->sender));
		sess_reply(s, 421, "%s", text);
	} else {
		/* Exim's line has no message id: the id is not kept for a lost message. The not-QUIT
		 * ACL runs after it. */
		s->log_id_sticky = false;
		sess_set_log_id(s, NULL);
		if (sess_log_selected(LS_LOST_INCOMING_CONNECTION))
			sess_log(s, LOG_MAIN, "SMTP connection from %s lost while reading message data%s", who,
				sess_phase_suffix(&s->phase));
		/* Its message is not used for this reply (Exim). */
		(void)sess_notquit(s, "connection-lost", NULL);
		sess_reply(s, 421, "Lost incoming connection");
	}
	sess_reset_transaction(s);
	return SESS_DROP;
}

/* The parser took none of the bytes it was given without finishing: reading on would spin,
 * so the message is abandoned and the connection closed (its state is unknown). */
static sess_next stalled(smtp_session *s)
{
	sess_log(s, LOG_MAIN | LOG_PANIC, "message reception stalled on input from %s: message abandoned",
		sv_dup(s->work, s->host_ident));
	sess_reply(s, 451, "Temporary local problem - please try later");
	sess_reset_transaction(s);
	return SESS_DROP;
}

/* A receive_feed status that ends the message badly: the receive module writes Exim's log
 * lines and gives the reply. */
static void reject_received(smtp_session *s, receive_status st)
{
	/* Exim gives a message its id after the header: a header that is too long has none. */
	if (st == RECV_HEADER_TOO_BIG) {
		s->log_id_sticky = false;
		sess_set_log_id(s, NULL);
	}
	xbuf reply;
	xbuf_init(&reply, s->work);
	xbuf host;
	xbuf_init(&host, s->work);
	xbuf_putsv(&host, s->host_tag);
	int code = receive_reject(s->recv, st, s->origin.host_address.len ? xbuf_cstr(&host) : "", &reply);
	sess_reply_text(s, code, xbuf_sv(&reply));
}

/* PRDR (draft-hall-prdr): after the DATA ACL, acl_smtp_data_prdr runs once per recipient and
 * each gets its own reply; the rejected ones are taken out of the message. False when none is
 * left (the final reply has been sent). */
static bool prdr(smtp_session *s, bool *some_rejected)
{
	sess_reply(s, 353, "PRDR content analysis beginning");
	message *m = s->msg;
	size_t kept = 0;
	for (size_t i = 0; i < m->nrcpt; i++) {
		sv addr = m->rcpt[i].address;
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_PRDR, conf_main.acl_smtp_data_prdr, addr, &c);
		if (rc == ACL_OK || rc == ACL_DISCARD) {
			sess_log(s, LOG_MAIN, "PRDR R=<" SV_FMT "> acceptance", SV_ARG(addr));
			sess_reply(s, 250, "PRDR R=<" SV_FMT "> acceptance", SV_ARG(addr));
			m->rcpt[kept++] = m->rcpt[i];
			continue;
		}
		/* Without a message the texts are "PRDR R=<a> refusal" ("temporary refusal"), for
		 * the reply and, without a log_message, the whole log line; a code in the message is
		 * the reply's (Exim 4.96, observed). */
		bool temp = rc == ACL_DEFER || rc == ACL_ERROR;
		sv deflt = sv_cstr(arena_printf(s->work, "PRDR R=<" SV_FMT "> %srefusal", SV_ARG(addr),
			temp ? "temporary " : ""));
		sv user = rc == ACL_ERROR ? SV_NULL : xbuf_sv(&c.user_msg);
		if (c.log_msg.len || user.len)
			sess_log(s, LOG_MAIN, "PRDR " SV_FMT " " SV_FMT, SV_ARG(addr),
				SV_ARG(c.log_msg.len ? xbuf_sv(&c.log_msg) : user));
		else
			sess_log(s, LOG_MAIN, SV_FMT, SV_ARG(deflt));
		int code = temp ? 450 : 550;
		if (user.len) {
			code = sess_message_code(s, &user, code);
			sess_reply_text(s, code, user);
		} else {
			sess_reply_text(s, code, deflt);
		}
		*some_rejected = true;
	}
	m->nrcpt = kept;
	if (kept > 0) return true;
	sess_reply(s, 550, "id=%s message rejected for all recipients", m->id);
	return false;
}

void sess_received_counts(smtp_session *s, long long *size, long long *lines)
{
	*size = s->recv ? receive_size(s->recv) : 0;
	*lines = s->recv ? receive_lines(s->recv) : 0;
	/* Exim counts an empty BDAT message as one empty line (a DATA one as nothing). */
	if (s->recv && s->bdat_message && *size == 0) *size = *lines = 1;
}

/* After BDAT LAST the final reply starts with a line for the chunk (Exim's
 * "250- 8 byte chunk, total 20"); empty after DATA. The total is not the chunks' sum but the
 * message as Exim counted it while receiving, with every line end taken as two bytes. */
static const char *chunk_line(smtp_session *s)
{
	if (!s->bdat_message) return "";
	long long size, lines;
	sess_received_counts(s, &size, &lines);
	return arena_printf(s->work, " %llu byte chunk, total %lld\n", s->bdat_last_size, size + lines);
}

/* Apply the add_header/remove_header results the ACLs gathered since the last call: the
 * context's list of added headers grows through the transaction (MAIL, RCPT, predata, MIME,
 * DATA), so only the part after what was applied before is new. */
static void apply_acl_headers(smtp_session *s, const acl_ctx *c)
{
	acl_ctx fresh = *c;
	const acl_header *start = s->acl_headers_applied ? s->acl_headers_applied->next : c->add_headers;
	fresh.add_headers = (acl_header *)start;
	receive_apply_acl_headers(s->recv, &fresh);
	for (const acl_header *h = start; h; h = h->next) s->acl_headers_applied = h;
}

/* The message text is complete: headers, MIME and DATA ACLs, commit, 250. */
/* acl_not_smtp refused a message of batched SMTP: as Exim 4.96, the main log's "rejected by
 * non-SMTP ACL" line (the reject log adds the envelope and headers), then the batch error for
 * the data (no command to show) that abandons the rest of the batch. */
static sess_next batch_refused(smtp_session *s, const acl_ctx *c)
{
	sv user = xbuf_sv(&c->user_msg), logm = xbuf_sv(&c->log_msg);
	const char *why = logm.len ? sv_dup(s->work, logm) : user.len ? sv_dup(s->work, user) : "NULL";
	xbuf line;
	xbuf_init(&line, s->work);
	xbuf_printf(&line, "F=<" SV_FMT "> rejected by non-SMTP ACL: %s", SV_ARG(s->sender), why);
	log_set_id(s->msg->id);
	log_write(LOG_MAIN, "%s", xbuf_cstr(&line));
	xbuf_putc(&line, '\n');
	receive_reject_details(s->recv, &line);
	log_write(LOG_REJECT, "%s", xbuf_cstr(&line));
	log_set_id(NULL);
	return sess_batch_data_error(s, 550, user.len ? sv_dup(s->work, user) : "Administrative prohibition");
}

static sess_next finish_message(smtp_session *s)
{
	const char *chunk = chunk_line(s);   /* while the counts are there */
	xbuf err;
	xbuf_init(&err, s->work);
	receive_apply_controls(s->recv, &s->controls);
	if (!receive_prepare_headers(s->recv, &err)) {
		sess_log(s, LOG_MAIN | LOG_REJECT, "%s F=<" SV_FMT "> rejected after DATA: %s",
			sv_dup(s->work, s->host_tag), SV_ARG(s->sender), xbuf_cstr(&err));
		sess_reply(s, 550, "%s", xbuf_cstr(&err));
		message_refused(s);
		return SESS_CONTINUE;
	}
	/* Submission mode may have replaced the sender: the MIME and DATA ACLs see the new one as
	 * $sender_address, the "rejected after DATA" lines keep F=<the client's> (Exim 4.96,
	 * observed). */
	s->sender_replaced = receive_sender_replaced(s->recv);
	/* Headers added by the MAIL/RCPT/predata ACLs are in the message from here on. */
	apply_acl_headers(s, &s->acl);
	/* $h_*, $message_body... for the MIME and DATA ACLs. */
	sv body = SV_NULL;
	if (!receive_body(s->recv, &body)) body = SV_NULL;
	message_to_xp(s->msg, body, &s->xpmsg, s->work);
	s->env.msg = &s->xpmsg;
	acl_ctx c;
	acl_result rc = ACL_OK;
	/* acl_smtp_mime runs before the DATA ACL, once per MIME part. Batched SMTP has the
	 * non-SMTP ACLs instead (session_acl.c). */
	bool batch = s->mode == SMTP_MODE_BATCH;
	const char *mime_acl = batch ? conf_main.acl_not_smtp_mime : conf_main.acl_smtp_mime;
	const char *data_acl = batch ? conf_main.acl_not_smtp : conf_main.acl_smtp_data;
	if (mime_acl && *mime_acl && s->msg->nrcpt > 0) {
		rc = sess_acl_mime(s, &c);
		if (rc != ACL_OK && rc != ACL_DISCARD) {
			sess_next n = sess_acl_reply(s, ACL_WHERE_MIME, rc, &c, "MIME");
			message_refused(s);
			return n;
		}
		if (rc == ACL_OK) {
			apply_acl_headers(s, &c);
			message_to_xp(s->msg, body, &s->xpmsg, s->work);   /* the DATA ACL sees them */
		}
	}
	/* PRDR runs before the DATA ACL, which then sees only the recipients it kept; with all of
	 * them refused there is no DATA ACL (Exim 4.96, observed). */
	bool some_rejected = false;
	if (rc == ACL_OK && !batch && s->prdr_requested && s->msg->nrcpt > 1 && conf_main.acl_smtp_data_prdr) {
		s->prdr_ran = true;
		if (!prdr(s, &some_rejected)) {
			message_refused(s);
			return SESS_CONTINUE;
		}
		receive_note_prdr(s->recv);
	}
	/* With every recipient discarded Exim skips that whole step, PRDR's end included, so the
	 * arrival line still says PRDR (observed); with one recipient it does not. */
	if (s->prdr_requested && s->msg->nrcpt == 0)
		receive_note_prdr(s->recv);
	/* No DATA ACL for a message whose recipients were all discarded (a discard in the MIME
	 * ACL discards the message without it). */
	if (rc == ACL_OK && data_acl && *data_acl && s->msg->nrcpt > 0) {
		if (batch) log_set_id(s->msg->id);   /* its logwrite lines carry the id, as in Exim */
		rc = sess_acl(s, batch ? ACL_WHERE_NOTSMTP : ACL_WHERE_DATA, data_acl, SV_NULL, &c);
		if (batch) log_set_id(NULL);
		if (rc == ACL_OK || rc == ACL_DISCARD) apply_acl_headers(s, &c);
	}
	if (batch && rc != ACL_OK && rc != ACL_DISCARD) {
		sess_next n = batch_refused(s, &c);
		message_refused(s);
		return n;
	}
	if (rc != ACL_OK && rc != ACL_DISCARD) {
		sess_next n = sess_acl_reply(s, ACL_WHERE_DATA, rc, &c, "DATA");
		message_refused(s);
		return n;
	}
	char id[MSG_ID_LEN + 1];
	memcpy(id, s->msg->id, sizeof id);
	/* The DATA ACL's accepting (or discarding) message replaces "OK id=..." */
	sv data_msg = !batch && (rc == ACL_OK || rc == ACL_DISCARD) && conf_main.acl_smtp_data && s->msg->nrcpt > 0 && c.user_msg.len ? sv_copy(s->work, xbuf_sv(&c.user_msg)) : SV_NULL;
	/* A message whose recipients were all discarded is accepted and thrown away at once. */
	const char *discarded = rc == ACL_DISCARD ? "DATA" : s->mail_discarded ? "MAIL" : s->msg->nrcpt == 0 ? "RCPT" : NULL;
	bool keep = !discarded && !host_checking(s);
	if (keep && !receive_commit(s->recv, &err)) {
		sess_log(s, LOG_MAIN | LOG_PANIC, "failed to commit message: %s", xbuf_cstr(&err));
		sess_reply(s, 451, "Temporary local problem - please try later");
		sess_reset_transaction(s);
		return SESS_CONTINUE;
	}
	/* control = fakedefer/fakereject: the message is kept, the client is told otherwise. */
	const acl_controls *k = &s->controls;
	bool fake = !some_rejected && (k->fakereject || k->fakedefer);
	if (fake && k->fakereject) {
		s->recv_opts.fake_reject = true;
		receive_set_opts(s->recv, &s->recv_opts);
	}
	sess_die_after_data(true);
	receive_log_arrival(s->recv);
	sess_die_after_data(false);
	s->origin.tcp_fastopen = TFO_NOT_USED;   /* Exim logs " TFO" once per connection */
	/* An ACL's control = freeze / queue is logged after the arrival ("by NULL" for a message
	 * whose recipients the MAIL or RCPT ACL discarded: Exim no longer knows who asked; one
	 * the DATA ACL discarded is "by ACL", observed). */
	const char *by = discarded && strcmp(discarded, "DATA") != 0 ? "NULL" : "ACL";
	if (k->freeze) sess_log(s, LOG_MAIN, "frozen by %s", by);
	if ((k->queue || k->queue_only) && sess_log_selected(LS_DELAY_DELIVERY))
		sess_log(s, LOG_MAIN, "no immediate delivery: queued by %s", by);
	if (discarded) {
		/* the DATA ACL's discarding text follows (the MAIL/RCPT ones were on their lines) */
		sv why = rc == ACL_DISCARD ? acl_log_text(&c) : SV_NULL;
		sess_log(s, LOG_MAIN, "=> blackhole (%s ACL discarded recipients)%s%s", discarded, why.len ? ": " : "",
			why.len ? sess_loggable_lines(s, why) : "");
		sess_log(s, LOG_MAIN, "Completed");
	}
	s->log_id_sticky = host_checking(s) && !discarded;
	if (discarded) sess_set_log_id(s, NULL);   /* a discarded message's id goes at once */
	if (keep) receive_end(s->recv);
	else receive_abort(s->recv);
	s->recv = NULL;        /* done with: not to be aborted by the reset */
	s->messages_accepted++;
	s->txn_line = s->io.lines;
	if (some_rejected) sess_reply(s, 250, "id=%s message accepted for some recipients", id);   /* no chunk line */
	/* After a PRDR phase that kept every recipient (Exim 4.96, observed) */
	else if (s->prdr_ran && !fake) sess_reply(s, 250, "id=%s message accepted", id);   /* no chunk line */
	else if (fake) {
		/* No chunk line and no code taken from the text (Exim); its default text. Folded like
		 * the ACL texts once an ACL ended without discarding after the control was set
		 * (Exim 4.96, observed: a discarding statement's fakereject goes out unfolded). */
		xbuf ft;
		xbuf_init(&ft, s->work);
		xbuf_putsv(&ft, k->fake_message.p ? k->fake_message
			: SV_LIT("Your message has been rejected but is being kept for evaluation.\n"
				"If it was a legitimate message, it may still be delivered to the target recipient(s)."));
		if (k->fake_folded) acl_fold_message(&ft);
		sv text = xbuf_sv(&ft);
		sess_reply_text(s, k->fakereject ? 550 : 450, text);
	}
	else if (data_msg.len) {
		int code = sess_message_code(s, &data_msg, 250);
		sess_reply(s, code, "%s" SV_FMT, chunk, SV_ARG(data_msg));
	}
	else sess_reply(s, 250, "%sOK id=%s", chunk, id);
	if (host_checking(s) && !some_rejected && !(s->prdr_ran && !fake))
		bio_puts(&s->io, "\n**** SMTP testing: that is not a real message id!\n\n");
	if (keep) {
		/* Exim starts a delivery process per accepted message unless something says queue. */
		bool per_conn = conf_main.smtp_accept_queue_per_connection > 0
			&& s->messages_accepted > conf_main.smtp_accept_queue_per_connection;
		bool queue = s->p->queue_only_load || s->p->accept_queue || per_conn
			|| s->controls.queue || s->controls.queue_only;
		spool_config sc;
		xbuf_reset(&err);
		if (spool_config_from_main(&sc, &err))
			deliver_after_reception(&sc, id, queue);
	}
	sess_reset_transaction(s);
	/* The next message's spare files, made by the helper thread while the 250 goes out and the
	 * client sends its next MAIL (or the process waits for its next connection): asked for at
	 * MAIL only, they were often not ready by DATA, and the session made them itself between
	 * the client's dot and its 250 (core/spool_worker.h). */
	spool_spares_prepare();
	return SESS_CONTINUE;
}

sess_next sess_data(smtp_session *s)
{
	if (s->cmd_arg.len) return sess_syntax_error(s, 501, "unexpected argument data", "unexpected argument data");
	s->data_cmd_seen = true;
	sess_next next = SESS_CONTINUE;
	if (!transaction_ready(s, "DATA", &next)) return next;
	s->bdat_last_size = s->bdat_total = 0;
	/* A code in the predata ACL's message is checked (and a wrong one logged) before the
	 * message has an id. */
	sv go = s->predata_message;
	int go_code = go.len ? sess_message_code(s, &go, 354) : 354;
	if (!start_receive(s, RECV_SMTP_DATA)) return SESS_CONTINUE;
	if (go.len != s->predata_message.len) sess_reply_coded(s, go_code, go);
	else if (go.len) sess_reply_text(s, 354, go);
	else sess_reply(s, 354, "Enter message, ending with \".\" on a line by itself");
	s->predata_message = SV_NULL;
	sess_flush(s);
	for (;;) {
		const char *p;
		size_t n, used = 0;
		bio_rc rc = bio_peek(&s->io, &p, &n, s->receive_timeout_ms);
		if (rc != BIO_OK) return data_lost(s, rc);
		receive_status st = receive_feed(s->recv, p, n, &used, false);
		sess_phase_feed(&s->phase, p, used);
		bio_consume(&s->io, used);
		if (st == RECV_END) break;
		if (st == RECV_MORE && used == 0) return stalled(s);
		if (st != RECV_MORE) {
			/* Size problems are reported once the "." line was read; anything else may stop
			 * part way, and the rest of the message is read and dropped. */
			bool at_end = st == RECV_TOO_BIG || st == RECV_HEADER_TOO_BIG
				|| (used >= 3 && memcmp(p + used - 3, "\n.\n", 3) == 0)
				|| (used >= 4 && memcmp(p + used - 4, "\n.\r\n", 4) == 0);
			if (!at_end) rc = skip_to_dot(s);
			if (rc != BIO_OK && rc != BIO_TOOLONG) return data_lost(s, rc);
			reject_received(s, st);
			message_refused(s);
			return SESS_CONTINUE;
		}
	}
	return finish_message(s);
}

sess_next sess_bdat_lost(smtp_session *s, bio_rc rc)
{
	sess_exit_failure(s);
	return data_lost(s, rc);
}

/* A refusal between chunks: a protocol error; when one too many, Exim drops the connection
 * from inside the message, which then ends as lost (the not-QUIT ACL runs for that). */
static sess_next between_refused(smtp_session *s, int code, const char *text)
{
	s->bdat_only_rset = true;
	if (sess_protocol_error(s, code, text, text) == SESS_CONTINUE) return SESS_CONTINUE;
	s->notquit_ran = false;
	return data_lost(s, BIO_EOF);
}

sess_next sess_bdat_between(smtp_session *s)
{
	/* Exim names the message by its id only once its header has been read: the log lines
	 * of commands within the header have none. */
	if (!s->phase.in_body) {
		s->log_id_sticky = false;
		sess_set_log_id(s, NULL);
	}
	if (s->cmd == SMTP_RSET) {
		/* Exim 4.96 crashes here; Postern resets as for any RSET. */
		sess_history_add(s, s->cmd);
		sess_reset_transaction(s);
		s->log_id_sticky = false;
		sess_set_log_id(s, NULL);
		sess_reply(s, 250, "Reset OK");
		return SESS_CONTINUE;
	}
	if (s->bdat_only_rset) return between_refused(s, 503, "only RSET accepted now");
	switch (s->cmd) {
	case SMTP_BDAT: {
		/* The next chunk: not a command of its own in the C= history. A chunk of no size
		 * that is not the last is refused. */
		unsigned long long size;
		bool last;
		if (smtp_parse_bdat(s->cmd_arg, &size, &last) && size == 0 && !last)
			return between_refused(s, 504, "zero size for BDAT command");
		return sess_bdat(s);
	}
	case SMTP_NOOP:
		sess_history_add(s, s->cmd);
		sess_reply(s, 250, "OK");
		return SESS_CONTINUE;
	case SMTP_QUIT:
		/* Answered as QUIT (its ACL runs), then the message is lost with the connection. */
		sess_history_add(s, s->cmd);
		(void)sess_quit(s);
		return data_lost(s, BIO_EOF);
	default:
		return between_refused(s, 503, "only BDAT permissible after non-LAST BDAT");
	}
}

/* Read and drop a chunk the client sends after a rejected BDAT. */
static bio_rc skip_bytes(smtp_session *s, unsigned long long n)
{
	while (n > 0) {
		const char *p;
		size_t avail;
		bio_rc rc = bio_peek(&s->io, &p, &avail, s->receive_timeout_ms);
		if (rc != BIO_OK) return rc;
		size_t k = avail < n ? avail : (size_t)n;
		bio_consume(&s->io, k);
		n -= k;
	}
	return BIO_OK;
}

sess_next sess_bdat(smtp_session *s)
{
	unsigned long long size;
	bool last;
	if (!s->adv_chunking)
		return sess_syntax_error(s, 503, "BDAT command used when CHUNKING not advertised",
			"BDAT command used when CHUNKING not advertised");
	if (!smtp_parse_bdat(s->cmd_arg, &size, &last))
		return sess_protocol_error(s, 501, "missing size for BDAT command", "missing size for BDAT command");
	s->data_cmd_seen = true;
	if (!s->in_bdat) {
		sess_next next = SESS_CONTINUE;
		if (!transaction_ready(s, "BDAT", &next)) {
			/* Dropped for too many errors: the chunk is not read (Exim 4.96, observed). */
			if (next == SESS_DROP) return next;
			bio_rc rc = skip_bytes(s, size);
			/* No message was started: input ending here is lost like any command's (the
			 * next read sees the end again). */
			if (rc == BIO_EOF && next == SESS_CONTINUE) return SESS_CONTINUE;
			if (rc != BIO_OK) return data_lost(s, rc);
			return next;
		}
		if (!start_receive(s, RECV_SMTP_BDAT)) {
			bio_rc rc = skip_bytes(s, size);
			return rc == BIO_OK ? SESS_CONTINUE : data_lost(s, rc);
		}
		s->in_bdat = true;
		s->bdat_total = 0;
	}
	sess_set_log_id(s, s->msg->id);   /* dropped between chunks while in the header */
	unsigned long long left = size;
	receive_status st = RECV_MORE;
	while (left > 0 || (last && st == RECV_MORE)) {
		const char *p = "";
		size_t n = 0, used = 0;
		if (left > 0) {
			bio_rc rc = bio_peek(&s->io, &p, &n, s->receive_timeout_ms);
			if (rc != BIO_OK) return data_lost(s, rc);
			if (n > left) n = (size_t)left;
		}
		bool final = last && n == left;
		st = receive_feed(s->recv, p, n, &used, final);
		if (used > n) used = n;
		sess_phase_feed(&s->phase, p, used);
		bio_consume(&s->io, used);
		left -= used;
		if (st != RECV_MORE && st != RECV_END) {
			bio_rc rc = skip_bytes(s, left);
			if (rc != BIO_OK) return data_lost(s, rc);
			reject_received(s, st);
			message_refused(s);
			return SESS_CONTINUE;
		}
		if (st == RECV_END) break;
		if (used == 0 && n > 0) return stalled(s);
		if (final && left == 0) break;
	}
	s->bdat_total += size;
	/* Past message_size_limit at the end of a chunk that is not the last, in the body: refused
	 * now, not at the LAST one, and the chunks after it meet no transaction (Exim 4.96, observed;
	 * in the header it goes on to the LAST chunk). */
	if (!last && receive_in_body(s->recv) && receive_size_limit(s->recv) > 0
		&& receive_size(s->recv) > receive_size_limit(s->recv)) {
		reject_received(s, RECV_TOO_BIG);
		message_refused(s);
		return SESS_CONTINUE;
	}
	if (!last) {
		sess_reply(s, 250, "%llu byte chunk received", size);
		return SESS_CONTINUE;
	}
	s->in_bdat = false;
	/* The last chunk's acknowledgement is the first line of the final reply. */
	s->bdat_last_size = size;
	return finish_message(s);
}
