/* Exim's filter language (filter_ch-exim_filter_files.html): the interpreter used for the
 * system filter, for redirect routers with allow_filter, and by -bf / -bF.
 *
 * Two steps. filter_parse() reads the whole file once into an immutable program (bounded
 * nesting; errors carry Exim's wording and line numbers). filter_run() then interprets the
 * program against one message and one recipient context and produces an ordered list of
 * actions. Nothing is delivered, written or sent here: the caller (the delivery engine, or -bf
 * which only prints) acts on the list. The only side effects of running are on the caller's
 * expansion environment ($0..$9 after "matches") and, for "headers add/remove" in a system
 * filter, on the xp_message the filter reads (later conditions see the change, as in Exim).
 *
 * Action list contract for the delivery engine (in list order):
 *   FA_DELIVER  arg = the address (extracted, qualified); errors_to when given.
 *   FA_SAVE     arg = the file name as expanded ($home is NOT yet prepended to a relative
 *               name: the router does that, as Exim's redirect router does); mode or -1.
 *   FA_PIPE     arg = the command, unexpanded (the pipe transport splits then expands it).
 *   FA_MAIL     mail = the autoreply parameters (vacation defaults already applied).
 *   FA_LOGFILE / FA_LOGWRITE  arg = file name / text (a newline added if missing). The engine
 *               writes logwrite text to the most recent FA_LOGFILE (Exim writes immediately,
 *               during interpretation; a list keeps the interpreter free of I/O).
 *   FA_HEADERS_ADD / FA_HEADERS_REMOVE (system filter only) arg = header text / name list;
 *               already applied to the filter's xp_message; filter_apply_headers() applies them
 *               to the message model for the spool.
 *   FA_HEADERS_CHARSET, FA_TESTPRINT, FA_ADD, FA_FINISH: informational (testing output).
 *   FA_MAIL_IGNORED: arg = "mail" or "vacation": skipped because the return path is empty.
 *   FA_FAIL / FA_FREEZE / FA_DEFER: arg = the text; always the last action (filtering ends).
 * Each deliver/save/pipe/mail carries `significant` (seen/unseen rules applied) and `noerror`.
 * Duplicate deliveries are listed as often as obeyed; the engine drops duplicates.
 */
#ifndef POSTERN_CORE_FILTER_H
#define POSTERN_CORE_FILTER_H

#include <stdbool.h>

#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/str.h"

/* Limits (bounded parsing of untrusted files). */
enum {
	FILTER_MAX_STRING = 1024,  /* a data value before expansion (Exim's limit) */
	FILTER_MAX_DEPTH = 64,     /* nesting of if and of conditions */
};

typedef struct filter filter;  /* a parsed program (opaque, immutable) */

/* Whether text starts (after white space) with the "# Exim filter" line (any case, optional
 * blanks). Anything else is a traditional .forward file (or Sieve, not handled here). */
bool filter_is_exim_filter(sv text);
/* The same for the "# Sieve filter" line (core/sieve.h interprets those). */
bool filter_is_sieve_filter(sv text);

/* Parse. system: a system filter (fail, freeze, defer and headers add/remove allowed). On error
 * returns NULL and err holds Exim's message (what follows "Filter error: "). */
filter *filter_parse(arena *a, sv text, bool system, xbuf *err);

/* The same with a redirect router's permissions: allow_fail, allow_freeze and allow_defer
 * enable those commands in a user's filter (Exim: "filtering command "fail" is disabled"). */
typedef struct filter_parse_opts {
	bool system;
	bool allow_fail, allow_freeze, allow_defer;
} filter_parse_opts;
filter *filter_parse_with(arena *a, sv text, const filter_parse_opts *o, xbuf *err);

typedef enum filter_action_kind {
	FA_DELIVER, FA_SAVE, FA_PIPE, FA_MAIL,
	FA_LOGFILE, FA_LOGWRITE,
	FA_HEADERS_ADD, FA_HEADERS_REMOVE, FA_HEADERS_CHARSET,
	FA_TESTPRINT, FA_ADD, FA_FINISH,
	FA_MAIL_IGNORED,
	FA_FAIL, FA_FREEZE, FA_DEFER,
} filter_action_kind;

/* Parameters of mail and vacation (an autoreply). Unset fields are SV_NULL. */
typedef struct filter_mail {
	bool vacation;
	sv to, cc, bcc, from, reply_to, subject, extra_headers, text, file, log, once, once_repeat;
	bool expand_file;      /* "expand file" */
	bool return_message;   /* "return message" */
	bool notify;           /* Sieve notify: not an autoreply item; the router submits it at once
	                        * (Exim 4.96 does, while filtering): envelope sender and From: from,
	                        * recipients to, extra_headers as they are, an empty body */
} filter_mail;

typedef struct filter_action {
	struct filter_action *next;
	filter_action_kind kind;
	bool significant;      /* counts as a significant delivery (seen / unseen applied) */
	bool unseen;           /* written "unseen" (shown in testing output) */
	bool seen;             /* written "seen" */
	bool noerror;
	sv arg;
	sv errors_to;          /* FA_DELIVER; SV_NULL: none */
	int mode;              /* FA_SAVE / FA_LOGFILE: the octal mode, -1 if none */
	int var;               /* FA_ADD: variable number */
	long long amount;      /* FA_ADD */
	filter_mail *mail;     /* FA_MAIL */
} filter_action;

typedef enum filter_outcome {
	FILTER_DELIVERED,      /* at least one significant action: no normal delivery */
	FILTER_NOT_DELIVERED,  /* normal delivery continues */
	FILTER_FAIL, FILTER_FREEZE, FILTER_DEFER,
	FILTER_ERROR,          /* error holds Exim's message; actions so far are kept */
} filter_outcome;

/* The recipient and message context a run needs beyond the expansion environment. */
typedef struct filter_ctx {
	xp_env *env;           /* the caller's environment ($local_part, $domain, $home... come from
	                        * its providers); filter_run pushes its own provider while it runs */
	xp_message *msg;       /* headers the filter reads and (system filter) changes; may be NULL */
	sv local_part, domain; /* the user (personal, errors_to); the domain for unqualified addresses */
	sv prefix, suffix;     /* the local part's prefix and suffix (personal tests with them too) */
	sv qualify_domain;     /* for unqualified deliver addresses; empty: use domain */
	bool error_message;    /* the message is a bounce (null sender) */
	bool null_return_path; /* mail and vacation are ignored */
	bool first_delivery, manually_thawed;
	bool forbid_logwrite;  /* redirect's forbid_filter_logwrite: logwrite is an error. (The other
	                        * forbid_* options act on the actions: the router refuses a forbidden
	                        * pipe, file or autoreply, as Exim's does; expansion forbids are
	                        * env->forbid.) */
	long long sn[10];      /* $sn0..$sn9 (from the system filter run) */
} filter_ctx;

typedef struct filter_result {
	filter_outcome outcome;
	filter_action *actions, *tail;
	bool significant;      /* the "delivered" state at the end */
	long long n[10];       /* $n0..$n9 at the end (a system filter's become users' $sn*) */
	sv error;              /* FILTER_ERROR */
} filter_result;

/* Run the program. Actions and strings are allocated in a. Returns res->outcome. */
filter_outcome filter_run(const filter *f, filter_ctx *ctx, arena *a, filter_result *res);

/* Apply a system filter's headers add / headers remove actions (in order) to the message that
 * goes back to the spool: added lines are appended with their type letter, removed ones are
 * marked deleted ('*'). (filter_message.c) */
struct message;
void filter_apply_headers(struct message *m, const filter_result *res);

/* The reply a mail/vacation action describes, for an ADDR_REPLY address (core/addr_reply.h).
 * (filter_message.c) */
struct addr_reply;
struct addr_reply *filter_mail_reply(arena *a, const filter_mail *m);

/* The same changes to an xp_message (the view routers' $h_ variables read), for a filter that
 * ran in another process. (filter_run.c) */
void filter_apply_headers_view(xp_message *msg, const filter_result *res, arena *a);

/* A result as bytes and back, for a filter run in a child process under another uid
 * (filter_wire.c). decode: false when the bytes are not a whole, consistent encoding. */
void filter_result_encode(const filter_result *res, xbuf *out);
bool filter_result_decode(sv in, arena *a, filter_result *res);

/* Exim's reason for a malformed address (one that mail/address.h rejects), as its address
 * parser words it: "no local part", "malformed address: X may not follow Y", ... */
const char *filter_address_error(sv text, arena *a);

/* Exim's -bf/-bF rendering of one action (without newline), as "Deliver message to: x@y". */
void filter_action_describe(const filter_action *act, xbuf *out);

#endif
