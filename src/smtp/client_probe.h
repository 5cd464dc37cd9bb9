/* Address probing over an open SMTP client connection (callout verification, Exim 4.96
 * "Callout verification"): MAIL FROM and RCPT TO without a message, then RSET before the next
 * probe on the same connection. The engine's connection (smtpc_connect) is reused as is. */
#ifndef POSTERN_SMTP_CLIENT_PROBE_H
#define POSTERN_SMTP_CLIENT_PROBE_H

#include "smtp/client.h"

typedef enum smtpc_probe_rc {
	SMTPC_PROBE_ACCEPTED,   /* 2xx to RCPT */
	SMTPC_PROBE_REJECTED,   /* 5xx to RCPT (or to MAIL: see at_mail) */
	SMTPC_PROBE_TEMPFAIL,   /* 4xx to MAIL or RCPT */
	SMTPC_PROBE_HOSTFAIL,   /* timeout, closed connection, malformed reply: c->message says why */
} smtpc_probe_rc;

typedef struct smtpc_probe_result {
	smtpc_probe_rc rc;
	bool at_mail;           /* the MAIL command got the deciding reply */
	int code;               /* the deciding reply's code (0: none) */
	xbuf sent;              /* the deciding command, e.g. "RCPT TO:<x@y>" */
	xbuf response;          /* the deciding reply, lines joined with '\n', tainted */
	xbuf message;           /* Exim's text: "SMTP error from remote mail server after ...: ..." */
} smtpc_probe_result;

/* One probe: RSET first when the connection already carried one (rset), then MAIL FROM:<from>
 * and RCPT TO:<to>. The result's buffers are (re)initialised in c->a. */
void smtpc_probe(smtpc_conn *c, bool rset, sv from, sv to, smtpc_probe_result *r);

#endif
