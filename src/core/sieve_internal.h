/* The parsed form of a Sieve script, shared by sieve_lex.c, sieve_parse.c, sieve_test.c and
 * sieve_run.c. */
#ifndef POSTERN_CORE_SIEVE_INTERNAL_H
#define POSTERN_CORE_SIEVE_INTERNAL_H

#include "core/sieve.h"

/* ---- tokens (sieve_lex.c) ---- */

typedef enum stok_kind {
	STK_EOF, STK_IDENT, STK_TAG, STK_NUMBER, STK_STRING,
	STK_SEMI, STK_COMMA, STK_LPAREN, STK_RPAREN, STK_LBRACKET, STK_RBRACKET, STK_LBRACE, STK_RBRACE,
	STK_BAD,                      /* a lexical error: text holds Exim's reason */
} stok_kind;

typedef struct stok {
	stok_kind kind;
	sv text;                      /* identifier / tag (without ':') / string value / error */
	unsigned long long num;       /* STK_NUMBER, scaled by its K/M/G */
	bool num_overflow;
	int line;                     /* where the token starts (white space skipped) */
} stok;

typedef struct slexer {
	arena *a;
	const char *p, *end;
	int line;
	bool encoded_character;       /* require "encoded-character" seen: decode ${hex:} ${unicode:} */
	stok peeked;
	bool has_peek;
} slexer;

void slex_init(slexer *lx, arena *a, sv text);
stok slex_next(slexer *lx);
stok slex_peek(slexer *lx);

/* ---- the tree ---- */

typedef struct sstrlist { sv *v; int n; } sstrlist;

typedef enum scomparator { SCMP_OCTET, SCMP_CASEMAP, SCMP_NUMERIC } scomparator;
typedef enum smatch { SM_IS, SM_CONTAINS, SM_MATCHES } smatch;
typedef enum saddrpart { SAP_ALL, SAP_LOCALPART, SAP_DOMAIN, SAP_USER, SAP_DETAIL } saddrpart;

typedef enum stest_kind {
	ST_TRUE, ST_FALSE, ST_NOT, ST_ALLOF, ST_ANYOF,
	ST_HEADER, ST_ADDRESS, ST_ENVELOPE, ST_EXISTS, ST_SIZE,
	ST_VALID_NOTIFY_METHOD, ST_NOTIFY_METHOD_CAPABILITY,
} stest_kind;

typedef struct stest {
	stest_kind kind;
	scomparator cmp;
	smatch match;
	saddrpart part;
	sstrlist names;               /* header names / envelope parts / notify methods */
	sstrlist keys;
	sv capability;                /* notify_method_capability */
	bool over;                    /* size :over (else :under) */
	unsigned long long limit;
	struct stest **kids;          /* not (1), allof/anyof (n) */
	int nkids;
} stest;

typedef enum scmd_kind {
	SC_IF, SC_STOP, SC_KEEP, SC_DISCARD, SC_REDIRECT, SC_FILEINTO, SC_VACATION, SC_NOTIFY,
	SC_ERROR,                     /* the place of a syntax error: reached, it is reported */
} scmd_kind;

typedef struct scmd {
	struct scmd *next;
	scmd_kind kind;
	int line;                     /* where the command ended (run-time errors name it) */
	bool copy;                    /* redirect/fileinto :copy */
	sv arg;                       /* redirect address, fileinto folder, vacation reason,
	                               * notify method */
	stest *test;                  /* if / elsif */
	struct scmd *then_cmds, *else_cmds; /* an elsif is an if alone in else_cmds */
	/* vacation */
	long long days;
	sv subject, from, handle;
	sstrlist addresses;
	bool mime;
	/* notify */
	sv importance, message;
	sstrlist options;
} scmd;

struct sieve_program {
	scmd *cmds;
	sv error;                     /* "<reason> in line <n>"; SV_NULL: none */
	bool vacation_enabled, enotify_enabled;
};

/* ---- matching (sieve_test.c) ---- */

/* Compare value against key with a comparator and match type. */
bool sieve_match(scomparator cmp, smatch match, sv value, sv key);
/* Evaluate a test. false: a run-time error (err set). */
bool sieve_eval_test(const stest *t, const sieve_ctx *ctx, arena *a, bool *result, const char **err);
/* The header's value as Exim tests it: every instance joined, newlines removed, trimmed, RFC 2047
 * words decoded to UTF-8. SV_NULL when the header is absent. */
sv sieve_header_value(const xp_message *msg, sv name, arena *a);

#endif
