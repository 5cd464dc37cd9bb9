/* Internal state of the configuration reader, shared by the files of src/conf only.
 *
 * Reading is split in layers: conf_source.c turns files into logical lines (includes,
 * continuations, comments, macros, .ifdef), conf_read.c dispatches them to sections, conf_value.c
 * parses option values, conf_rules.c parses retry and rewrite rules and ACL blocks. Everything
 * loaded lives in pool_config, which is made read-only once loading succeeds.
 */
#ifndef POSTERN_CONF_CONF_INTERNAL_H
#define POSTERN_CONF_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "conf/driver.h"
#include "conf/option.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "lib/str.h"

enum {
	CONF_MAX_INCLUDE_DEPTH = 32,  /* .include nesting; deeper gives Exim's "failed to open" */
	CONF_MAX_IF_DEPTH = 10,       /* .ifdef nesting, Exim's limit */
	CONF_MAX_LINE = 1 << 22,      /* a logical line longer than this is an error, not a crash */
	CONF_MAX_MACRO_GROWTH = 1 << 22, /* bound on a line's size after macro substitution */
};

/* One file being read; the stack of them implements .include. */
typedef struct conf_file {
	FILE *fp;
	const char *name;      /* as Exim names it in messages */
	int lineno;            /* physical line number of the last line read */
	const char *dir;       /* directory for relative .include names in this file */
} conf_file;

/* .ifdef nesting: each level remembers whether a branch was taken and whether lines are skipped. */
typedef struct conf_cond {
	bool taken;
	bool skipping;
} conf_cond;

/* The reader: the file stack, conditional stack and the first error. */
typedef struct conf_reader {
	conf_file files[CONF_MAX_INCLUDE_DEPTH + 1];
	int depth;                  /* index of the current file; -1 when all are done */
	conf_cond conds[CONF_MAX_IF_DEPTH];
	int nconds;
	bool macros_allowed;        /* false inside retry, rewrite and local_scan sections */
	bool failed;
	xbuf err;                   /* the problem text (second line of Exim's message) */
	bool err_has_line;          /* message says "in line N of FILE" */
	bool err_whole;             /* err is the complete message, from the drivers layer */
	bool err_not_die;           /* Exim logs this one as "PANIC", not "PANIC DIE" (macro errors) */
	bool err_startup;           /* a startup check ("MAIN PANIC DIE"), not a configuration error */
	int err_line;
	const char *err_file;
	xbuf physical;              /* scratch buffers reused across lines */
	xbuf substituted;
	bool at_eof;
} conf_reader;

void conf_reader_init(conf_reader *r, FILE *fp, const char *name);
void conf_reader_close(conf_reader *r);
/* Next logical line, trimmed, into out. false at end of input or on error (r->failed). */
bool conf_next_line(conf_reader *r, xbuf *out);
/* The file and line of the logical line just returned (for messages and stored ACL text). */
const char *conf_cur_file(const conf_reader *r);
int conf_cur_line(const conf_reader *r);
/* Record an error at the current line (printf-style); later errors are ignored. */
void conf_fail(conf_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record a complete message ("Exim configuration error...") produced elsewhere. */
void conf_fail_whole(conf_reader *r, const char *message);
/* Record an error that Exim reports without a line number. */
void conf_fail_noline(conf_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Macros (conf_macros.c). */
void conf_macros_reset(void);
void conf_macros_add_builtins(void);
/* Append one builtin macro (value NULL means "y"); name and value must outlive the config. */
void conf_builtin_macro(const char *name, const char *value);
/* Define (or with redefine, change) a macro; from_cmdline marks -D ones. Errors go to r. */
bool conf_macro_define(conf_reader *r, sv name, sv value, bool redefine, bool from_cmdline);
/* Substitute macros in one physical line; returns true if anything was substituted. */
bool conf_macros_apply(sv line, xbuf *out);
bool conf_macro_is_defined(const char *name);

/* Value parsing (conf_value.c). Each writes Exim's message into r on error. */
bool conf_parse_bool_word(sv v, bool *out);
bool conf_parse_int(conf_reader *r, sv v, const char *optname, long long *out);
bool conf_parse_time(sv v, int *out);
bool conf_parse_fixed(conf_reader *r, sv v, const char *optname, int *out);
/* The value part of "name = value": quoted strings are unescaped, else taken verbatim. */
bool conf_parse_string(conf_reader *r, sv v, const char *optname, xbuf *out);
/* Set one option of a table from the text after the name on a line ("= value", "", ...).
 * negated: the name had a no_/not_ prefix. */
bool conf_set_option(conf_reader *r, const opt_row *row, void *block, sv rest, bool negated);
/* Resolve users/groups (names or numbers). */
bool conf_lookup_uid(sv name, uid_t *out);
bool conf_lookup_gid(sv name, gid_t *out);

/* Section bodies (conf_rules.c). */
bool conf_retry_parse(conf_reader *r, sv line, conf_retry_rule **out);
bool conf_rewrite_parse(conf_reader *r, sv line, conf_rewrite_rule **out);

/* Options set explicitly in a driver instance (for the drivers layer's init and checks). */
typedef struct conf_set_record {
	const driver_instance *inst;
	const char *option;
} conf_set_record;
void conf_record_set(const driver_instance *inst, const char *option);

/* Hidden ("hide") options: remembered per table row so -bP can mask them. */
void conf_hidden_mark(const opt_row *row);
bool conf_hidden_is(const opt_row *row);

/* The loaded configuration. */
typedef struct conf_state {
	const char *file_name;
	int last_line;          /* line number the reader ended at (Exim's later messages quote it) */
	conf_named_list_def *named_lists, **named_tail;
	conf_acl *acls, **acls_tail;
	conf_retry_rule *retries, **retries_tail;
	conf_rewrite_rule *rewrites, **rewrites_tail;
	driver_instance *routers, *transports, *auths;
	xbuf config_text;     /* what "-bP config" prints */
	const opt_row **hidden;
	size_t nhidden, hidden_cap;
	struct conf_set_record *set_options; /* which driver options each instance set explicitly */
	size_t nset, set_cap;
	conf_macro *macros;   /* in definition order (builtins first) */
	conf_macro **macros_tail;
	conf_macro *user_macros; /* first non-builtin macro, for -bP macros */
} conf_state;

extern conf_state conf_st;

/* Defaults that depend on the running host (primary_hostname and friends), applied after reading. */
void conf_apply_computed_defaults(void);

#endif
