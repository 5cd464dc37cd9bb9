/* RFC 1413 identification ("ident") of an SMTP client, as Exim 4.96 does it for hosts in
 * rfc1413_hosts when rfc1413_query_timeout is not zero.
 *
 * Behaviour observed from Exim 4.96 against a test identd (docs/smtp.md "Ident"):
 *   - the query goes from the connection's local address to port 113 of the client and is
 *     "<client port> , <our port>\r\n";
 *   - connecting and the reply are each bounded by the timeout; a connect that times out is
 *     logged "ident connection to <ip> timed out" (log_selector ident_timeout);
 *   - the reply is read until its first newline, also over several segments, each wait bounded
 *     by the timeout (Postern also bounds the whole reply by three times the timeout); a CR
 *     before the newline is dropped; a NUL before it, or the end of the connection, gives no
 *     ident;
 *   - the line is "<port> , <port> : USERID : <opsys> : <user>" with any spaces or tabs around
 *     the separators, the ports equal to the query's (leading zeros and '+' allowed), USERID in
 *     capitals, opsys anything without a colon (also empty); the user id starts after the
 *     blanks following the third colon and runs to the end of the line (colons and trailing
 *     blanks included). Empty: no ident. ERROR replies give no ident;
 *   - the id is cut to 127 bytes and stored in its printable form (control bytes as \ooo, tab
 *     kept, top-bit bytes as print_topbitchars says): $sender_ident, "U=" in log lines,
 *     "Hello <ident> at <helo>" in the EHLO reply, "ident=" in the Received: header.
 * Postern keeps the id tainted (it came from the network); Exim's -H shows "-ident", Postern's
 * "--ident" (Exim's reader accepts both).
 */
#ifndef POSTERN_SMTP_RFC1413_H
#define POSTERN_SMTP_RFC1413_H

#include <stdbool.h>

#include "lib/arena.h"
#include "lib/str.h"

#define RFC1413_PORT 113
#define RFC1413_USER_MAX 127        /* bytes of the user id kept */
#define RFC1413_REPLY_MAX 16000     /* bytes of the reply read (Exim: its 16 KB buffer) */

/* Parse the reply data. True when it names a user for the connection
 * (client_port, server_port); *user is the raw id (a view into reply, before the cut and
 * escaping; never empty). Pure; any bytes are safe. */
bool rfc1413_parse(sv reply, int client_port, int server_port, sv *user);

/* The stored form of a raw user id: cut to RFC1413_USER_MAX bytes, printable, tainted. */
sv rfc1413_printable(arena *a, sv raw, bool topbit);

typedef enum rfc1413_rc {
	RFC1413_OK,          /* *ident set */
	RFC1413_NONE,        /* refused, closed, error reply, malformed: no ident */
	RFC1413_CONNECT_TIMEOUT,
	RFC1413_READ_TIMEOUT,
} rfc1413_rc;

/* Ask the identd on client_ip:113 about the connection client_ip:client_port ->
 * local_ip:local_port, connecting from local_ip. timeout_s bounds the connect and each wait
 * for reply data. */
rfc1413_rc rfc1413_query(sv local_ip, int local_port, sv client_ip, int client_port, int timeout_s,
	bool topbit, arena *a, sv *ident);

/* The daemon session's lookup (rfc1413_session.c): for a client in rfc1413_hosts when
 * rfc1413_query_timeout is set, sets the origin's ident and the session's host identification. */
struct smtp_session;
void rfc1413_session_lookup(struct smtp_session *s);

#endif
