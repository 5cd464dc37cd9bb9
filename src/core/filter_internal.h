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


#endif
