/* Address rewriting (Exim 4.96 "Address rewriting"): the "begin rewrite" rules and a transport's
 * headers_rewrite, with the flags E F T b c f h r s t S Q q R w, applied to envelope addresses at
 * reception (and at SMTP time with S) and to the address headers (From, To, Cc, Bcc, Reply-To,
 * Sender) as Exim does: the old header is kept marked deleted ('*') and the rewritten one is
 * added. Also return_path rewriting in transports. */
#ifndef POSTERN_CORE_REWRITE_H
#define POSTERN_CORE_REWRITE_H

#include <stdbool.h>

#include "conf/conf_dump.h"
#include "core/message.h"
#include "expand/expand.h"
#include "lib/str.h"

/* Parse a headers_rewrite value (rules separated by colons/newlines, as Exim writes them). */
const conf_rewrite_rule *rewrite_parse(arena *a, const char *text, xbuf *err);

/* Rewrite one address by the rules whose flags include a bit of `which` (CONF_REWRITE_*).
 * Returns the address itself when no rule applies. */
sv rewrite_address(arena *a, const conf_rewrite_rule *rules, sv address, unsigned which,
	xp_env *env);

/* Rewrite the addresses in m's headers by the rules (which: the header flags that apply);
 * returns true if any header changed. */
bool rewrite_headers(message *m, const conf_rewrite_rule *rules, unsigned which, xp_env *env);

/* Rewrite the addresses of one header line ("Name: value\n", type: its spool type letter, which
 * says which header flag applies: F f, T t, C c, B b, R r, S s; others are not rewritten).
 * true and *out the new whole line when a rule changed it. */
bool rewrite_header_line(arena *a, const conf_rewrite_rule *rules, char type, sv text, xp_env *env,
	sv *out);

/* Qualification of one header line: each unqualified working address gets "@domain", in place
 * (phrases, comments and folding stay; a grown item may push the next to a new line, as with
 * rewriting). true and *out the new whole line when one changed. */
bool rewrite_header_qualify(arena *a, sv text, const char *domain, sv *out);

/* SMTP-time rewriting (S rules of the rewrite section): data is the whole argument of MAIL or RCPT
 * as received, angle brackets included. true and *out set when a rule rewrote it. */
bool rewrite_smtp_address(arena *a, sv data, xp_env *env, sv *out);

/* The header flag (CONF_REWRITE_FROM ...) for a header name, Resent- versions included; 0 for
 * headers that are not rewritten. */
unsigned rewrite_header_flag(sv name);

/* Reception: the envelope sender and recipients and the headers of a new message, by the main
 * rewrite rules (smtp_time: only rules with S). */
void rewrite_message_at_reception(message *m, xp_env *env, bool smtp_time);
/* The same in the two steps reception interleaves with its header fix-ups (Exim's order):
 * recipients right after Message-Id: is added; headers and then the sender after a missing
 * From: was made (from the sender as it was). */
void rewrite_reception_recipients(message *m, xp_env *env);
void rewrite_reception_headers_sender(message *m, xp_env *env);

#endif
