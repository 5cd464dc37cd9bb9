/* The self-signed server certificate Exim presents when tls_certificate gives none
 * (tls_selfsign.c). */
#ifndef POSTERN_TLS_TLS_SELFSIGN_H
#define POSTERN_TLS_TLS_SELFSIGN_H

#include <stdbool.h>
#include <time.h>

#include <openssl/ssl.h>

#include "lib/str.h"

/* Put this process's self-signed certificate and key into ssl, or into ctx when ssl is NULL,
 * making them first when this process has none yet. option_unset: tls_certificate is unset, so
 * making them logs Exim's warning (an empty expansion does not). false with err set on failure. */
bool tls_selfsigned_install(SSL *ssl, SSL_CTX *ctx, bool option_unset, xbuf *err);
/* Whether this process made one. */
bool tls_selfsigned_made(void);
/* Whether the one made has passed the end of its two hours (false when none was made). */
bool tls_selfsigned_expired(time_t now);
/* Drop the one made, so that the next install makes a new one. */
void tls_selfsigned_forget(void);

#endif
