/* Shared between receive.c (reading and committing), receive_headers.c (fix-ups) and
 * receive_log.c (log lines). Not for use outside src/core/receive*.c. */
#ifndef POSTERN_CORE_RECEIVE_INTERNAL_H
#define POSTERN_CORE_RECEIVE_INTERNAL_H

#include "core/receive.h"
#include "core/receive_data.h"

struct receive_ctx {
	message *m;
	arena *a;                    /* the message's arena */
	spool_config sc;
	receive_input how;
	spool_txn *txn;
	rx_reader rd;
	receive_opts opts;
	bool submission, suppress_local_fixups;
	sv submission_domain, submission_name;
	bool submission_domain_set, submission_sender_retain;
	bool submission_sender_set;  /* submission mode replaced the envelope sender */
	bool ended, prepared, committed, aborted;
	msg_header *received;        /* the Received header we added */
	sv received_prefix;          /* its text before the timestamp (ends ";\n\t") */
	bool prdr;                   /* PRDR was used: the <= line says so */
	bool msgid_created;          /* the Message-Id header was ours (log "id*=") */
	long long header_bytes;      /* size of the headers in the -H file sense (no '*') */
	/* -t: To/Cc/Bcc items that did not parse (receive_bad_recipients) */
	xbuf bad_rcpts;              /* "  <item>: <why>\n" each, Exim's report */
	size_t nbad_rcpts;
	sv first_bad_rcpt;           /* "<item> - <why>" */
};

/* receive_log.c */
void receive_log_discarded(receive_ctx *r, const char *why);

/* receive_headers.c */
/* Exim's type letter for a header name, Resent- forms included. */
char rcv_header_type(sv name);
bool rcv_build_headers(receive_ctx *r, xbuf *err);
/* Re-date the Received header with the time of acceptance (at commit). */
void rcv_redate_received(receive_ctx *r, time_t t);
/* Sum of the lengths of the headers that are sent (type not '*'). */
long long rcv_header_size(const message *m);

#endif
