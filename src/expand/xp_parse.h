/* Parser state shared by compile.c (strings), parse_items.c (items) and cond_parse.c. */
#ifndef POSTERN_EXPAND_XP_PARSE_H
#define POSTERN_EXPAND_XP_PARSE_H

#include "expand/xp_internal.h"

typedef struct xp_parser {
	arena *a;
	sv src;
	size_t pos;
	bool failed;
	const char *errmsg;
	/* Argument strings of items not yet finished; kept on failure (see compile.c), each with
	 * PEND_* flags saying how the error node is to expand it. */
	xp_seq **pending;
	uint8_t *pendflags;
	size_t npending, cappending;
	int cond_depth; /* > 0 while parsing text Exim expands only conditionally (yes/no, per item) */
	bool header_unterminated; /* a $h_ name ran on over a '}' (Exim adds a hint to errors) */
	const char *ctx;          /* " inside ..." text Exim adds to errors from the current part */
	const char **pendctx;     /* ctx of each pending argument */
} xp_parser;

enum {
	PEND_CONDITIONAL = 1, /* expand parse-only */
	PEND_NUMBER = 2,      /* a numeric condition's argument: Exim checks it as soon as it is read */
	PEND_LISTINDEX = 4,   /* listextract's index, likewise */
	PEND_EXTRACTKEY = 8,  /* extract's first argument: may not be empty */
};
/* Mark the most recent pending argument (a numeric condition's) for the integer check. */
void xp_p_pending_number(xp_parser *p);
void xp_p_pending_flag(xp_parser *p, uint8_t flag);
/* Enter a part whose errors Exim reports with `suffix` added (inner contexts first); returns
 * the previous context for xp_p_leave. */
const char *xp_p_enter(xp_parser *p, const char *suffix);
void xp_p_leave(xp_parser *p, const char *saved);

void xp_p_fail(xp_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xp_p_pending(xp_parser *p, xp_seq *s);
void xp_p_skipws(xp_parser *p);
int xp_p_peek(const xp_parser *p);
xp_seq *xp_parse_seq_p(xp_parser *p, bool ket_ends, int depth);
xp_node *xp_parse_item(xp_parser *p, int item, sv name, int depth);
xp_cond *xp_parse_cond_p(xp_parser *p, int depth, const char *outer);
/* One {arg}: p at '{'. Returns NULL on failure. */
xp_seq *xp_parse_braced(xp_parser *p, int depth);
int xp_header_prefix(sv name, size_t *plen);
void xp_p_escape(xp_parser *p, xbuf *lit);
const char *xp_p_raw_arg(xp_parser *p, size_t *len);
bool xp_is_condition_name(sv name);
bool xp_is_sort_comparator(sv v);

#endif
