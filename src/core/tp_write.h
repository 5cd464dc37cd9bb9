/* Writing a message out of the spool the way a transport writes it (Exim 4.96 "Generic options
 * for transports": headers_add, headers_remove, headers_rewrite, return_path_add,
 * envelope_to_add, delivery_date_add, body_only, headers_only, transport_filter with
 * transport_filter_timeout, message_size_limit; and the per-driver line rules: CRLF line ends,
 * dot-stuffing, check_string/escape_string, message_prefix/suffix).
 *
 * Two forms over one implementation: tp_write_fd pushes the whole message into a descriptor
 * (appendfile, pipe, lmtp); tp_reader pulls it piece by piece (the SMTP client engine's read
 * callback). Headers are built in memory first (they are bounded by header_maxsize); the body is
 * streamed from the -D file, never held whole.
 */
#ifndef POSTERN_CORE_TP_WRITE_H
#define POSTERN_CORE_TP_WRITE_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"
#include "core/addr.h"
#include "core/message.h"

enum {
	TPW_CRLF = 1u << 0,            /* line ends CR LF */
	TPW_DOT_STUFF = 1u << 1,       /* a line starting with "." gets another "." (SMTP, LMTP) */
	TPW_NO_HEADERS = 1u << 2,      /* body_only */
	TPW_NO_BODY = 1u << 3,         /* headers_only */
	TPW_RETURN_PATH = 1u << 4,     /* add Return-path: (return_path_add) */
	TPW_ENVELOPE_TO = 1u << 5,     /* add Envelope-to: (envelope_to_add) */
	TPW_DELIVERY_DATE = 1u << 6,   /* add Delivery-date: (delivery_date_add) */
	TPW_NO_FILTER = 1u << 7,       /* ignore transport_filter (autoreply's returned message) */
};

typedef struct tp_write_opts {
	const message *m;
	int data_fd;                   /* the -D file */
	const driver_instance *t;      /* the transport: its generic options apply unless flags say
	                                * otherwise (TPW_* are added to what the options ask for);
	                                * NULL: only flags and the fields below */
	const address_item *addrs;     /* the batch: Envelope-to: lists them; the routers' headers_add
	                                * and headers_remove of the first apply */
	xp_env *env;                   /* for expanding headers_add/remove/rewrite, transport_filter */
	unsigned flags;
	sv return_path;                /* for Return-path: (already expanded); empty: the sender */
	sv prefix, suffix;             /* message_prefix / message_suffix, already expanded */
	sv check_string, escape_string;/* a line starting with check_string starts with escape_string
	                                * instead (appendfile's "From " rule) */
	long long size_limit;          /* > 0: fail with EFBIG text beyond this many bytes written */
	const char *dest_name;         /* the file or command written to: error texts say "... while
	                                * writing to <dest_name>" in Exim's place; NULL: not named */
} tp_write_opts;

/* Exim's error numbers for the writer's failures (shown as "defer (-N)" in log lines). A
 * transport_filter command that cannot be expanded gives ADDR_ERRNO_UNKNOWN (-1), as in Exim. */
enum {
	TPW_ERRNO_FILTER_FAIL = -24,   /* the filter exited non-zero ("transport filter process failed (N)") */
	TPW_ERRNO_HEADERS = -25,       /* headers_add/headers_remove would not expand */
	TPW_ERRNO_WRITE_INCOMPLETE = -26,
	TPW_ERRNO_TAINT = -48,         /* a tainted transport_filter argument: Exim FAILS the address
	                                * ("Tainted arg N for transport filter command: 'x'") */
};
/* Besides these, EFBIG from tp_write_fd/tp_reader_open means message_size_limit: fail too. */

/* The transport's message_size_limit (expanded) against the message's size, as Exim checks it
 * before running a transport: 0 fits (or no limit), 1 too big (fail the addresses: err says
 * "message is too big (transport limit = N)"), -1 the option would not expand (defer). */
int tp_message_size_check(const driver_instance *t, xp_env *env, const message *m, xbuf *err);

/* A command line split into arguments the way the pipe transport and transport_filter do it
 * (white space separates; "..." with backslash escapes; '...' literal), each argument expanded
 * on its own (when env is not NULL); an argument that is exactly $pipe_addresses becomes one
 * argument per address of addrs. what: Exim's name for the context in error texts ("transport
 * filter"). Returns a NULL-terminated vector in a, or NULL with err set. */
char **tp_command_argv(arena *a, sv command, xp_env *env, const address_item *addrs,
	const char *what, xbuf *err);
/* The same; *tainted tells a refused tainted argument (Exim fails the address) from an expansion
 * failure (defer). */
char **tp_command_argv_ex(arena *a, sv command, xp_env *env, const address_item *addrs,
	const char *what, xbuf *err, bool *tainted);

/* Write the whole message to fd (through transport_filter when the transport has one, whose
 * timeout applies). timeout: seconds allowed for each write to fd (<= 0: none). The message
 * prefix and suffix are written as they are (no line rules, not through the filter), as Exim's
 * transports write them. false: err says why in Exim's words, *errnum the errno or Exim's
 * negative number (TPW_ERRNO_*; 0 when none applies). */
bool tp_write_fd(const tp_write_opts *o, int fd, int timeout, xbuf *err, int *errnum);

/* The pull form. */
typedef struct tp_reader tp_reader;
tp_reader *tp_reader_open(arena *a, const tp_write_opts *o, xbuf *err);
/* 0 at the end, -1 on error (errno set); fits smtpc_message.read (ctx = the reader). */
ssize_t tp_reader_read(void *reader, char *buf, size_t n);
/* Start again (smtpc_message.rewind); false if it cannot (a transport_filter's output). */
bool tp_reader_rewind(void *reader);
void tp_reader_close(tp_reader *r);
/* Bytes and lines the reader produces in total (for SIZE=), computed without writing. */
bool tp_reader_measure(const tp_write_opts *o, long long *bytes, long long *lines, xbuf *err);

#endif
