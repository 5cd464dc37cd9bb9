/* Private to the ACL engine (src/core/acl_*.c): the parsed form of an ACL, the condition table,
 * and the per-context engine state. */
#ifndef POSTERN_CORE_ACL_INTERNAL_H
#define POSTERN_CORE_ACL_INTERNAL_H

#include <stdbool.h>

#include "core/acl.h"
#include "lib/str.h"

/* Verbs, in Exim's order. */
enum acl_verb { V_ACCEPT, V_DEFER, V_DENY, V_DISCARD, V_DROP, V_REQUIRE, V_WARN, V__COUNT };

/* Built-in conditions and modifiers. Module conditions (acl_register_condition) get ids from
 * C__COUNT upwards. */
enum acl_cond_id {
	C_ACL, C_ADD_HEADER, C_AUTHENTICATED, C_CONDITION, C_CONTINUE, C_CONTROL, C_DELAY, C_DNSLISTS,
	C_DECODE, C_DOMAINS, C_ENCRYPTED, C_ENDPASS, C_HOSTS, C_LOCAL_PARTS, C_LOG_MESSAGE, C_LOG_REJECT_TARGET,
	C_LOGWRITE, C_MESSAGE, C_MIME_REGEX, C_QUEUE, C_RATELIMIT, C_RECIPIENTS, C_REGEX,
	C_REMOVE_HEADER, C_SEEN, C_SENDER_DOMAINS, C_SENDERS, C_SET, C_UDPSEND, C_VERIFY,
	C__COUNT
};

/* Where what lasts one message goes (acl_ctx.msg_arena). */
static inline arena *acl_msg_arena(const acl_ctx *c)
{
	return c->msg_arena ? c->msg_arena : c->user_msg.a;
}

/* The bytes of v from start up to (not including) end. */
static inline sv sv_range(sv v, size_t start, size_t end)
{
	return sv_sub(v, start, end > start ? end - start : 0);
}

#define ACL_BIT(w) (1u << (w))
#define ACL_ALL_WHERE ((1u << ACL_WHERE_COUNT) - 1u)

typedef struct acl_cond_def {
	const char *name;
	bool modifier;       /* negation not allowed; "use" rather than "test" in errors */
	bool expand;         /* the argument is expanded before the condition sees it */
	unsigned forbids;    /* ACL_BIT(where) set: not allowed there */
	acl_cond_fn fn;      /* module conditions; NULL for built-ins */
} acl_cond_def;

/* The definition of condition id (built-in or registered); NULL if out of range. */
const acl_cond_def *acl_cond_def_get(int id);
/* Look a name up in the table; -1 if unknown. */
int acl_cond_lookup(sv name);

typedef struct acl_cond {
	struct acl_cond *next;
	int id;
	bool negated;
	sv varname;          /* "set": the variable's name */
	sv arg;              /* unexpanded argument text */
} acl_cond;

typedef struct acl_stmt {
	struct acl_stmt *next;
	int verb;
	acl_cond *conds;
	const char *file;    /* origin, for debug output */
	int line;
} acl_stmt;

/* A source line (from the configuration, a file or inline text). */
typedef struct acl_src_line {
	sv text;
	const char *file;
	int line;
} acl_src_line;

/* Parse lines into statements (in arena a). On error returns false, err holds Exim's text
 * (without the "error in ACL: " prefix) and *eline the index of the offending line. */
bool acl_parse(arena *a, const acl_src_line *lines, size_t n, acl_stmt **out, xbuf *err, size_t *eline);
/* The statements for a spec (a configured ACL's name, "/file" or inline text); *ok false with
 * c->log_msg set when it cannot be read or parsed. */
acl_stmt *acl_resolve(acl_ctx *c, sv spec, bool *ok);
/* Split file or inline text into lines as the configuration reader would (continuations joined,
 * comments and blank lines dropped). */
size_t acl_split_text(arena *a, sv text, const char *file, acl_src_line **out);

/* Engine state hanging off acl_ctx.engine. */
#define ACL_MAX_ARGS 9
typedef struct acl_engine {
	xp_provider vars;             /* $acl_arg*, $acl_narg, $acl_verify_message */
	bool pushed;
	sv args[ACL_MAX_ARGS];
	int nargs;
	sv verify_message;            /* $acl_verify_message */
	bool have_verify_message;
	int depth;
	sv *warned;                   /* warn log_message texts already logged */
	size_t nwarned, warned_cap;
	arena *a;                     /* lasts as long as the context (the caller's arena) */
	arena *tmp;                   /* temporaries of one top-level run, cleared at the next */
	/* ratelimit: $sender_rate* and the per-connection / per-message result caches */
	sv sender_rate, sender_rate_limit, sender_rate_period;
	xbuf rate_texts[3];           /* their storage, reused (acl_keep_text): they last until the
	                               * next ratelimit condition, maybe beyond the message */
	bool have_rate;
	struct acl_rl_cache *rl_conn, *rl_mail, *rl_cmd;
	sv csa_status;
	sv regex[9];                  /* $regex1..$regex9 after regex / mime_regex matched */
	xbuf regex_texts[9];          /* their storage, reused */
	int nregex;
	const acl_ctx *ctx;           /* the context last run (for $dnslist_*) */
	struct acl_mime_part *mime;   /* the MIME part being checked (MIME ACL) */
	struct mime_walk *mime_walk;
	int mime_count;               /* $mime_part_count */
	bool mime_count_set;
	struct sender_cache *sender_verified; /* verify = sender results for this message */
	sv *mvars;                    /* acl_m names set (emptied at the end of a message) */
	size_t nmvars, mvars_cap;
} acl_engine;

/* v in b: one buffer in the engine's (connection-long) arena, rewritten by each call, for a
 * value that may outlive the message ($sender_rate*, $regexN) without a copy each time. */
static inline sv acl_keep_text(acl_engine *e, xbuf *b, sv v)
{
	if (!b->a)
		xbuf_init(b, e->a);
	xbuf_reset(b);
	xbuf_putsv(b, v);
	return xbuf_sv(b);
}

const char *acl_verb_name(int v);

acl_engine *acl_engine_of(acl_ctx *c);

/* Evaluate one built-in condition/modifier with its expanded argument. Returns ACL_OK (true),
 * ACL_FAIL (false), ACL_DEFER or ACL_ERROR (log_msg set). */
acl_result acl_cond_run(acl_ctx *c, const acl_cond *cd, sv arg, int verb);

/* Run an ACL (name, file or inline text) at nesting depth+1 with arguments (for "acl =" and
 * ${acl}). */
acl_result acl_run_nested(acl_ctx *c, sv spec, const sv *args, int nargs);

/* Pieces of acl_cond_run in their own files. */
acl_result acl_verify(acl_ctx *c, sv arg);
acl_result acl_verify_csa(acl_ctx *c, sv domain);
acl_result acl_control(acl_ctx *c, sv arg);
acl_result acl_ratelimit(acl_ctx *c, sv arg);
acl_result acl_seen(acl_ctx *c, sv arg);
acl_result acl_udpsend(acl_ctx *c, sv arg);
acl_result acl_add_header(acl_ctx *c, sv arg);

/* MIME ACL support (acl_mime.c): $mime_* values, the current part's raw or decoded text for
 * regex / mime_regex, and the decode condition. */
bool acl_mime_var(acl_engine *e, sv name, xbuf *out);
bool acl_mime_texts(acl_ctx *c, bool decoded, sv *text);
acl_result acl_mime_decode(acl_ctx *c, sv arg);

/* "H=name (helo) [ip]" as the caller logs the client (acl_ctx.log_prefix or built from origin). */
void acl_log_prefix(acl_ctx *c, xbuf *out);

/* Log through the caller (acl_ops.log), else as -bh shows it when host checking, else log_write. */
void acl_log(acl_ctx *c, unsigned which, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Error helper: sets log_msg (replacing it) and returns ACL_ERROR. */
acl_result acl_error(acl_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After a top-level ACL rejected (r FAIL or DEFER): a sender verification of this message that
 * failed and was not reported yet is logged now, and a failure's details go before the reply
 * (Exim 4.96 reports them with the rejection, whichever statement rejected). */
void acl_verify_report_sender(acl_ctx *c, acl_result r);

#endif
