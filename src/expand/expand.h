/* The string-expansion language of Exim 4.96 (ch-string_expansions.html).
 *
 * Compile once, evaluate many: xp_compile() turns source text into an immutable tree. It never
 * fails: a syntax error is stored in the tree at the point where it was found and reported when
 * evaluation reaches it, so the error that wins is the one Exim (which parses while it evaluates)
 * would report first. xp_eval() walks the tree with an xp_env that holds all evaluation state;
 * there are no globals, so several environments may evaluate the same program.
 *
 * Results are appended to `out`; on XP_FORCEFAIL or XP_ERROR `err` holds Exim's message (the
 * text -be prints after "Failed: ").
 */
#ifndef POSTERN_EXPAND_EXPAND_H
#define POSTERN_EXPAND_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"
#include "lib/str.h"

enum { XP_OK = 0, XP_FORCEFAIL = 1, XP_ERROR = 2 };

/* What an expansion may not do (Exim's expand_forbid bits, same meaning). */
enum {
	RDO_BLACKHOLE = 1u << 0, RDO_DEFER = 1u << 1, RDO_EXISTS = 1u << 2, RDO_FAIL = 1u << 3,
	RDO_FILTER = 1u << 4, RDO_FREEZE = 1u << 5, RDO_INCLUDE = 1u << 6, RDO_LOG = 1u << 7,
	RDO_LOOKUP = 1u << 8, RDO_PERL = 1u << 9, RDO_READFILE = 1u << 10, RDO_READSOCK = 1u << 11,
	RDO_RUN = 1u << 12, RDO_DLFUNC = 1u << 13,
};

typedef struct xp_prog xp_prog;
typedef struct xp_env xp_env;

/* A variable provider: returns true and appends the value (with its taint) if it knows `name`.
 * Providers are asked in chain order before the built-in table, so a later layer (connection,
 * message, address, ACL) can add or override variables without touching this module. */
typedef struct xp_provider {
	bool (*get)(void *ctx, sv name, xbuf *out);
	void *ctx;
	struct xp_provider *next;
} xp_provider;

/* A loaded message, for $h_ variables, $message_body, $message_headers (-bem, later delivery). */
typedef struct xp_header {
	sv name;  /* without the colon */
	sv text;  /* everything after the colon, including folding and the final newline */
} xp_header;
typedef struct xp_message {
	xp_header *headers;
	size_t nheaders;
	sv body;
	long long body_linecount, body_zerocount, message_linecount, size;
	long long max_linelength; /* longest line, without its newline ($max_received_linelength) */
	size_t headers_cap; /* allocation size of headers[] */
} xp_message;

/* Hooks for items and conditions whose machinery lives in later layers (ACLs, SRS, TLS, DMARC).
 * A NULL hook makes the item fail with an error naming what is missing. Each returns XP_*. */
typedef struct xp_hooks {
	int (*acl)(void *ctx, sv name, const sv *args, int nargs, xbuf *out, xbuf *err);
	int (*authresults)(void *ctx, sv authserv_id, xbuf *out, xbuf *err);
	int (*certextract)(void *ctx, sv field, sv cert, xbuf *out, xbuf *err);
	int (*srs_encode)(void *ctx, sv secret, sv return_path, sv orig_domain, xbuf *out, xbuf *err);
	int (*inbound_srs)(void *ctx, sv local_part, sv secret, bool *result, xbuf *err);
	/* The acl condition (${if acl{{name}{arg}...}}): runs the ACL like the acl hook, but tells
	 * accept (*accepted true) from deny (false) and leaves the "message =" text in out, which
	 * becomes $value; XP_ERROR with "DEFER from acl ..." etc. for other results. NULL: the acl
	 * hook is used, and any result it returns XP_OK for counts as accept. */
	int (*acl_cond)(void *ctx, sv name, const sv *args, int nargs, bool *accepted, xbuf *out, xbuf *err);
	void *ctx;
} xp_hooks;

/* $value, $item and $0..$19 are stacked: an item that sets them restores the outer values when
 * it finishes, as Exim does. */
#define XP_MAX_NUMERIC 20 /* $0..$19, as Exim's EXPAND_MAXN */

struct xp_env {
	arena *a;                 /* results and temporaries (callers may reset it between expansions) */
	arena *state;             /* what outlives one expansion ($acl_c/m values, $prvscheck_result);
	                           * xp_env_init sets it to a, a caller that resets a sets another */
	xp_provider *providers;
	const xp_hooks *hooks;
	const xp_message *msg;    /* NULL: no message (header variables are empty) */
	unsigned forbid;          /* RDO_* */
	size_t max_output;        /* bound on one result; 0 = default (XP_DEFAULT_MAX_OUTPUT) */
	int max_depth;            /* nesting bound; 0 = default (XP_DEFAULT_MAX_DEPTH) */

	/* Evaluation state (set by items while their branches run). */
	sv value;                 /* $value */
	sv item;                  /* $item */
	sv numeric[XP_MAX_NUMERIC];
	int nnumeric;             /* how many of numeric[] are set */
	int runrc;                /* $runrc */
	bool lookup_deferred;     /* a ${lookup} deferred: makes the whole expansion fail */
	int depth;
	void *pcre_ctx;           /* owned by the engine (compiled-regex cache); NULL initially */

	/* $acl_c*, $acl_m*: a simple list the ACL layer will replace with its own provider. */
	struct xp_aclvar *aclvars;
};

#define XP_DEFAULT_MAX_OUTPUT ((size_t)64 << 20)
#define XP_DEFAULT_MAX_DEPTH 1000

/* Set up an environment with defaults; a is where results and temporaries go. */
void xp_env_init(xp_env *env, arena *a);
/* Put a provider at the head of the chain (it is asked first). */
void xp_env_push_provider(xp_env *env, xp_provider *p);
/* Set an ACL variable ($acl_c0, $acl_m_name) for this environment. */
void xp_env_set_aclvar(xp_env *env, sv name, sv value);
/* Free what the environment holds outside its arena (compiled regexes). */
void xp_env_release(xp_env *env);

/* The program refers into src (names, literal text): src must outlive it. */
xp_prog *xp_compile(arena *a, sv src);
int xp_eval(const xp_prog *p, xp_env *env, xbuf *out, xbuf *err);
int xp_expand(xp_env *env, sv src, xbuf *out, xbuf *err);
/* xp_expand of a program compiled beforehand from src (kept for a text expanded again and
 * again, such as a configuration option; src is what -d shows). */
int xp_expand_compiled(xp_env *env, const xp_prog *p, sv src, xbuf *out, xbuf *err);

/* Expand and interpret as Exim's expand_check_condition would: "" "0" "no" "false" are false. */
int xp_expand_bool(xp_env *env, sv src, bool *result, xbuf *err);

/* Variable registry: tables of variables known without a provider (e.g. $tod_log). A later layer
 * may append a table; names are looked up in registration order. */
typedef struct xp_var_def {
	const char *name;
	/* Appends the value; NULL: the variable is known and empty in this context. */
	void (*get)(xp_env *env, const struct xp_var_def *def, xbuf *out);
	const char *fixed; /* used when get is NULL and fixed is not NULL */
} xp_var_def;
void xp_var_register(const xp_var_def *defs, size_t n);

/* Process-wide facts the -be variables show; set by the program at start-up. */
void xp_set_process_info(const char *exim_path, const char *config_file);

/* Added (rcvleft): where $queue_size comes from (the daemon's notifier socket, installed by
 * the program at start-up); NULL: empty, as Exim without a daemon. */
extern void (*xp_queue_size_source)(xbuf *out);

#endif
