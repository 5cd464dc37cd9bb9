/* Private to the SMTP session (src/smtp/session*.c): the per-connection state and the helpers
 * the command handlers share. */
#ifndef POSTERN_SMTP_SESSION_INT_H
#define POSTERN_SMTP_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/acl.h"
#include "core/message.h"
#include "core/receive.h"
#include "expand/expand.h"
#include "lib/bio.h"
#include "lib/logsel.h"
#include "lib/str.h"
#include "mail/smtp_cmd.h"
#include "smtp/session.h"

enum {
	SMTP_CMD_MAX = 16384,      /* longest command line accepted (Exim's smtp command buffer) */
	SMTP_HISTORY = 20,         /* commands remembered for "C=..." in drop log lines */
};

/* What the loop should do after a command. */
typedef enum sess_next { SESS_CONTINUE, SESS_QUIT, SESS_DROP } sess_next;

/* smtp_ratelimit_mail / smtp_ratelimit_rcpt in force for this connection (session_ratelimit.c). */
/* Header or body: session_phase.c */
typedef struct sess_phase {
	bool in_body, at_line_start, blank_cr, name_ok, colon_seen, prev_was_header;
	unsigned long lines;
	size_t name_len;
} sess_phase;

typedef struct sess_rlimit {
	bool on;
	long threshold, count;
	double initial, factor, max, next;   /* seconds */
} sess_rlimit;

typedef struct smtp_session {
	const smtp_conn_params *p;
	smtp_mode mode;
	bio io;
	arena *conn;                 /* pool_conn: what lasts for the connection */
	arena *work;                 /* one command's work; emptied before the next */
	msg_origin origin;
	xp_env env;
	xp_provider vars;            /* session variables ($smtp_command, $sender_helo_name...) */
	message_vars msgvars;
	xp_provider proxy_vars;      /* $proxy_alpn... (v2 TLVs); ctx: the header once read */
	time_t start;
	int receive_timeout_ms;      /* smtp_receive_timeout */

	/* Reply texts */
	const char *active_hostname; /* smtp_active_hostname expanded, or primary_hostname */
	/* The client in log lines, rebuilt when HELO/host name change (Exim's host_and_ident):
	 * host_ident "name (helo) [ip] U=ident", or the login for a local -bs caller;
	 * host_tag the same with "H=" in front, or "U=login" for a local caller. */
	sv host_ident;
	/* -bs by an untrusted caller: the address that replaces the MAIL FROM sender when the
	 * message is received (empty: none). The MAIL, RCPT and predata ACLs and the log lines
	 * before that see the sender as given (Exim 4.96, observed). */
	sv local_sender_replacement;
	sv host_tag;
	sv connect_message;          /* the connect ACL's accepting message: the greeting */
	sv predata_message;          /* the predata ACL's accepting message: the 354 text */

	/* Advertised by the last EHLO (or defaults for HELO) */
	bool esmtp, helo_seen;
	bool adv_pipelining, adv_chunking, adv_dsn, adv_prdr, adv_smtputf8, adv_auth, adv_size;
	/* " PLAIN LOGIN": the mechanisms the last EHLO that considered AUTH offered (Exim keeps
	 * them through a HELO); AUTH takes only these unless control = allow_auth_unadvertised. */
	sv auth_offered;
	sv mailauth_msg;             /* this MAIL's last acl_smtp_mailauth message (work arena) */
	bool adv_8bitmime, adv_starttls;
	bool helo_verified, helo_verify_failed;

	/* Transaction */
	message *msg;                /* NULL: no MAIL yet */
	bool mail_given;
	bool commands_started;   /* the command loop has begun (ends the caller's $sender_address) */
	bool mail_discarded;          /* the MAIL ACL said discard */
	sv mail_discard_why;          /* its log text, repeated on each RCPT's discard line */
	const acl_header *acl_headers_applied;
	sess_rlimit rl_mail, rl_rcpt;      /* smtp_ratelimit_*: delays for MAIL and RCPT */ /* the last ACL-added header put into the message */
	int messages_accepted;       /* for smtp_accept_max_per_connection */
	bool data_cmd_seen;          /* a DATA or BDAT got past its syntax: no more PIPECONNECT */
	unsigned long txn_line;      /* -bS: the input line where the current transaction began */
	const char *notquit_reason;  /* $smtp_notquit_reason: why the connection ended without QUIT */
	bool notquit_ran;
	/* control = no_multiline_responses was used: from then on, for the rest of the connection,
	 * replies made of an ACL's or a check's text have their first line only (Exim 4.96,
	 * observed: it outlives RSET and HELO). */
	bool no_multiline;
	int conn_nolog;              /* -1 not checked yet; 1: host in hosts_connection_nolog */
	int exit_code;               /* the process status smtp_session_run returns */
	bool any_mail;                /* a MAIL command was given in this connection */
	int mail_cmds;                /* MAIL commands so far (smtp_accept_max_per_connection counts
	                               * these, as Exim does, not accepted messages) */
	int rcpt_ok_count;           /* accepted or discarded RCPTs */
	sv rcpt_error;               /* text of the first rejected RCPT's reply */
	bool rcpt_errors_differ;     /* later rejections had other texts */
	bool rcpt_error_coded;       /* rcpt_error came from a plain reply ("503 text") */
	/* Exim trims the line end off a remembered plain reply when DATA shows it, so no later
	 * RCPT reply (which still has its line end there) compares equal to it again. */
	bool rcpt_error_trimmed;
	bool rcpt_in_progress;       /* the next reply is this RCPT's: remembered in rcpt_error */
	/* A RCPT was discarded since the last message text began: Exim's DATA then skips its
	 * "valid RCPT" check (its flag survives RSET, MAIL and HELO) and runs the predata ACL. */
	bool rcpt_discarded_since_data;
	bool rcpt_toomany_logged;    /* "too many recipients" was logged for this message */
	/* control = cutthrough_delivery took on the transaction's first RCPT: every accepted
	 * RCPT is routed once more until one does not end in a single address (sess_rcpt). */
	bool cutthrough;
	/* Exim's view of the previous command, for its pipelining leniency: a RCPT after a
	 * refused MAIL, and DATA right after a RCPT, are answered 503 without counting as
	 * protocol errors when PIPELINING was advertised. was_* describe the current command. */
	bool was_rcpt, last_was_rcpt, was_rej_mail, last_was_rej_mail;
	xbuf last_reply;             /* text (without code) of the last reply sent */
	bool helo_free, rset_free;   /* one HELO/EHLO, and one RSET between messages, are not
	                              * counted against smtp_accept_max_nonmail */
	bool starttls_free, auth_free; /* nor one STARTTLS between messages, nor the first AUTH
	                              * of the connection or after STARTTLS */
	const char *log_id;          /* message id prefixing -bh log lines while set */
	char log_id_buf[MSG_ID_LEN + 1];
	bool log_id_sticky;          /* -bh: an accepted message's id stays on later lines */
	smtp_mail_params mail;
	int rcpt_count, rcpt_defer_count, rcpt_fail_count;
	bool prdr_requested;
	bool prdr_ran;              /* this message's PRDR phase ran ($prdr_requested "yes" at DATA) */
	sv sender;                   /* as given, for log lines */
	bool sender_replaced;        /* submission mode made msg->sender $sender_address */
	sv base_protocol;            /* $received_protocol without the "utf8" of an SMTPUTF8 message */

	/* Authentication */
	bool authenticated;
	sv auth_name;                /* instance name */

	/* Session counters and limits */
	int synprot_errors, unknown_commands, nonmail_commands;
	bool nonmail_limited;        /* host in smtp_accept_max_nonmail_hosts */
	bool proxy_failed;           /* PROXY negotiation failed: only QUIT allowed */
	bool enforce_sync;
	smtp_verb history[SMTP_HISTORY + 1];   /* the latest commands (one spare, for taking the
	                                       * last one back) */
	int nhistory;
	bool history_overflow;

	/* Current command (for $smtp_command and log lines) */
	sv cmd_line, cmd_arg;
	xbuf cmd_buf;                /* holds cmd_line */
	xbuf auth_sender_buf;        /* holds origin.auth_sender (a MAIL's AUTH=), reused by each MAIL */
	smtp_verb cmd;

	/* BDAT state */
	bool in_bdat;
	bool bdat_only_rset;         /* between chunks a command was refused: Exim takes only RSET */
	sess_phase phase;            /* header or body, for a lost connection's log line */
	struct receive_ctx *recv;
	unsigned long long bdat_total; /* bytes of BDAT chunks so far */
	unsigned long long bdat_last_size;
	bool bdat_message;           /* the message being received came by BDAT */
	bool utf8_domains;           /* a MAIL had SMTPUTF8: UTF-8 domains from now on (Exim) */

	xbuf scratch;
	sv cur_rcpt;                 /* the RCPT being checked ($local_part, $domain) */
	acl_ctx expand_acl;          /* context for ${acl {...}} in expansions */
	xp_hooks hooks;
	xp_message xpmsg;            /* the received message as expansions see it */
	acl_ctx acl;                 /* ACL engine state for the current transaction */
	acl_controls controls;       /* accumulated "control =" results for the connection */
	receive_opts recv_opts;      /* how the current message is received (kept to be amended) */
	/* The <= line's L field (log_selector pipelining): PIPECONNECT offered in the last EHLO, and
	 * whether this message's MAIL/RCPT came with more input already waiting. */
	bool adv_pipe_connect, pipelining_used;
	/* Lengths of host_ident's leading parts: $sender_fullhost ("name (helo) [ip]:port"), and
	 * that with " I=[ip]:port" (the "SMTP connection from" lines). */
	size_t host_full_len, host_conn_len;
	/* The client may use PIPECONNECT (pipelining_connect_advertise_hosts, daemon only), and
	 * it did: it talked before the banner. */
	bool pipe_connect_ok, pipe_connect_used;
	struct timespec start_ts;    /* the session's start, for D= with milliseconds */
} smtp_session;

/* Replies. A reply text may contain newlines (multi-line ACL messages): every line but the last
 * is sent as "code-". */
void sess_reply(smtp_session *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A reply from configured text whose code came from the text ("550 5.7.1 ..."): an extended
 * status code at its start is repeated on every line, as Exim does. */
void sess_reply_coded(smtp_session *s, int code, sv text);
void sess_reply_text(smtp_session *s, int code, sv text);
void sess_note_rcpt_reply(smtp_session *s, sv text);
void sess_phase_reset(sess_phase *ph);
void sess_phase_feed(sess_phase *ph, const char *p, size_t n);
const char *sess_phase_suffix(const sess_phase *ph);
void sess_reply_continued(smtp_session *s, int code, sv text);
size_t sess_esc_len(int code, sv text);
bool sess_flush(smtp_session *s);

/* The id on log lines (NULL: none). */
void sess_set_log_id(smtp_session *s, const char *id);
/* "incomplete transaction (RSET|QUIT|connection lost) from <sender> for rcpts" under
 * log_selector smtp_incomplete_transaction, when MAIL was given. */
void sess_log_incomplete(smtp_session *s, const char *why);
/* Log: to the main (and reject) log, or to stderr as "LOG: ..." under -bh. */
void sess_log(smtp_session *s, unsigned which, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether log_selector has the item (on when no configuration is loaded). */
bool sess_log_selected(logsel_id id);
/* Whether connection events are logged (smtp_connection, not hosts_connection_nolog). */
bool sess_log_connection(smtp_session *s);
/* v with non-printing characters escaped as Exim's string_printing does (for log lines). */
const char *sess_printable(smtp_session *s, sv v);
const char *sess_loggable(smtp_session *s, sv v);
/* Between the chunks of a BDAT message (Exim reads these commands inside the message):
 * the command just read, or the end of the input. */
sess_next sess_bdat_between(smtp_session *s);
sess_next sess_bdat_lost(smtp_session *s, bio_rc rc);
void sess_history_add(smtp_session *s, smtp_verb v);
sess_next sess_quit(smtp_session *s);
const char *sess_loggable_lines(smtp_session *s, sv v);
/* $message_size and $message_linecount of the message being received, as Exim counts them
 * while receiving (LF line ends, the header/body blank line included). */
void sess_received_counts(smtp_session *s, long long *size, long long *lines);
/* "H=(helo) [ip]" style identification of the client (without "H="). */
void sess_update_host_ident(smtp_session *s);
/* Reverse lookup of the client's address (once), logging a failure as Exim does. */
void sess_lookup_host_name(smtp_session *s);
void sess_lookup_host_name_again(smtp_session *s);
/* Whether the client's host is in a host list option (expanded first). */
bool sess_host_in(smtp_session *s, const char *list);
/* Whether domain is in the (expanded) domain list. */
bool sess_domain_in(smtp_session *s, const char *list, sv domain);
/* Expand a string option; NULL on failure (logged). */
const char *sess_expand(smtp_session *s, const char *src);

/* Run an ACL for `where` with spec (unexpanded option value; NULL/empty: the default). Sends
 * nothing: the caller turns the result into a reply with sess_acl_reply. */
acl_result sess_acl(smtp_session *s, acl_where where, const char *spec, sv recipient, acl_ctx *c);
/* The positive reply after an accepting ACL: its "message =" text if it set one. */
void sess_accept_reply(smtp_session *s, const acl_ctx *c, int code, const char *deflt);
/* A reply from a configured text that may start with its own code ("250 2.0.0 text"): used
 * when its first digit matches code's, else logged as Exim does and dropped. */
void sess_reply_message(smtp_session *s, int code, sv text);
/* The code at the start of text (advancing text past it), or deflt; see sess_reply_message. */
int sess_message_code(smtp_session *s, sv *text, int deflt);
/* The ACL context: made at connection start; per-message state forgotten at the end of
 * each transaction. */
/* acl_smtp_mime over the message being received (s->recv, headers prepared): once per MIME
 * part; headers added by accepting runs are applied. */
acl_result sess_acl_mime(smtp_session *s, acl_ctx *c);
void sess_acl_reset(smtp_session *s);
void sess_acl_message_done(smtp_session *s);
/* Send the reply Exim sends for a non-accept ACL result and write the log line. what is the
 * command text for the log ("RCPT <a@b>", "MAIL FROM:<a@b>", "DATA"...). Returns SESS_DROP for
 * a "drop" verb. */
sess_next sess_acl_reply(smtp_session *s, acl_where where, acl_result rc, acl_ctx *c, const char *what);

/* -bs ends with status 1 when the session is lost (end of input, a timeout) or dropped for too
 * many syntax/protocol errors or nonmail commands; a QUIT, an ACL's drop or too many unknown
 * commands end it with 0 (Exim 4.96, observed). Other modes keep their status. */
void sess_exit_failure(smtp_session *s);

/* Count a syntax/protocol error and reply (session.c); SESS_DROP past smtp_max_synprot_errors. */
sess_next sess_syntax_error(smtp_session *s, int code, const char *reason, const char *text);
/* The same for an error Exim counts as a protocol error whatever its code (BDAT's size). */
sess_next sess_protocol_error(smtp_session *s, int code, const char *reason, const char *text);
/* The connection ends without QUIT for reason: runs acl_smtp_notquit (once) and returns its
 * message, or deflt, as the text of the last reply. */
const char *sess_notquit(smtp_session *s, const char *reason, const char *deflt);
/* A multi-line reply that control = no_multiline_responses does not shorten (EHLO, HELP, EXPN,
 * the "Too many syntax or protocol errors" pair): Exim writes those lines itself. */
void sess_reply_lines(smtp_session *s, int code, sv text);
/* Count one without replying; true (and the drop logged) past the limit. */
bool sess_count_synprot(smtp_session *s);
/* message_size_limit in bytes (0: none). */
long long sess_size_limit(smtp_session *s);
/* The connection's duration for D= */
const char *sess_duration(smtp_session *s);

/* Whether STARTTLS can be advertised now. */
bool sess_tls_offerable(smtp_session *s);

/* Commands (session_cmds.c) */
sess_next sess_helo(smtp_session *s, bool ehlo);
sess_next sess_mail(smtp_session *s);
sess_next sess_rcpt(smtp_session *s);
sess_next sess_vrfy_expn(smtp_session *s, bool expn);
sess_next sess_etrn(smtp_session *s);
/* smtp_ratelimit_*: decide at connection start; wait before a MAIL / RCPT when over the limit. */
void sess_ratelimit_start(smtp_session *s);
void sess_ratelimit_mail(smtp_session *s);
void sess_ratelimit_rcpt(smtp_session *s);
/* After the ETRN ACL accepted: run smtp_etrn_command for arg (session_etrn.c). */
sess_next sess_etrn_command(smtp_session *s, sv arg, const acl_ctx *c);   /* c: the accepting ETRN ACL */
sess_next sess_etrn_queue_run(smtp_session *s, sv arg, const acl_ctx *c);  /* no smtp_etrn_command: "-R" run */
sess_next sess_help(smtp_session *s);
sess_next sess_auth(smtp_session *s);
void sess_reset_transaction(smtp_session *s);

/* DATA and BDAT (session_data.c) */
sess_next sess_data(smtp_session *s);
sess_next sess_bdat(smtp_session *s);

/* Session variables provider (session_vars.c) */
void sess_vars_init(smtp_session *s);
/* Point the message variables at m (NULL: no message). */
void sess_set_message_vars(smtp_session *s, const message *m);

/* From now until the process ends, a panic that ends it (LOG_DIE, an unusable log) answers
 * 421 and closes the session down as Exim does (session_die.c); NULL: no more. */
void sess_die_install(smtp_session *s);
/* Around the arrival line of a message whose data was read: a panic then ends the session
 * with "421 <host> Unexpected failure, please try later - closing connection." and reads no
 * more, as Exim does after DATA (observed when the main log cannot be opened). */
void sess_die_after_data(bool on);
/* -bS: the batch error for a message refused after its data (acl_not_smtp), which abandons
 * the rest of the batch as Exim does. */
sess_next sess_batch_data_error(smtp_session *s, int code, const char *text);

#endif
