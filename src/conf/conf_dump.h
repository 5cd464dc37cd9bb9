/* The loaded configuration's other parts (beyond the main options), and -bP printing helpers.
 *
 * Read-only views for later layers (ACL engine, retry, rewrite, routing) and for -bP. All data
 * lives in pool_config and stays valid until the next conf_load.
 */
#ifndef POSTERN_CONF_CONF_DUMP_H
#define POSTERN_CONF_CONF_DUMP_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/driver.h"
#include "conf/option.h"
#include "lib/str.h"

/* domainlist / hostlist / addresslist / localpartlist NAME = value */
typedef struct conf_named_list_def {
	struct conf_named_list_def *next;
	const char *kind;      /* "domain", "host", "address", "localpart" */
	const char *name;
	const char *value;
	bool hidden;
} conf_named_list_def;

/* One line of an ACL block, kept raw with its origin (verbs and conditions are parsed later). */
typedef struct conf_acl_line {
	const char *text;
	const char *file;
	int line;
} conf_acl_line;

typedef struct conf_acl {
	struct conf_acl *next;
	const char *name;
	const char *file;
	int line;
	conf_acl_line *lines;
	size_t nlines;
} conf_acl;

/* A retry rule: "pattern error-spec rule; rule; ..." */
typedef struct conf_retry_item {
	char letter;          /* F (fixed), G (geometric), H (randomized geometric) */
	int cutoff;           /* seconds since first failure when this item stops applying */
	int interval;         /* seconds */
	int multiplier;       /* G/H: fixed-point times 1000 */
} conf_retry_item;

typedef struct conf_retry_rule {
	struct conf_retry_rule *next;
	const char *pattern;
	const char *error;      /* the error specification as written ("*", "quota_7d", "auth_failed") */
	const char *senders;    /* from "senders=..." in the rule, or NULL */
	conf_retry_item *items;
	size_t nitems;
} conf_retry_rule;

/* A rewrite rule: "pattern replacement flags" */
typedef struct conf_rewrite_rule {
	struct conf_rewrite_rule *next;
	const char *pattern;
	const char *replacement;
	unsigned flags;        /* CONF_REWRITE_* bits */
} conf_rewrite_rule;

enum {
	CONF_REWRITE_SENDER = 1u << 0,     /* F: envelope From */
	CONF_REWRITE_RECIPIENT = 1u << 1,  /* T: envelope To */
	CONF_REWRITE_BCC = 1u << 2,        /* b */
	CONF_REWRITE_CC = 1u << 3,         /* c */
	CONF_REWRITE_FROM = 1u << 4,       /* f */
	CONF_REWRITE_REPLYTO = 1u << 5,    /* r */
	CONF_REWRITE_SENDERHDR = 1u << 6,  /* s */
	CONF_REWRITE_TO = 1u << 7,         /* t */
	CONF_REWRITE_ENVELOPE = CONF_REWRITE_SENDER | CONF_REWRITE_RECIPIENT,  /* E */
	CONF_REWRITE_HEADERS = 0xfcu,      /* h: all header flags */
	CONF_REWRITE_SMTP = 1u << 8,       /* S: at SMTP time */
	CONF_REWRITE_QUALIFY = 1u << 9,    /* q: quit after qualification */
	CONF_REWRITE_REPEAT = 1u << 10,    /* R: repeat */
	CONF_REWRITE_WILDLP = 1u << 11,    /* w: whole word */
	CONF_REWRITE_QUIT = 1u << 12,      /* Q */
};

typedef struct conf_macro {
	struct conf_macro *next;
	const char *name;
	size_t namelen;
	const char *value;
	bool builtin;       /* _HAVE_*, _OPT_*, ... : subject to the first-token rule */
	bool from_cmdline;  /* -D: definitions in the file are then ignored */
} conf_macro;

const conf_named_list_def *conf_named_lists(void);
const conf_acl *conf_acls(void);
const conf_acl *conf_acl_find(const char *name);
const conf_retry_rule *conf_retry_rules(void);
const conf_rewrite_rule *conf_rewrite_rules(void);
const conf_macro *conf_macros(void);
const conf_macro *conf_macro_find(const char *name);
/* Driver instances in definition order for a section ("routers", "transports", "authenticators").
 * Without a linked registry for the class, instances have only name/file/line (generic == NULL). */
const driver_instance *conf_driver_instances(const char *section);
/* Whether a driver instance's block set this option explicitly (a driver_option_was_set). */
bool conf_was_set(const driver_instance *inst, const char *option, void *ctx);
/* The environment Exim would run with (env filtered by keep_environment, plus add_environment),
 * one "NAME=value" line each, sorted by name, as "-bP environment" prints it. */
void conf_format_environment(char *const *env, xbuf *out);
/* The same environment as a NULL-terminated array of "NAME=value" (malloc'd), for a child
 * that must see what Exim's children see (Exim purges its own environment at start). */
char **conf_exim_environ(char *const *env);
/* The configuration as "-bP config" prints it. */
const char *conf_config_text(void);

/* -bP printing of one option of a table whose storage is block: "name = value", or the bare
 * (no_)name of a boolean; with no_names only the value. hidden values print per Exim's rules
 * for non-admin callers when mask_hidden is true. */
void conf_print_option(const opt_row *row, const void *block, bool no_names, bool mask_hidden, xbuf *out);
/* The value alone, as after "name = ". */
void conf_format_value(const opt_row *row, const void *block, xbuf *out);
/* Printing helpers shared with the tests. */
void conf_format_time(int seconds, xbuf *out);
void conf_format_fixed(int value, xbuf *out);
/* A string as -bP shows it (non-printing characters escaped). */
void conf_format_printing(const char *s, xbuf *out);

/* What kind of error made the last conf_load fail: Exim reports them under different "LOG:"
 * headings in -bP ("PANIC DIE" for configuration errors, "PANIC" for macro definitions,
 * "MAIN PANIC DIE" for startup checks such as a missing file or malformed ratelimit data; these
 * last ones are a single line, not "Exim configuration error..."). */
typedef enum conf_error_kind {
	CONF_ERROR_CONFIG,
	CONF_ERROR_MACRO,
	CONF_ERROR_STARTUP,
} conf_error_kind;
conf_error_kind conf_last_error_kind(void);

/* Table of the main options and the struct holding them. */
const opt_row *conf_main_rows(size_t *n);
const void *conf_main_block(void);
/* Use these driver classes instead of the linked registry (registry.c in each src/drivers class); for tests
 * and for programs built without drivers. Any may be NULL (that section then has no drivers). */
void conf_use_driver_classes(const driver_class *routers, const driver_class *transports,
	const driver_class *auths);
/* The driver class for a section name ("routers", ...), or NULL. Uses the linked registry. */
const driver_class *conf_class_for_section(const char *section);

#endif
