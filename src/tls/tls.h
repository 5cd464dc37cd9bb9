/* TLS with OpenSSL 3 (docs/tls.md). This increment: the server side of STARTTLS and
 * tls_on_connect_ports; the client side and OCSP/resumption follow. */
#ifndef POSTERN_TLS_TLS_H
#define POSTERN_TLS_TLS_H

#include <stdbool.h>
#include <time.h>

/* Make the SMTP server offer STARTTLS (when tls_certificate is set) and accept implicit TLS.
 * Call once, before any session starts. Without OpenSSL support it does nothing. */
void tls_register(void);

/* The daemon, before each fork of a connection process: rotate or re-read the session-ticket
 * keys, and build (or rebuild, when one of its files changed) the server SSL_CTX that the
 * children inherit when its options have no per-connection expansion. Cheap when nothing
 * changed (a stat() per file). */
void tls_daemon_before_fork(time_t now);
/* Added (acceptperf): changes whenever tls_daemon_before_fork rebuilt the context or the ticket
 * keys changed, so a daemon knows that processes forked earlier hold outdated TLS state. */
unsigned tls_daemon_generation(void);

/* Between two connections of a reused session process (prog/daemon_reuse.c): free this
 * connection's SSL object and its reference to the context. False when the connection loaded
 * something into the daemon's shared context that would stay there for the next (options or
 * certificates expanded per connection): that process must then not serve another. */
bool tls_server_conn_reset(void);

/* Whether port is listed in tls_on_connect_ports (a colon-separated list of port numbers). */
bool tls_on_connect_port(int port);

#endif
