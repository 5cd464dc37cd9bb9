/* The SMTP client engine: one connection to one host, carrying one or more messages, as Exim
 * 4.96's smtp transport talks (observed against Exim as a client; docs/smtp-client.md).
 *
 * The engine knows nothing about routing or the address model. The smtp transport (delivery
 * issue) expands its options for the host (smtpc_options), opens a connection (smtpc_connect:
 * TCP, greeting, EHLO/HELO or LHLO, the STARTTLS hook, AUTH), sends each message with its list of
 * recipients (smtpc_send), and closes (smtpc_close: QUIT). Every outcome is reported in Exim's
 * words, e.g. "SMTP error from remote mail server after RCPT TO:<x@y>: 550 5.1.1 no such user",
 * with Exim's error numbers, so the caller can write the log lines, retry records and bounces.
 *
 * Everything read from the server is tainted. Every read is bounded (a reply line, a reply's
 * line count) and has a deadline (command_timeout, final_timeout; data_timeout for writes).
 */
#ifndef POSTERN_SMTP_CLIENT_H
#define POSTERN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/message.h"
#include "expand/expand.h"
#include "lib/bio.h"
#include "lib/str.h"

/* Exim's error numbers for SMTP-level errors, as its logs print them ("defer (-44)"); errors of
 * the operating system (ECONNREFUSED, ETIMEDOUT) are reported as their errno. Observed with
 * Exim 4.96: -18, -19, -44, -45, -46. */
enum {
	SMTPC_ERRNO_SMTPCLOSED = -18,  /* "Remote host closed connection in response to ..." */
	SMTPC_ERRNO_SMTPFORMAT = -19,  /* "Malformed SMTP reply ..." */
	SMTPC_ERRNO_AUTHFAIL = -42,    /* authentication required but failed */
	SMTPC_ERRNO_RCPT4XX = -44,
	SMTPC_ERRNO_MAIL4XX = -45,
	SMTPC_ERRNO_DATA4XX = -46,
	SMTPC_ERRNO_UTF8 = -49,        /* SMTPUTF8 needed but not offered */
	SMTPC_ERRNO_EXPANDFAIL = -27,  /* smtp:connect event said no (as Exim logs it) */
	SMTPC_ERRNO_EVENT = -58,       /* tcp:connect event said no */
	SMTPC_ERRNO_TLSFAILURE = -37,  /* the TLS handshake failed ("TLS session: ...") */
	SMTPC_ERRNO_TLSREQUIRED = -38, /* TLS required (hosts_require_tls) but not started */
	SMTPC_ERRNO_DNSDEFER = -36,    /* a DNS lookup the host needs failed (DANE's TLSA) */
};

typedef enum smtpc_status {
	SMTPC_PENDING = 0,  /* not tried (yet) */
	SMTPC_OK,
	SMTPC_DEFER,
	SMTPC_FAIL,
} smtpc_status;

/* One SMTP reply: the three-digit code (0 when there was none) and the text of every line
 * joined with '\n', codes included ("550-first\n550 second"), tainted. */
typedef struct smtpc_reply {
	int code;
	xbuf text;
} smtpc_reply;

/* Limits of a reply: a line's length and the number of continuation lines. */
enum { SMTPC_LINE_MAX = 2048, SMTPC_REPLY_LINES_MAX = 100 };

/* The pure parser, shared by the engine and the fuzz target. One line (without CR LF) of a
 * reply: true when it is well formed ("ddd" alone, "ddd text" or "ddd-text");
 * *code gets the number and *last whether it ends the reply. */
bool smtpc_parse_reply_line(sv line, int *code, bool *last);

typedef enum smtpc_read_rc {
	SMTPC_READ_OK,
	SMTPC_READ_TIMEOUT,
	SMTPC_READ_CLOSED,
	SMTPC_READ_MALFORMED,  /* a line without a code, or too many lines */
	SMTPC_READ_ERROR,      /* read(2) failed (errno in the bio) */
} smtpc_read_rc;

/* Read one complete reply from io within timeout_ms (for the whole reply). On MALFORMED the
 * reply's text holds the offending line. */
smtpc_read_rc smtpc_read_reply(bio *io, smtpc_reply *r, int timeout_ms);

/* ------------------------------------------------------------------------------------------ */

typedef struct smtpc_host {
	sv name;      /* host name as routed (for messages); may equal the address */
	sv address;   /* IP address text */
	int port;
} smtpc_host;

struct smtpc_conn;
/* STARTTLS (the TLS issue): called after the server said 220 to STARTTLS (or, with
 * tls_on_connect, right after connecting); it runs the handshake on c->fd and installs its layer
 * in c->io (bio_set_layer). false with a reason in err fails the connection (Exim defers the
 * host). */
typedef bool smtpc_tls_start(void *ctx, struct smtpc_conn *c, xbuf *err);

/* The smtp transport's options that shape the conversation, already expanded for this host
 * (src/drivers/transports/smtp_client_opts.c fills them from a transport instance). */
typedef struct smtpc_options {
	sv helo_name;                 /* helo_data's value */
	int connect_timeout, command_timeout, data_timeout, final_timeout;  /* seconds; <= 0: none */
	sv interface;                 /* local address to bind; empty: any */
	bool lmtp;                    /* protocol = lmtp: LHLO and one reply per recipient */
	bool avoid_esmtp;             /* hosts_avoid_esmtp matched: HELO only */
	bool avoid_pipelining;        /* hosts_avoid_pipelining matched */
	bool try_chunking;            /* hosts_try_chunking matched (default *) */
	bool try_auth, require_auth;  /* hosts_try_auth / hosts_require_auth matched */
	sv authenticated_sender;      /* expanded authenticated_sender; empty: unset */
	bool authenticated_sender_force; /* send it even when we did not authenticate */
	int max_rcpt;                 /* recipients per transaction (<= 0: no limit) */
	int size_addition;            /* < 0: no SIZE= */
	xp_env *env;                  /* for the client authenticators' expansions (may be NULL) */
	const bio_layer *layer;       /* smtpc_connect_fd only: bytes move through this layer
	                               * instead of the descriptor (TLS on connect, fuzzing) */
	smtpc_tls_start *tls_start;   /* NULL: STARTTLS is not tried */
	void *tls_ctx;
	/* Event actions (issue 4 §7; NULL: none). event() runs the transport's event_action for
	 * name with $event_data = data and puts the result in result (empty: nothing to say).
	 * Raised: "tcp:connect" (data empty) before connecting, "smtp:connect" (the banner) after
	 * it, "smtp:ehlo" (the EHLO reply, lines joined with '\n') after a 2xx EHLO/LHLO,
	 * "tcp:close" after the connection is closed. Effects of a non-empty result, as Exim 4.96:
	 * tcp:connect -> no connection, errno SMTPC_ERRNO_EVENT, host text "Event requests alternate
	 * response" (the recipients get no text); smtp:connect -> QUIT, defer with errno
	 * SMTPC_ERRNO_EXPANDFAIL and "deferred by smtp:connect event expansion: <result>". */
	void (*event)(void *ctx, const char *name, sv data, xbuf *result);
	void *event_ctx;
	/* An authenticator the server refused (5xx; the next one is tried), for the transport's log
	 * line ("<name> authenticator failed H=... <reply>", as Exim 4.96). May be NULL. */
	void (*auth_failed)(void *ctx, const char *authenticator, sv reply);
	void *auth_failed_ctx;
	/* TLS (src/tls/tls_client_smtp.c). require_tls (hosts_require_tls): a server that does not
	 * offer STARTTLS or refuses it fails the host with SMTPC_ERRNO_TLSREQUIRED, as Exim; without
	 * it a refused STARTTLS leaves the session in clear. tls_on_connect (protocol = smtps):
	 * tls_start runs right after the TCP connection, before the greeting. A failed handshake
	 * fails the host with SMTPC_ERRNO_TLSFAILURE and the hook's text. */
	bool require_tls;
	bool tls_on_connect;
	/* After tls_start succeeded (may be NULL): with final false, once QUIT is written (send
	 * close_notify; reading goes on); with final true, as the descriptor is closed (free the
	 * session; no I/O). */
	void (*tls_close)(void *ctx, bool final);
	/* Refuse the host before connecting (DANE's lookups, src/tls, as Exim's set_errno_nohost):
	 * when refuse_text is set, smtpc_connect makes no connection and fails the host with
	 * refuse_status, refuse_errno and that text. */
	sv refuse_text;
	smtpc_status refuse_status;
	int refuse_errno;
	/* hosts_try_fastopen matched (default *): connect with TCP Fast Open (src/smtp/tfo.h);
	 * smtpc_conn.tcp_fastopen says what came of it. Added for TFO. */
	bool try_fastopen;
	/* hosts_try_prdr matched (default *): a transaction with more than one recipient asks a
	 * server offering PRDR for per-recipient replies after the data (RFC draft-hall-prdr;
	 * observed with Exim 4.96 as the client). */
	bool try_prdr;
	/* hosts_pipe_connect matched: PIPECONNECT. With a cached EHLO response for the host that
	 * offered PIPECONNECT and PIPELINING (ehlo_cache_get: what it offered, SMTPC_OFFER_*), the
	 * client sends EHLO right after connecting, without waiting for the banner, and the first
	 * MAIL, RCPTs and DATA with it; it reads the banner and the EHLO reply before the MAIL
	 * reply. ehlo_cache_put records what the host offered after every EHLO (a host that no
	 * longer offers PIPECONNECT: the record goes), with its AUTH mechanisms (auth_mechs, space
	 * separated): a client that authenticates sends its first AUTH command with the early EHLO;
	 * with STARTTLS cached (and tls_start), STARTTLS goes with the early EHLO and the EHLO after
	 * the handshake with the first transaction. Not used with LMTP, TLS on connect or
	 * require_tls (the conversation then starts as usual). */
	bool pipe_connect;
	/* utf8_downconvert for a message that needs SMTPUTF8: SMTPC_UTF8_NEVER (the recipients fail
	 * when the server does not offer SMTPUTF8), SMTPC_UTF8_ALWAYS (the envelope goes as
	 * A-labels, without SMTPUTF8, whatever the server offers), SMTPC_UTF8_IF_NEEDED (only when
	 * it does not offer SMTPUTF8; Exim 4.96's transport default). */
	int utf8_downconvert;
	/* offered: what the host offers in clear; *tls_offered: after STARTTLS (0: not known). */
	bool (*ehlo_cache_get)(void *ctx, unsigned *offered, unsigned *tls_offered, xbuf *auth_mechs);
	/* tls: the EHLO after STARTTLS (kept beside the clear one, which it must not replace) */
	void (*ehlo_cache_put)(void *ctx, unsigned offered, sv auth_mechs, bool tls);
	void *ehlo_cache_ctx;
} smtpc_options;

enum {
	SMTPC_UTF8_NEVER = 0, SMTPC_UTF8_ALWAYS = 1, SMTPC_UTF8_IF_NEEDED = -1,
	SMTPC_UTF8_UNSET = 2,  /* the transport's option did not say: the message's ACL control
	                        * decides (the smtp transport replaces it); the engine: NEVER */
};

/* What the server offered in its EHLO reply. */
enum {
	SMTPC_OFFER_PIPELINING = 1u << 0,
	SMTPC_OFFER_SIZE = 1u << 1,
	SMTPC_OFFER_8BITMIME = 1u << 2,
	SMTPC_OFFER_DSN = 1u << 3,
	SMTPC_OFFER_CHUNKING = 1u << 4,
	SMTPC_OFFER_SMTPUTF8 = 1u << 5,
	SMTPC_OFFER_STARTTLS = 1u << 6,
	SMTPC_OFFER_AUTH = 1u << 7,
	SMTPC_OFFER_PRDR = 1u << 8,
	SMTPC_OFFER_PIPECONNECT = 1u << 9,
};

/* One connection. Fields after "results" are for the caller to read. */
typedef struct smtpc_conn {
	arena *a;
	const smtpc_options *opt;
	smtpc_host host;
	int fd;
	bio io;
	/* results */
	smtpc_reply greeting;         /* the whole banner reply (DSN extra information: first line) */
	smtpc_reply helo_response;    /* the whole EHLO/HELO/LHLO reply */
	bool esmtp;                   /* EHLO (or LHLO) was accepted */
	unsigned offered;             /* SMTPC_OFFER_* (after any avoid_* option) */
	sv auth_mechs;                /* the AUTH line's mechanisms, space separated */
	const char *authenticator;    /* instance name when AUTH succeeded, else NULL */
	sv local_address;             /* our end of the connection */
	int local_port;
	int messages_sent;            /* transactions that reached the end of data */
	bool usable;                  /* can carry another message (RSET then MAIL) */
	/* The host-level outcome of the last step (connect, or a send that failed at host level). */
	smtpc_status status;
	int basic_errno;              /* errno, or SMTPC_ERRNO_* */
	int code;                     /* the SMTP code involved (0: none) */
	xbuf message;                 /* Exim's text, e.g. "Connection refused", "SMTP error from remote
	                               * mail server after initial connection: 554 go away" */
	bool tls_active;
	/* private */
	smtpc_reply reply;
	bool need_rset;               /* a transaction was opened but not completed */
	bool quit_with_data;          /* QUIT goes in the write of the coming end of data */
	bool quit_sent;               /* QUIT went with the data (smtpc_message.quit_after) */
	long long data_written;       /* bytes of the last message's data (Exim names them in a
	                               * timeout after the end of data) */
	/* result (added for TFO): a tfo_state (core/tfo_state.h), the " TFO" of delivery lines */
	int tcp_fastopen;
	/* private (PRDR): the command that ended the data, for "PRDR error after <command>" */
	char data_cmd[40];
	/* private (PIPECONNECT): EHLO went before the banner; its reply and the banner are still
	 * to be read (smtpc_early_finish) */
	bool early;
	/* private (PIPECONNECT with STARTTLS): STARTTLS went with the early EHLO; after the
	 * handshake the EHLO went without waiting (early_no_banner: no banner to read then) */
	bool early_tls, early_no_banner, ehlo_put_clear;
	unsigned early_tls_offered;
	sv early_tls_mechs;
	/* result: the connection used PIPECONNECT */
	bool pipe_connect_used;
	/* result (added for the connection cache): the code of the first reply of the last
	 * smtpc_send (RSET's or MAIL's); -1 when none came (closed, reset, timeout, malformed).
	 * A kept connection whose first reply is missing or 4xx had died while idle: nothing of
	 * the message went out, so it may go over a new connection at once. */
	int first_reply_code;
} smtpc_conn;

/* Connect, read the greeting, EHLO/HELO (LHLO), STARTTLS through the hook, AUTH. Returns c,
 * always (allocated in a): check c->status == SMTPC_OK. On failure c->status is DEFER or FAIL
 * (a 5xx greeting or HELO fails the message's recipients, as Exim does), c->message says why
 * and the connection is closed. */
smtpc_conn *smtpc_connect(arena *a, const smtpc_options *opt, const smtpc_host *host);

/* The same over a connected socket the caller made (a SOCKS proxy, tests over a socketpair);
 * the engine owns fd from here on. */
smtpc_conn *smtpc_connect_fd(arena *a, const smtpc_options *opt, const smtpc_host *host, int fd);

/* One message to send. The content comes from read(): the message as the spool keeps it
 * (headers, blank line, body) with LF line ends, unless crlf (a CHUNKING spool in wire format). */
struct smtpc_rcpt;

typedef struct smtpc_message {
	sv sender;                    /* envelope sender without <>; empty: <> */
	sv envid;                     /* DSN ENVID (decoded); empty: none */
	int dsn_ret;                  /* MSG_DSN_RET_* */
	bool smtputf8;                /* the message needs SMTPUTF8 */
	bool body_8bitmime;           /* send BODY=8BITMIME (when offered) */
	long long size;               /* Exim's message size (message.size) */
	long long linecount;          /* header lines + body lines (SIZE= adds these, as Exim) */
	sv auth_sender;               /* AUTH= on MAIL after we authenticated (unless the transport's
	                               * authenticated_sender is set); empty: AUTH=<> */
	ssize_t (*read)(void *ctx, char *buf, size_t n);  /* 0 at end, -1 on error (errno) */
	/* Start again from the beginning: needed when the recipients take more than one transaction
	 * (max_rcpt); false (or NULL) defers the recipients of the later transactions. */
	bool (*rewind)(void *ctx);
	void *read_ctx;
	bool crlf;
	/* Called after each completed transaction of the message (several with max_rcpt), before
	 * anything else is sent, with its recipients and their results (NULL: not wanted). */
	void (*txn_done)(void *ctx, const struct smtpc_rcpt *r, size_t n);
	void *txn_ctx;
	/* Asked (may be NULL) before the last transaction's data goes to a server offering
	 * PIPELINING: true when nothing will follow on this connection, and QUIT then goes in the
	 * same write as the data, as Exim 4.96 sends it (observed); smtpc_close only reads the
	 * 221. */
	bool (*quit_after)(void *ctx);
	void *quit_ctx;
} smtpc_message;

typedef struct smtpc_rcpt {
	/* in */
	sv address;
	sv orcpt;                     /* "rfc822;user@domain" decoded; empty: none */
	unsigned dsn_flags;           /* MSG_DSN_* (NOTIFY) */
	/* out */
	smtpc_status status;
	int basic_errno;              /* 0, errno or SMTPC_ERRNO_* */
	int code;                     /* the SMTP code that decided (0: none) */
	xbuf message;                 /* failure: Exim's error text; success: the confirmation
	                               * ("250 OK id=..."), as the C= log field shows it; with PRDR
	                               * the recipient's reply, '\n', the overall reply */
	bool prdr;                    /* its transaction used PRDR (" PRDR" in the => line) */
	bool downconverted;           /* its address went as A-labels (utf8_downconvert) */
} smtpc_rcpt;

/* utf8_downconvert's form of an address: a local part with non-ASCII characters becomes
 * "xn--<punycode>", the domain A-labels (IDNA). false when the domain cannot be converted. */
bool smtpc_address_to_alabel(sv address, xbuf *out);

/* Send one message to the recipients (in batches of max_rcpt per transaction). Every recipient
 * ends OK, DEFER or FAIL. A failure of the whole host (timeout, closed connection, malformed
 * reply) also sets c->status/message and makes c unusable. On a reused connection (after a
 * previous smtpc_send) RSET is sent first. Returns true when c can carry another message. */
bool smtpc_send(smtpc_conn *c, const smtpc_message *m, smtpc_rcpt *r, size_t n);

/* The first line of a reply, cut to max bytes: what DSN extra information carries
 * (X-Remote-MTA-smtp-greeting / X-Remote-MTA-helo-response: 128 from the delivery subprocess,
 * facts §7). Taint is kept. */
void smtpc_first_line(sv reply, size_t max, xbuf *out);

/* QUIT (when the connection is still usable) and close. */
void smtpc_close(smtpc_conn *c);

/* A message source over the spool: the headers of m that are not deleted, a blank line, then the
 * body of the -D file open on data_fd (its first line, "<id>-D", is skipped). Fills sm (sender,
 * ENVID, RET, SMTPUTF8, size and line count from m). */
typedef struct smtpc_spool_source {
	const message *m;
	const msg_header *h;
	size_t hoff;
	int stage;                    /* 0 headers, 1 blank line, 2 skip -D line, 3 body, 4 done */
	int fd;
} smtpc_spool_source;
void smtpc_message_from_spool(smtpc_message *sm, smtpc_spool_source *src, const message *m, int data_fd);

/* A connection another process opened and handed over (continued delivery, -MC; added for it):
 * past the greeting and EHLO, with what the server offered (SMTPC_OFFER_*) and the
 * authenticator's name when it authenticated (NULL: not). The next smtpc_send starts with MAIL. */
smtpc_conn *smtpc_adopt_fd(arena *a, const smtpc_options *opt, const smtpc_host *host, int fd,
	unsigned offered, const char *authenticator);

/* Hand the connection over (continued delivery): forget it without QUIT or tcp:close; the
 * descriptor is closed here, the other process keeps its own copy. */
void smtpc_release(smtpc_conn *c);

#endif
