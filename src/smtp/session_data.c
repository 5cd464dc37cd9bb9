/* DATA and BDAT: the message text goes through src/core/receive.h into the spool; the DATA ACL
 * runs on the received message; 250 is sent only after receive_commit() made the spool files
 * durable. Under -bh the message is received and then thrown away, with Exim's notice that the
 * id is not real.
 */
#include <string.h>

#include "conf/main_options.h"
#include "core/receive.h"
#include "core/spool.h"
#include "lib/log.h"
#include "smtp/session_int.h"

static bool host_checking(const smtp_session *s)
{
	return s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC;
}

/* Checks shared by DATA and BDAT before any message text is taken. */
static bool transaction_ready(smtp_session *s, const char *verb, sess_next *next)
{
	if (s->mail_given && s->rcpt_ok_count == 0 && s->rcpt_count > 0 && !s->rcpt_errors_differ
		&& s->rcpt_error.len) {
		xbuf t;
		xbuf_init(&t, s->conn);
		xbuf_printf(&t, "All RCPT commands were rejected with this error:\n" SV_FMT "\nValid RCPT command must precede %s",
			SV_ARG(s->rcpt_error), verb);
		*next = sess_syntax_error(s, 503, "all RCPT commands rejected", xbuf_cstr(&t));
		return false;
	}
	if (!s->mail_given || s->rcpt_ok_count == 0) {
		xbuf t;
		xbuf_init(&t, s->conn);
		xbuf_printf(&t, "valid RCPT command must precede %s", verb);
		*next = sess_syntax_error(s, 503, xbuf_cstr(&t), xbuf_cstr(&t));
		return false;
	}
	if (conf_main.acl_smtp_predata) {
		acl_ctx c;
		acl_result rc = sess_acl(s, ACL_WHERE_PREDATA, conf_main.acl_smtp_predata, SV_NULL, &c);
		if (rc != ACL_OK) {
			*next = sess_acl_reply(s, ACL_WHERE_PREDATA, rc, &c, verb);
			return false;
		}
	}
	return true;
}

static bool start_receive(smtp_session *s, receive_input how)
{
	xbuf err;
	xbuf_init(&err, s->conn);
	spool_config sc;
	if (!spool_config_from_main(&sc, &err) || !(s->recv = receive_begin(s->msg, &sc, how, &err))) {
		sess_log(s, LOG_MAIN | LOG_PANIC, "cannot start receiving a message: %s", xbuf_cstr(&err));
		sess_reply(s, 451, "Temporary local problem - please try later");
		return false;
	}
	s->log_id = s->msg->id;
	if (!host_checking(s)) log_set_id(s->msg->id);
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
	const char *who = sv_dup(s->conn, s->host_ident);
	if (rc == BIO_TIMEOUT) {
		sess_log(s, LOG_MAIN, "SMTP data timeout (message abandoned) on connection from %s F=<" SV_FMT ">",
			who, SV_ARG(s->sender));
		sess_reply(s, 421, "%s SMTP incoming data timeout - closing connection.", s->active_hostname);
	} else {
		sess_log(s, LOG_MAIN, "SMTP connection from %s lost while reading message data", who);
		sess_reply(s, 421, "%s lost input connection", s->active_hostname);
	}
	sess_reset_transaction(s);
	log_set_id(NULL);
	return SESS_DROP;
}

/* A receive_feed status that ends the message badly: the reply and log line. */
static void reject_received(smtp_session *s, receive_status st)
{
	const char *who = sv_dup(s->conn, s->host_ident);
	switch (st) {
	case RECV_TOO_BIG:
		sess_log(s, LOG_MAIN | LOG_REJECT, "rejected from <" SV_FMT "> H=%s: message too big: read=%lld max=%lld",
			SV_ARG(s->sender), who, s->msg->size, sess_size_limit(s));
		sess_reply(s, 552, "Message size exceeds maximum permitted");
		break;
	case RECV_HEADER_TOO_BIG:
		sess_log(s, LOG_MAIN | LOG_REJECT, "ridiculously long message header received from %s: message abandoned", who);
		sess_reply(s, 552, "Message header is ridiculously long");
		break;
	case RECV_IO_ERROR:
		sess_log(s, LOG_MAIN | LOG_PANIC, "spool write failed while receiving from %s", who);
		sess_reply(s, 451, "Error while writing spool file");
		break;
	default:
		sess_log(s, LOG_MAIN | LOG_REJECT, "H=%s F=<" SV_FMT "> rejected: message not acceptable", who,
			SV_ARG(s->sender));
		sess_reply(s, 554, "Message not acceptable");
		break;
	}
}

/* The message text is complete: headers, DATA ACL, commit, 250. */
static sess_next finish_message(smtp_session *s)
{
	xbuf err;
	xbuf_init(&err, s->conn);
	if (!receive_prepare_headers(s->recv, &err)) {
		sess_log(s, LOG_MAIN | LOG_REJECT, "H=%s F=<" SV_FMT "> rejected after DATA: %s",
			sv_dup(s->conn, s->host_ident), SV_ARG(s->sender), xbuf_cstr(&err));
		sess_reply(s, 550, "%s", xbuf_cstr(&err));
		sess_reset_transaction(s);
		log_set_id(NULL);
		return SESS_CONTINUE;
	}
	/* $h_*, $message_body... for the DATA ACL. */
	sv body = SV_NULL;
	if (!receive_body(s->recv, &body)) body = SV_NULL;
	message_to_xp(s->msg, body, &s->xpmsg, s->conn);
	s->env.msg = &s->xpmsg;
	acl_ctx c;
	acl_result rc = ACL_OK;
	if (conf_main.acl_smtp_data) {
		rc = sess_acl(s, ACL_WHERE_DATA, conf_main.acl_smtp_data, SV_NULL, &c);
		if (rc == ACL_OK || rc == ACL_DISCARD) receive_apply_acl_headers(s->recv, &c);
	}
	if (rc != ACL_OK && rc != ACL_DISCARD) {
		sess_next n = sess_acl_reply(s, ACL_WHERE_DATA, rc, &c, "DATA");
		sess_reset_transaction(s);
		log_set_id(NULL);
		return n;
	}
	char id[MSG_ID_LEN + 1];
	memcpy(id, s->msg->id, sizeof id);
	if (host_checking(s)) {
		/* Nothing is kept: the arrival is shown, then the files go. */
		receive_log_arrival(s->recv);
		sess_reply(s, 250, "OK id=%s", id);
		bio_puts(&s->io, "\n**** SMTP testing: that is not a real message id!\n\n");
	} else if (!receive_commit(s->recv, &err)) {
		sess_log(s, LOG_MAIN | LOG_PANIC, "failed to commit message: %s", xbuf_cstr(&err));
		sess_reply(s, 451, "Temporary local problem - please try later");
	} else {
		receive_log_arrival(s->recv);
		s->recv = NULL;        /* committed: not to be aborted by the reset */
		s->rset_free = true;
		sess_reply(s, 250, "OK id=%s", id);
	}
	if (rc == ACL_DISCARD)
		sess_log(s, LOG_MAIN, "H=%s F=<" SV_FMT "> discarded by DATA ACL", sv_dup(s->conn, s->host_ident),
			SV_ARG(s->sender));
	sess_reset_transaction(s);
	log_set_id(NULL);
	return SESS_CONTINUE;
}

sess_next sess_data(smtp_session *s)
{
	if (s->cmd_arg.len) return sess_syntax_error(s, 501, "unexpected argument data", "unexpected argument data");
	sess_next next = SESS_CONTINUE;
	if (!transaction_ready(s, "DATA", &next)) return next;
	if (!start_receive(s, RECV_SMTP_DATA)) return SESS_CONTINUE;
	sess_reply(s, 354, "Enter message, ending with \".\" on a line by itself");
	sess_flush(s);
	for (;;) {
		const char *p;
		size_t n, used = 0;
		bio_rc rc = bio_peek(&s->io, &p, &n, s->receive_timeout_ms);
		if (rc != BIO_OK) return data_lost(s, rc);
		receive_status st = receive_feed(s->recv, p, n, &used, false);
		bio_consume(&s->io, used);
		if (st == RECV_END) break;
		if (st != RECV_MORE) {
			/* Size problems are reported once the "." line was read; anything else may stop
			 * part way, and the rest of the message is read and dropped. */
			bool at_end = st == RECV_TOO_BIG || st == RECV_HEADER_TOO_BIG
				|| (used >= 3 && memcmp(p + used - 3, "\n.\n", 3) == 0)
				|| (used >= 4 && memcmp(p + used - 4, "\n.\r\n", 4) == 0);
			if (!at_end) rc = skip_to_dot(s);
			if (rc != BIO_OK && rc != BIO_TOOLONG) return data_lost(s, rc);
			reject_received(s, st);
			sess_reset_transaction(s);
			log_set_id(NULL);
			return SESS_CONTINUE;
		}
	}
	return finish_message(s);
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
		return sess_syntax_error(s, 501, "missing size for BDAT command", "missing size for BDAT command");
	if (!s->in_bdat) {
		sess_next next = SESS_CONTINUE;
		if (!transaction_ready(s, "BDAT", &next)) {
			bio_rc rc = skip_bytes(s, size);
			if (rc != BIO_OK) return data_lost(s, rc);
			return next;
		}
		if (!start_receive(s, RECV_SMTP_BDAT)) {
			bio_rc rc = skip_bytes(s, size);
			return rc == BIO_OK ? SESS_CONTINUE : data_lost(s, rc);
		}
		s->in_bdat = true;
	}
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
		bio_consume(&s->io, used);
		left -= used;
		if (st != RECV_MORE && st != RECV_END) {
			bio_rc rc = skip_bytes(s, left);
			if (rc != BIO_OK) return data_lost(s, rc);
			reject_received(s, st);
			sess_reset_transaction(s);
			log_set_id(NULL);
			return SESS_CONTINUE;
		}
		if (st == RECV_END || (used == 0 && n > 0)) break;
		if (final && left == 0) break;
	}
	if (!last) {
		sess_reply(s, 250, "%llu byte chunk received", size);
		return SESS_CONTINUE;
	}
	s->in_bdat = false;
	return finish_message(s);
}
