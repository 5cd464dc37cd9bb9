/* Callout verification (Exim 4.96 "Callout verification", "Additional parameters for callouts",
 * "Callout caching"): after an address routed to remote hosts, ask one of them in SMTP whether
 * it would take the address, with the results cached in the "callout" hints database.
 *
 * The option parser, the cache and the decisions live here; the SMTP conversation is done by the
 * smtp transport's side (drivers/transports/smtp_callout.c) through the callout_link seam below,
 * so that this layer needs neither the client engine nor the transport's options. */
#ifndef POSTERN_CORE_CALLOUT_H
#define POSTERN_CORE_CALLOUT_H

#include <stdbool.h>
#include <time.h>

#include "core/acl.h"
#include "core/addr.h"
#include "expand/expand.h"
#include "lib/str.h"

typedef struct callout_opts {
	bool enabled;                 /* "callout" was given */
	int timeout;                  /* per command, seconds (default 30) */
	int connect_timeout;          /* connect=; default: timeout */
	int maxwait;                  /* maxwait=; default: 4 * timeout */
	bool defer_ok, no_cache, random, use_sender, use_postmaster, hold, fullpostmaster;
	bool postmaster;              /* postmaster or postmaster_mailfrom= */
	sv postmaster_mailfrom;       /* sender for the postmaster check (empty: <>) */
	sv mailfrom;                  /* mailfrom= (header_sender only) */
	bool has_mailfrom;
} callout_opts;

/* Parse a verify condition's "/..." options for the callout parts ("callout", "callout=...",
 * and the old "callout_defer_ok", "check_postmaster"). header_sender allows mailfrom=. false with
 * Exim's error text in err (the condition is then an ACL error). cond is the whole condition
 * text after "verify =" for the messages. */
bool callout_opts_parse(sv options, bool header_sender, sv cond, callout_opts *o, xbuf *err);

/* Record a verification failure's kind for $sender_verify_failure / $recipient_verify_failure
 * ("route", "mail", "recipient", "postmaster", "random"; NULL clears) and make the variables
 * (and $callout_address) known in env. */
void callout_note_failure(xp_env *env, bool recipient, const char *what);

/* Callouts are skipped (and count as success) in -bh host checking; -bhc does them. */
void callout_set_skip(bool skip);
bool callout_skipped(void);

/* Verify a routed address by callout. sender is the envelope sender (use_sender) and
 * is_recipient tells which texts to use. Messages as Exim 4.96 words them; see callout.c. */
acl_result callout_verify(xp_env *env, arena *a, const address_item *routed, sv address, sv sender,
	bool is_recipient, const callout_opts *o, xbuf *user_msg, xbuf *log_msg);

/* ---- the seam: one SMTP connection for probes (implemented with the smtp transport) ---- */

typedef enum callout_rc { CALLOUT_ACCEPT, CALLOUT_REJECT, CALLOUT_TEMP, CALLOUT_HOSTFAIL } callout_rc;

typedef struct callout_step {
	callout_rc rc;
	bool at_connect;              /* decided by the greeting / HELO (a 5xx there rejects) */
	bool at_mail;                 /* decided by the reply to MAIL */
	int code;
	sv sent;                      /* "RCPT TO:<x@y>" */
	sv response;                  /* the remote's reply, lines joined with '\n' */
	sv message;                   /* Exim's text ("SMTP error from remote mail server after ...") */
} callout_step;

typedef struct callout_link callout_link;

/* The hosts to try for a routed address (the router's, or the smtp transport's hosts /
 * hosts_override), with addresses looked up. NULL: none. */
route_host *callout_link_hosts(arena *a, xp_env *env, const address_item *routed);
/* Connect to host h with the routed address's transport options (none: defaults, port 25),
 * the given timeouts. Returns NULL with *step describing the failure. */
callout_link *callout_link_open(arena *a, xp_env *env, const address_item *routed, const route_host *h,
	int timeout, int connect_timeout, callout_step *step);
/* One probe; rset when the link already carried one. */
void callout_link_probe(callout_link *l, bool rset, sv from, sv to, callout_step *step);
/* "[ip]:port" of the link's host ($callout_address). */
sv callout_link_address(const callout_link *l);
void callout_link_close(callout_link *l);

#endif
