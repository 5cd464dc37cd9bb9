/* Internals shared by the expansion engine's files: the compiled tree and evaluation helpers.
 *
 * A program is a sequence of nodes. Literal text is stored already unescaped. Items keep their
 * brace arguments as sub-sequences; conditions are their own small tree. A syntax error becomes
 * an N_ERROR node placed where the parser stopped, so evaluation reports it in Exim's order.
 */
#ifndef POSTERN_EXPAND_XP_INTERNAL_H
#define POSTERN_EXPAND_XP_INTERNAL_H

#include "expand/expand.h"

typedef struct xp_node xp_node;
typedef struct xp_cond xp_cond;

typedef struct xp_seq {
	xp_node *first;
} xp_seq;

enum xp_node_kind {
	N_LIT,      /* text */
	N_VAR,      /* $name or ${name} (braced says which, for the error wording) */
	N_NUMVAR,   /* $0..$9 (num) */
	N_HEADER,   /* $h_name: etc.; hkind, text = header name without colon */
	N_OP,       /* ${name:arg} */
	N_ITEM,     /* ${name{...}...} */
	N_ERROR,    /* syntax error found while compiling; text = message */
};

enum xp_header_kind { H_PLAIN, H_BODY, H_RAW, H_LIST, H_BODY_RAWTRIM /* trimmed, not decoded */ };

/* Items; the order of item_names[] in compile.c. */
enum xp_item {
	I_ACL, I_AUTHRESULTS, I_CERTEXTRACT, I_DLFUNC, I_ENV, I_EXTRACT, I_FILTER, I_HASH, I_HMAC,
	I_IF, I_IMAPFOLDER, I_LENGTH, I_LISTEXTRACT, I_LISTQUOTE, I_LOOKUP, I_MAP, I_NHASH, I_PERL,
	I_PRVS, I_PRVSCHECK, I_READFILE, I_READSOCKET, I_REDUCE, I_RUN, I_SG, I_SORT, I_SRS_ENCODE,
	I_SUBSTR, I_TR, I_COUNT
};

/* Where an item's optional {yes}{no} part stands. */
typedef struct xp_yesno_part {
	bool present;   /* any part written */
	xp_seq *yes;    /* NULL: not written ($value / "true" default) */
	xp_seq *no;     /* NULL: not written */
	bool no_fail;   /* "fail" written instead of {no} */
} xp_yesno_part;

struct xp_node {
	xp_node *next;
	uint8_t kind;
	uint8_t hkind;   /* N_HEADER */
	bool braced;     /* N_VAR */
	int16_t id;      /* N_ITEM: enum xp_item; N_NUMVAR: number */
	sv text;         /* literal, variable/operator/header name, lookup type, error message */
	xp_seq **args;   /* N_OP: args[0] is the subject */
	int nargs;
	xp_cond *cond;   /* ${if} */
	xp_yesno_part yn;
	sv opt;          /* item word option: extract json/jsons, lookup type, run/readsocket options */
	const void *spec; /* ${lookup}: the parsed search_spec */
	sv raw;          /* ${run}: the command argument's source text (split, then expanded);
	                  * ${certextract}: the certificate variable's name */
	const char *yn_error; /* syntax error in the {yes}{no} part: reported after the item's work */
	uint8_t *argflags;    /* N_ERROR: PEND_* flags of args (xp_parse.h) */
	const char **argctx;  /* N_ERROR: " inside ..." text for errors from each arg, or NULL */
	const size_t *rest_after; /* ${extract}: source offset after each argument (for messages) */
	const char *src;      /* ${extract}: the whole source, for "remaining string" messages */
};

enum xp_cond_kind {
	C_ERROR,        /* syntax error (text) */
	C_NUM,          /* == < > <= >= = : op in text */
	C_STR2,         /* eq eqi lt lti le lei gt gti ge gei: name in text */
	C_MATCH,        /* match */
	C_MATCH_LIST,   /* match_address/domain/ip/local_part */
	C_INLIST,       /* inlist, inlisti */
	C_CRYPTEQ,
	C_DEF,          /* def:name (text), or def:h_name: (hkind set) */
	C_EXISTS,
	C_ISIP,         /* isip isip4 isip6 */
	C_BOOL,         /* bool, bool_lax */
	C_AND, C_OR,    /* subs */
	C_FORALL, C_FORANY, /* forall forany forall_json forany_json forall_jsons forany_jsons */
	C_ACL,
	C_FIRST_DELIVERY, C_QUEUE_RUNNING,
	C_PWCHECK,
	C_INBOUND_SRS,
	C_UNSUPPORTED,  /* ldapauth pam radius saslauthd: error at evaluation */
};

struct xp_cond {
	uint8_t kind;
	bool negate;
	int8_t hkind;    /* C_DEF of a header: enum xp_header_kind; -1 otherwise */
	sv name;         /* condition name as written */
	sv text;         /* def: variable name; error message */
	xp_seq **args;
	int nargs;
	xp_cond **subs;
	int nsubs;
};

struct xp_prog {
	xp_seq *seq;
};

/* compile.c */
xp_seq *xp_parse_seq(arena *a, sv src, size_t *pos, bool ket_ends, int depth);
xp_node *xp_new_error(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *xp_item_name(int id);

/* cond_parse.c */
xp_cond *xp_parse_cond(arena *a, sv src, size_t *pos, int depth, const char *outer);

/* eval.c: the walker. skip: parse-only mode (no side effects, variables give "") */
int xp_eval_seq(const xp_seq *s, xp_env *env, bool skip, xbuf *out, xbuf *err);
/* Evaluate into a fresh buffer in env->a; result view via *res (taint kept). */
int xp_eval_arg(const xp_seq *s, xp_env *env, bool skip, sv *res, xbuf *err);
void xp_err(xbuf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t xp_max_output(const xp_env *env);
void xp_trace(const xp_env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* items.c / items_*.c */
int xp_eval_item(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);
/* Common yes/no handling: chose = which branch; value to show for "yes" default. */
int xp_yesno(const xp_node *n, xp_env *env, bool skip, bool chose_yes, sv value, xbuf *out,
	xbuf *err);
int xp_item_list(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);
int xp_item_io(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);
int xp_item_misc(const xp_node *n, xp_env *env, bool skip, xbuf *out, xbuf *err);

/* cond.c */
int xp_eval_cond(const xp_cond *c, xp_env *env, bool skip, bool *result, xbuf *err);

/* vars.c */
/* 1: found (value appended), 0: unknown (err holds Exim's message), -1: error */
int xp_var_get(xp_env *env, sv name, xbuf *out, xbuf *err);
void xp_header_get(xp_env *env, int hkind, sv name, xbuf *out, bool *exists);
void xp_unknown_var_message(sv name, xbuf *err);
/* Appends Exim's hint about user ACL variable names to an "unknown variable" message. */
void xp_acl_name_hint(sv name, xbuf *err);

/* regex.c: compiled-regex cache in env; numbered captures into env->numeric */
typedef struct xp_regex xp_regex;
xp_regex *xp_regex_compile(xp_env *env, sv pattern, bool caseless, xbuf *err);
/* Match; on success stores captures in env->numeric (if set_numeric). */
int xp_regex_match(xp_env *env, xp_regex *re, sv subject, bool set_numeric, size_t start,
	size_t *ovec0, size_t *ovec1);
/* The same, for a non-empty match anchored at start (after an empty match, as in ${sg}). */
int xp_regex_match_nonempty_at(xp_env *env, xp_regex *re, sv subject, size_t start,
	size_t *ovec0, size_t *ovec1);

/* An optionally negative decimal number, as ${extract} and ${listextract} take. */
bool xp_is_extract_number(sv v);

/* numbers: Exim's integer syntax for conditions (K/M/G) */
bool xp_number(sv text, long long *out, const char *what, xbuf *err);

/* Saved evaluation state for items that set $value/$item/$0... */
typedef struct xp_saved {
	sv value, item;
	sv numeric[XP_MAX_NUMERIC];
	int nnumeric;
} xp_saved;
void xp_save(const xp_env *env, xp_saved *s);
void xp_restore(xp_env *env, const xp_saved *s);

/* match_adapter.c: the one place the engine calls list matching (src/search/match.h). */
enum xp_list_kind { XL_DOMAIN, XL_LOCALPART, XL_ADDRESS, XL_HOST, XL_STRING };
int xp_match_list(xp_env *env, sv subject, sv list, enum xp_list_kind kind, bool caseless,
	sv *value, xbuf *err);

#endif
