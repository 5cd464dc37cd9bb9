/* Shared between the SMTP client's files (client.c: connection; client_send.c: transactions). */
#ifndef POSTERN_SMTP_CLIENT_INT_H
#define POSTERN_SMTP_CLIENT_INT_H

#include "smtp/client.h"

/* Send a command line (no CRLF) and, unless pipelining, flush. false when the write failed
 * (the host error is recorded). */
bool smtpc_write_cmd(smtpc_conn *c, sv line, bool flush);
bool smtpc_flush(smtpc_conn *c, sv after);
/* Read a reply with the command timeout (final: final_timeout). false on a host-level failure,
 * which is recorded in c (status DEFER, errno, Exim's message naming `after`). */
bool smtpc_get_reply(smtpc_conn *c, sv after, bool final);
/* "SMTP error from remote mail server after <after>: <reply>" into out. */
void smtpc_error_text(smtpc_conn *c, sv after, xbuf *out);
/* Record a host-level failure and drop the connection. */
void smtpc_host_fail(smtpc_conn *c, smtpc_status st, int err, int code, sv text);

/* PIPECONNECT: read the banner and the EHLO reply that are owed after the early EHLO. after
 * names the last command sent with it ("pipelined DATA"), as Exim's error texts do. false
 * on a host-level failure (recorded in c). */
bool smtpc_early_finish(smtpc_conn *c, sv after);

#endif
