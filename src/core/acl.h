/* The ACL engine (Exim 4.96 "Access control lists").
 *
 * ACL text comes from the configuration's "begin acl" blocks (kept raw by the reader, see
 * conf_dump.h), from a file, or inline; it is parsed once into statements (verb + conditions and
 * modifiers) and cached. acl_check() evaluates one ACL for one "where" against an acl_ctx that
 * the caller (SMTP session, local submission, -bh, ${acl}) fills. Everything the engine needs
 * from its caller comes through the context: no globals.
 */
#ifndef POSTERN_CORE_ACL_H
#define POSTERN_CORE_ACL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/message.h"
#include "expand/expand.h"
#include "lib/str.h"

/* Results, with Exim's meanings. */
typedef enum acl_result {
	ACL_OK,        /* accept */
	ACL_FAIL,      /* deny */
	ACL_DEFER,     /* temporary failure */
	ACL_ERROR,     /* configuration or expansion error (treated as DEFER by callers) */
	ACL_DISCARD,   /* accept, but discard the recipient/message */
	ACL_FAIL_DROP, /* deny and drop the connection */
} acl_result;

/* Where an ACL runs; the engine checks Exim's per-condition/modifier "where" restrictions. */
typedef enum acl_where {
	ACL_WHERE_RCPT, ACL_WHERE_MAIL, ACL_WHERE_PREDATA, ACL_WHERE_MIME, ACL_WHERE_DKIM,
	ACL_WHERE_DATA, ACL_WHERE_PRDR, ACL_WHERE_NOTSMTP, ACL_WHERE_AUTH, ACL_WHERE_CONNECT,
	ACL_WHERE_ETRN, ACL_WHERE_EXPN, ACL_WHERE_HELO, ACL_WHERE_MAILAUTH, ACL_WHERE_NOTSMTP_START,
	ACL_WHERE_NOTQUIT, ACL_WHERE_QUIT, ACL_WHERE_STARTTLS, ACL_WHERE_VRFY,
	ACL_WHERE_DELIVERY, ACL_WHERE_UNKNOWN,
	ACL_WHERE_COUNT
} acl_where;

/* Exim's name for a where ("RCPT", "MAIL", "DATA", "non-SMTP", "connection"...), as used in
 * "... not allowed in ... ACL" and log lines. */
const char *acl_where_name(acl_where w);

/* What "control =" and other modifiers asked the caller to do. The engine only records. */
typedef struct acl_controls {
	bool no_multiline_responses, no_pipelining, enforce_sync_set, enforce_sync;
	bool submission, suppress_local_fixups, freeze, freeze_no_tell, queue, queue_only;
	bool no_mbox_unspool, no_delay_flush, no_callout_flush, allow_auth_unadvertised;
	bool caseful_local_part, caselower_local_part, cutthrough_delivery, no_enforce_sync;
	bool fakedefer, fakereject, debug, utf8_downconvert, dkim_disable_verify, dmarc_disable_verify;
	bool dmarc_enable_forensic, allow_utf8_domains, wellknown;
	sv submission_domain, submission_name;
	bool submission_sender_retain; /* control = submission/sender_retain: Sender: is kept */
	sv fake_message;            /* control = fakereject/... : message */
	bool fake_folded;           /* an ACL ended, not discarding, after the fake control was set:
	                             * its text is folded like any reply (acl_fold_message) */
	sv queue_name;              /* control = queue/<name> */
	/* Seed-feature controls register here when their modules arrive (bmi_run...). */
	unsigned extra;             /* bit set owned by modules */
} acl_controls;

/* A header to add (add_header = ...): where it goes, per Exim's :at_start: etc. */
typedef enum acl_header_pos { ACL_HDR_APPEND, ACL_HDR_AT_START, ACL_HDR_AFTER_RECEIVED,
	ACL_HDR_AT_START_RFC } acl_header_pos;
typedef struct acl_header {
	struct acl_header *next;
	acl_header_pos pos;
	sv text;                    /* complete header line(s) ending in "\n" */
} acl_header;

/* Callbacks into the caller for conditions whose machinery lives above the engine. A NULL
 * callback makes the condition an error naming what is unavailable. Each returns acl_result. */
typedef struct acl_ops {
	/* verify = recipient / sender[=address] (routers; the delivery issue): options are the
	 * "/..." suffix text (callout=..., no_details...). */
	acl_result (*verify_address)(void *ctx, bool recipient, sv address, sv options, xbuf *user_msg, xbuf *log_msg,
		bool *empty_text);
	/* The message body (as the -D file holds it) for regex in the DATA / non-SMTP ACLs, matched
	 * line by line. In the MIME ACL the engine uses the current part instead. */
	bool (*body)(void *ctx, sv *body);
	/* Log lines the engine writes (warn log_message, logwrite, "sender verify fail for ...",
	 * panics): which is LOG_MAIN/LOG_REJECT/LOG_PANIC bits. NULL: log_write(), or for a
	 * host-checking context "LOG: text" on stderr. The session sets this so -bh output keeps
	 * its order and message-id prefix. */
	void (*log)(void *ctx, unsigned which, const char *text);
	/* "delay =": the caller serves it (flushing pending replies first unless
	 * controls.no_delay_flush, as Exim does, and noticing a client that goes away). NULL: the
	 * engine sleeps. Not called when host_checking. */
	void (*delay)(void *ctx, int seconds);
	/* A host list about to be matched has a pattern that needs the client's name (*.suffix,
	 * a regex, a name lookup) and origin->host_name is empty: the caller looks the name up
	 * (filling origin->host_name, or noting the failure), as Exim does at that point. */
	void (*need_host_name)(void *ctx);
} acl_ops;

/* Whether a host list (expanded) has a pattern that is matched against the client's host name
 * rather than its address: "*..." wildcards, "^..." regexes, and name lookups ("lsearch;...",
 * not the "net..." address forms). */
bool acl_host_list_needs_name(sv list);

typedef struct acl_ctx acl_ctx;
struct acl_ctx {
	acl_where where;
	xp_env *env;                /* providers for connection/message/session variables */
	message *msg;               /* may be NULL (connect, helo...) */
	msg_origin *origin;         /* may be NULL (-be ${acl}) */
	sv recipient;               /* RCPT ACL: the address (also $local_part/$domain via env) */
	bool authenticated;         /* for "authenticated =" */
	bool helo_verified, helo_verify_failed;
	bool smtp_session;          /* false for non-SMTP (local submission) */
	const acl_ops *ops;
	void *ops_ctx;
	/* Outputs */
	xbuf user_msg;              /* "message =": what the client is told (may be multi-line) */
	xbuf log_msg;               /* "log_message =", a verify reason, an error; empty: log the
	                             * user text (acl_log_text gives the one to log) */
	acl_controls controls;
	acl_header *add_headers;    /* in order */
	arena *msg_arena;           /* what lasts one message (added header lines, warn texts, acl_m
	                             * names); NULL: user_msg's arena. A session gives pool_msg, so a
	                             * long connection does not keep every message's. */
	sv remove_headers;          /* colon list, accumulated */
	int delay_seconds;          /* total "delay =" served (the engine sleeps unless -bh) */
	bool host_checking;         /* -bh: don't sleep on delay (udpsend still sends, as in Exim) */
	sv dnslist_domain, dnslist_matched, dnslist_text, dnslist_value; /* $dnslist_* */
	/* $domain_data / $local_part_data from a domains / local_parts condition that matched: the
	 * lookup's data or the list item (.p NULL: none yet this run) */
	sv domain_data, local_part_data;
	void *engine;               /* engine-private per-connection state (ratelimit cache...) */
	/* Added by the ACL engine */
	const char *log_prefix;     /* "H=(helo) [ip]" as the session logs the client, for warn and
	                             * "sender verify fail" lines; NULL: built from origin */
	bool discarded;             /* MAIL ACL returned discard: later RCPTs are discarded too */
	unsigned log_reject_target; /* LOG_* bits for the rejection line (log_reject_target =) */
	sv queue;                   /* "queue =" modifier: the named queue for the message */
	size_t user_msg_details;    /* user_msg starts with this many bytes of sender verify
	                             * details (not part of the ACL's own message) */
	bool log_msg_none;          /* the refusal's log line has no reason, even with a user
	                             * message (the implicit deny at an ACL's end) */
	bool msg_empty_given;       /* the deciding statement's verify = recipient got an empty
	                             * text on purpose (":fail:" alone): the reply is "550 " and the
	                             * log line ends ": ", not the defaults (Exim 4.96, observed) */
};

/* Bit for a where in the masks below. */
#define ACL_WHERE_BIT(w) (1u << (w))

/* Conditions and modifiers from modules (spf, dcc, verify=arc, bmi_optin ...). fn gets the
 * expanded argument and returns ACL_OK (condition true), ACL_FAIL (false), ACL_DEFER or
 * ACL_ERROR (with c->log_msg set). forbid_mask: ACL_WHERE_BIT()s where it may not be used.
 * Register before the configuration is checked. False if the name is taken. */
typedef acl_result (*acl_cond_fn)(acl_ctx *c, sv arg);
bool acl_register_condition(const char *name, unsigned forbid_mask, bool modifier, acl_cond_fn fn);
/* "control = name[/options]" from modules (bmi_run ...): fn gets the text after the name
 * (starting with "/" or empty). */
typedef acl_result (*acl_control_fn)(acl_ctx *c, sv options);
bool acl_register_control(const char *name, unsigned forbid_mask, acl_control_fn fn);

/* The text for the rejection log line: log_message if set, else the user message (Exim uses
 * the client's text when no log text was given). May be empty. */
sv acl_log_text(const acl_ctx *c);
/* How a caller keeps one context per connection (so warn de-duplication, per_conn ratelimit
 * results, acl_c variables and connection controls last):
 *   acl_ctx_init once; before each ACL run acl_ctx_begin(c, where) (sets where, empties
 *   user_msg/log_msg, the delay total and $dnslist_*); set recipient/msg; acl_check.
 *   At the end of a message (accepted, rejected or RSET) acl_ctx_message_done: it forgets the
 *   message's add_header/remove_header results, per-message controls (submission, freeze,
 *   queue, fakereject, ...), the queue name, the discard flag, per_mail ratelimit results and warn
 *   de-duplication, and empties the acl_m variables set through this context. */
void acl_ctx_begin(acl_ctx *c, acl_where where);
/* Free what the engine holds outside the caller's arena (its scratch arena); the context may
 * not be used afterwards. Copies of a context share that state: release one of them, once. */
void acl_ctx_release(acl_ctx *c);
void acl_ctx_message_done(acl_ctx *c);
/* Fold a reply text as Exim folds the ACL texts it returns (lines of at most 75 characters,
 * broken at spaces). */
void acl_fold_message(xbuf *msg);
/* Forget which warn texts were logged (each is logged once until then): Exim does this after
 * the connect ACL, an accepted HELO/EHLO and at each MAIL, besides the end of a message. */
void acl_ctx_warned_reset(acl_ctx *c);
/* Drop cached ACLs read from files or inline text (after a configuration reload). */
void acl_cache_flush(void);
/* The same, when any ACL read from a file is cached (between two connections of one process:
 * Exim reads an ACL file once per connection's process). */
void acl_cache_drop_files(void);

/* Prepare a context (xbufs in arena a). */
void acl_ctx_init(acl_ctx *c, arena *a, acl_where where, xp_env *env);

/* Run the ACL named or given by `spec`: an acl_smtp_* value as configured (unset: empty). The
 * engine expands it, as Exim does (forced failure: accept; error: ACL_ERROR "failed to expand
 * ACL string ..."; a tainted result is refused), then takes it as the name of an ACL in the
 * configuration, an absolute file name, or inline text. An empty spec gives Exim's default for
 * `where` (RCPT, VRFY and EXPN refuse when no ACL is set, others accept). */
acl_result acl_check(acl_ctx *c, sv spec);

/* The MIME ACL (acl_smtp_mime / acl_not_smtp_mime value in spec): run once per MIME part of
 * `message` (the whole message text as received: header lines, empty line, body; LF or CRLF line
 * ends), in order, with $mime_* set for the part; stops at the first result other than accept,
 * which it returns (with c->user_msg / log_msg from that run). Not run at all, and accept, when
 * the message has no Content-Type header. $mime_part_count stays set for the DATA ACL until
 * acl_ctx_message_done. In this ACL regex matches the raw part, mime_regex the decoded part, and
 * "decode" writes the decoded part to a file. Call with c->where = ACL_WHERE_MIME. */
acl_result acl_mime_check(acl_ctx *c, sv spec, sv message);

/* ${acl {name}{arg}...}: install as xp_hooks.acl in an environment. ctx is an acl_ctx *. */
int acl_expand_hook(void *ctx, sv name, const sv *args, int nargs, xbuf *out, xbuf *err);
/* ${if acl{...}}: install as xp_hooks.acl_cond beside acl_expand_hook. */
int acl_cond_hook(void *ctx, sv name, const sv *args, int nargs, bool *accepted, xbuf *out, xbuf *err);

/* Check every ACL in the loaded configuration for syntax (startup check, Exim's messages with
 * file and line). */
bool acl_check_config(xbuf *err);

/* $local_part of a recipient address as the RCPT ACL sees it (and local_parts = matches): the
 * part before the last "@" with quotes removed and a backslash keeping the next character
 * ("a b"@x gives a b). The address itself keeps its quotes. */
sv acl_local_part(arena *a, sv address);

#endif
