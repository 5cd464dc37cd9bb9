/* ALPN (RFC 7301) for SMTP, as Exim 4.96: the server's tls_alpn (main option, default
 * "smtp : esmtp") declines a client that offers more than one name or a name not in the list;
 * the smtp transport's tls_alpn offers names and hosts_require_alpn insists that the server
 * selects one. docs/tls.md, "ALPN". */
#ifndef POSTERN_TLS_TLS_ALPN_H
#define POSTERN_TLS_TLS_ALPN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "lib/str.h"

/* A colon list of names ("smtp : esmtp") in ALPN's wire form (each name preceded by its length)
 * into out. false when a name is empty or longer than 255 bytes. */
bool tls_alpn_wire(const char *list, xbuf *out);

/* The server's choice for the client's offer (wire form, len bytes) under the list allowed
 * (colon list): the one name offered when it is the only one and is allowed (*sel, *sel_len
 * point into offer); false otherwise (the connection is to be declined). A malformed offer is
 * declined too. */
bool tls_alpn_choose(const char *allowed, const unsigned char *offer, size_t len,
	const unsigned char **sel, unsigned char *sel_len);

/* Server: select or decline with tls_alpn, expanded per connection by expand (NULL result: the
 * expansion failed; the connection is declined). */
void tls_alpn_server_setup(SSL_CTX *ctx, const char *(*expand)(void));

#endif
