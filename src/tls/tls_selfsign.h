/* The self-signed server certificate Exim presents when tls_certificate gives none
 * (tls_selfsign.c). */
#ifndef POSTERN_TLS_TLS_SELFSIGN_H
#define POSTERN_TLS_TLS_SELFSIGN_H

#include <stdbool.h>
#include <time.h>

#include <openssl/ssl.h>

#include "lib/str.h"

/* Make this process's certificate and key unless it has them; warn: log Exim's warning when
 * they are made (the daemon, for an unset tls_certificate). false with err set on failure. */
bool tls_selfsigned_make(bool warn, xbuf *err);
/* Whether a daemon logs Exim's warning: no tls_certificate and a non-empty tls_advertise_hosts
 * (an explicitly empty tls_certificate, or tls_on_connect_ports alone, are silent, as Exim). */
bool tls_selfsigned_daemon_warns(void);
/* The queue-runner daemon (no listeners): Exim's logs the same warning at start; it never
 * presents a certificate, so none is made here, only the warning logged when it applies. */
void tls_selfsigned_queue_daemon_warning(void);
/* Put them into ssl, or into ctx when ssl is NULL, making them (silently) first if needed. */
bool tls_selfsigned_install(SSL *ssl, SSL_CTX *ctx, xbuf *err);
/* Whether the one made has passed the end of its two hours (false when none was made). */
bool tls_selfsigned_expired(time_t now);
/* Drop the one made, so that the next install makes a new one. */
void tls_selfsigned_forget(void);

#endif
