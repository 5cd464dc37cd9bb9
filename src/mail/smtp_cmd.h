/* The SMTP server's command parser, as Exim 4.96 reads commands: the verb, its argument, the
 * ESMTP parameters of MAIL and RCPT (taken off the end of the argument one at a time), and the
 * RFC 5321/5322 address with Exim's error texts ("'>' missing at end of address", "malformed
 * address: X may not follow Y" ...). Pure: no configuration, no I/O; the session decides what is
 * advertised and passes that in.
 *
 * Everything here works on bounded views or on the caller's mutable copy of one command line; no
 * recursion, no allocation except into the caller's xbuf.
 */
#ifndef POSTERN_MAIL_SMTP_CMD_H
#define POSTERN_MAIL_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

typedef enum smtp_verb {
	SMTP_UNKNOWN,
	SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_BDAT, SMTP_RSET, SMTP_NOOP,
	SMTP_QUIT, SMTP_VRFY, SMTP_EXPN, SMTP_ETRN, SMTP_HELP, SMTP_AUTH, SMTP_STARTTLS,
	SMTP_VERB_COUNT
} smtp_verb;

/* The command's name in upper case as Exim logs it in "C=EHLO,MAIL,..." ("" for unknown). */
const char *smtp_verb_name(smtp_verb v);

/* Split a command line (without CRLF). Verbs match case-insensitively; "MAIL FROM:" and
 * "RCPT TO:" include the colon, others must be followed by white space or the end. *arg is the
 * rest with leading and trailing white space removed (it keeps the line's taint). */
smtp_verb smtp_cmd_split(sv line, sv *arg);

/* What the session advertised, which decides which parameters are known. */
typedef struct smtp_features {
	bool dsn;          /* DSN: RET ENVID (MAIL), NOTIFY ORCPT (RCPT) */
	bool prdr;         /* PRDR */
	bool smtputf8;     /* SMTPUTF8 */
	bool eightbitmime; /* BODY= */
	bool allow_domain_literals;
	bool no_params;    /* not ESMTP (HELO): no parameters are taken off MAIL/RCPT */
	bool strip_trailing_dot; /* a domain may end in one dot, which is dropped */
	bool utf8_addresses;     /* domains may be UTF-8 (allow_utf8_domains, or SMTPUTF8 seen) */
} smtp_features;

enum { SMTP_MAIL_AUTH_MAX = 8 };

/* MAIL FROM parameters. */
typedef struct smtp_mail_params {
	bool size_given;
	long long size;        /* clamped to INT_MAX as Exim does ("size>=2147483647") */
	bool size_clamped;
	int body;              /* 0 none, 7 = 7BIT, 8 = 8BITMIME */
	bool smtputf8, prdr;
	int ret;               /* 0 none, 1 FULL, 2 HDRS (message.h MSG_DSN_RET_*) */
	bool envid_given;
	sv envid;              /* xtext as sent (the caller decodes) */
	bool auth_given;
	sv auth;               /* AUTH= value, xtext as sent */
	/* Every AUTH= value in the order taken off the end (Exim acts on each as it extracts it,
	 * even when the address then fails); more than SMTP_MAIL_AUTH_MAX are dropped. */
	unsigned n_auths;
	sv auths[SMTP_MAIL_AUTH_MAX];
} smtp_mail_params;

/* RCPT TO parameters. */
typedef struct smtp_rcpt_params {
	unsigned notify;       /* MSG_DSN_* bits of message.h (NEVER SUCCESS FAILURE DELAY) */
	bool notify_given;
	sv orcpt;              /* ORCPT value as sent; empty: none */
} smtp_rcpt_params;

/* The outcome of parsing a MAIL or RCPT argument. On failure code is the SMTP reply code and
 * msg the text after the code (e.g. "Value for RET is invalid", or "<arg>: malformed address:
 * ..." with the argument as Exim shows it after putting unknown parameters back). */
typedef struct smtp_addr_result {
	bool ok;
	int code;
	xbuf *msg;             /* caller's buffer for the error text */
	xbuf *addr;            /* caller's buffer for the address */
	/* On success: */
	sv address;            /* local[@domain] without route, phrase or comments; in *addr */
	bool null_address;     /* "<>" */
	bool has_domain;
	sv cmd_data;           /* the argument after parameter extraction (for log lines) */
	size_t why_off;        /* on failure: where in msg the reason starts (after "<arg>: ") */
} smtp_addr_result;

/* Parse "MAIL FROM:" / "RCPT TO:" argument text. work is a caller-owned mutable copy of the
 * argument (size >= arg.len + 1); results point into it. */
bool smtp_parse_mail(sv arg, char *work, const smtp_features *f, smtp_mail_params *out, smtp_addr_result *r);
bool smtp_parse_rcpt(sv arg, char *work, const smtp_features *f, smtp_rcpt_params *out, smtp_addr_result *r);

/* The address grammar alone: one address in s (after parameters were removed). allow_null lets
 * "<>" through. On error returns false with Exim's reason in *why (static text) or a
 * "malformed address: X may not follow Y" text built in whyb. out receives the address. */
bool smtp_parse_address(sv s, bool allow_null, bool allow_domain_literals, xbuf *out,
	bool *is_null, bool *has_domain, xbuf *why);

/* The same with strip_trailing_dot's rule (one dot ending a domain is taken and dropped) and,
 * for utf8 (SMTPUTF8 given), 8-bit bytes in domains. */
bool smtp_parse_address_opts(sv s, bool allow_null, bool allow_domain_literals, bool strip_trailing_dot,
	bool utf8, xbuf *out, bool *is_null, bool *has_domain, xbuf *why);

/* Exim's complaint about a domain literal in an address that the header-address parser took:
 * "domain literals not allowed" or "malformed domain literal" for a literal in a source route or
 * inside <...> (a bare local@[...] is never looked into), or NULL. Used where Exim's own address
 * parser reads the text (-bt/-bv arguments, redirect items). */
const char *smtp_address_literal_error(sv s, bool allow_domain_literals);

/* HELO/EHLO argument check (Exim's rules): one word of letters, digits, '-', '.', and the
 * characters in allow_chars, or a valid IP address literal in brackets. */
bool smtp_helo_valid(sv arg, sv allow_chars);

/* Parse a BDAT argument: "<size> [LAST]" as Exim reads it (see smtp_cmd.c). False when no
 * number starts it. */
bool smtp_parse_bdat(sv arg, unsigned long long *size, bool *last);

#endif
