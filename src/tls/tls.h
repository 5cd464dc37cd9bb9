/* TLS with OpenSSL 3 (docs/tls.md). This increment: the server side of STARTTLS and
 * tls_on_connect_ports; the client side and OCSP/resumption follow. */
#ifndef POSTERN_TLS_TLS_H
#define POSTERN_TLS_TLS_H

#include <stdbool.h>

/* Make the SMTP server offer STARTTLS (when tls_certificate is set) and accept implicit TLS.
 * Call once, before any session starts. Without OpenSSL support it does nothing. */
void tls_register(void);

/* Whether port is listed in tls_on_connect_ports (a colon-separated list of port numbers). */
bool tls_on_connect_port(int port);

#endif
