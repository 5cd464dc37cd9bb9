/* The parsed form of an Exim filter, shared by filter_parse.c and filter_run.c. */
#ifndef POSTERN_CORE_FILTER_INTERNAL_H
#define POSTERN_CORE_FILTER_INTERNAL_H

#include "core/filter.h"

typedef enum fcond_kind {
	FC_AND, FC_OR, FC_NOT,
	FC_BEGINS, FC_ENDS, FC_IS, FC_CONTAINS, FC_MATCHES,  /* string tests */
	FC_ABOVE, FC_BELOW,                                  /* numeric tests */
	FC_DELIVERED, FC_ERROR_MESSAGE, FC_FIRST_DELIVERY, FC_MANUALLY_THAWED,
	FC_PERSONAL, FC_FORANYADDRESS,
} fcond_kind;

typedef struct fcond {
	fcond_kind kind;
	bool caseful;            /* upper-case test word (IS, CONTAINS...) */
	struct fcond *left, *right; /* and/or; not and foranyaddress use left */
	sv a, b;                 /* operands (unexpanded); foranyaddress: a = the list */
	sv *aliases;             /* personal alias addresses */
	int naliases;
} fcond;

typedef enum fcmd_kind {
	FK_ADD, FK_DELIVER, FK_SAVE, FK_PIPE, FK_MAIL, FK_VACATION,
	FK_LOGFILE, FK_LOGWRITE, FK_TESTPRINT, FK_FINISH,
	FK_FAIL, FK_FREEZE, FK_DEFER,
	FK_HEADERS_ADD, FK_HEADERS_REMOVE, FK_HEADERS_CHARSET,
	FK_IF,
} fcmd_kind;

/* Indices into fcmd.mail[] for mail/vacation options. */
enum {
	FM_TO, FM_CC, FM_BCC, FM_FROM, FM_REPLY_TO, FM_SUBJECT, FM_EXTRA_HEADERS, FM_TEXT, FM_FILE,
	FM_LOG, FM_ONCE, FM_ONCE_REPEAT, FM_COUNT
};

typedef struct fcmd {
	struct fcmd *next;
	fcmd_kind kind;
	int line;
	int seen;                /* 1 seen, -1 unseen, 0 neither */
	bool noerror;
	bool is_elif;             /* an if created by elif (the else part of the previous one) */
	sv arg, arg2;            /* main argument; deliver errors_to / add variable */
	bool has_arg2;
	int mode;                /* save, logfile: -1 none */
	sv mail[FM_COUNT];       /* SV_NULL: not given */
	bool expand_file, return_message;
	fcond *cond;             /* if */
	struct fcmd *then_cmds, *else_cmds; /* an elif is an if alone in else_cmds */
} fcmd;

struct filter {
	fcmd *cmds;
	bool system;
};


/* ---- the reader (filter_read.c) ---- */

typedef struct item {
	sv s;
	sv raw;          /* the source text (with quotes), as error messages show it */
	bool quoted;
	bool eof;
	int skipped;     /* newlines passed over after the item */
} item;

/* How an item ends (Exim reads different places differently, as observed):
 * IT_CMD  at white space (command words and arguments);
 * IT_COND also at round brackets, and a bracket at the start is an item of its own (operands);
 * IT_CONN a ")" at the start is an item of its own, otherwise as IT_CMD (and, or, then);
 * IT_WORD as IT_COND, but a bracket at the start gives an empty word (the test word);
 * IT_RAW  at white space, with no quote processing (command words). */
enum { IT_CMD = 0, IT_COND = 1, IT_CONN = 2, IT_WORD = 3, IT_RAW = 4 };

typedef struct parser {
	arena *a;
	const char *p, *end;
	int line;
	bool system;
	bool allow_fail, allow_freeze, allow_defer; /* a redirect router's allow_* (user filters) */
	bool failed;
	xbuf *err;
} parser;

/* Record the first error (Exim's wording); later calls do nothing. */
void fr_fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Skip white space and comments, counting lines. */
void fr_skip_space(parser *ps);
/* The next item (at the end: eof set, s empty), and a look at it without reading it. */
item fr_next(parser *ps, int mode);
item fr_peek(parser *ps, int mode);
void fr_not_taken(parser *ps, item peeked);
bool fr_is_word(item it, const char *w);
bool fr_is_word_ci(item it, const char *w);
/* An argument that must be present and non-empty ("X" requires an argument). */
bool fr_need_arg(parser *ps, const char *what, int mode, sv *out);

#endif
