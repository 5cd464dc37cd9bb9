/* The TLS events (facts §13; docs/tls.md "TLS events") and the verification log lines that go
 * with them, for both sides: the server raises them from tls_server.c, the smtp transport's
 * client from its verify callback and handshake-failure path.
 *
 *   tls:cert          once per certificate of the chain while it is verified (OpenSSL: the
 *                     locally found CA certificates too), deepest first; $event_data is the
 *                     depth; $tls_in_peercert (server) or $tls_out_peercert (client) is that
 *                     certificate while the action runs. A non-empty result refuses the chain.
 *   tls:fail:connect  after a failed handshake; $event_data is the error as logged
 *                     ("(SSL_accept): error:...").
 */
#ifndef POSTERN_TLS_TLS_EVENTS_H
#define POSTERN_TLS_TLS_EVENTS_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "core/event.h"
#include "lib/str.h"

/* Raise tls:cert for cert at depth. action: the event_action that applies (main for the
 * server, the transport's for the client; NULL: nothing happens); where: "main" or the
 * transport's name (for the expansion-failure log line); certvar: "tls_in_peercert" or
 * "tls_out_peercert", which shows cert during the action; base/v as event_raise takes them.
 * Returns true when the action refused the certificate, after logging Exim's line
 *   "[<ip>] SSL verify denied by event-action: depth=<d> cert=<DN>: <result>". */
bool tls_event_cert(const char *action, const char *where, const char *certvar, X509 *cert,
	int depth, sv peer_ip, const event_vars *v, xp_env *base);

/* Raise tls:fail:connect with the error text. */
void tls_event_fail_connect(const char *action, const char *where, sv error, const event_vars *v,
	xp_env *base);

/* Exim's line for a certificate that did not verify:
 *   "[<ip>] SSL verify error: depth=<d> error=<OpenSSL's reason> cert=<DN>" */
void tls_log_verify_error(sv peer_ip, int depth, int x509_error, X509 *cert);

#endif
