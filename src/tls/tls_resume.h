/* TLS session resumption, both sides (owner: the resumption work; facts §11, docs/tls.md).
 * The TLS server and client call these around their handshakes; tickets, ticket keys and the
 * client's `tls` hints database live behind them. */
#ifndef POSTERN_TLS_TLS_RESUME_H
#define POSTERN_TLS_TLS_RESUME_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "core/message.h"
#include "lib/arena.h"
#include "lib/str.h"

/* $tls_in_resumption / $tls_out_resumption bits (facts §11). */
enum {
	TLS_RESUME_SUPPORTED = 1u << 0,
	TLS_RESUME_CLIENT_REQUESTED = 1u << 1,   /* client asked for a ticket */
	TLS_RESUME_CLIENT_OFFERED = 1u << 2,     /* client offered a session */
	TLS_RESUME_SERVER_TICKET = 1u << 3,      /* server issued a ticket */
	TLS_RESUME_USED = 1u << 4,               /* the session was resumed */
};

/* Server: once per connection context, before any handshake. Issues tickets to clients in
 * tls_resumption_hosts (none to others), with the daemon's ticket keys. false with err set
 * fails the TLS start. */
bool tls_resume_server_setup(SSL_CTX *ctx, msg_origin *o, xbuf *err);
/* Server, after the handshake: the $tls_in_resumption bits. */
unsigned tls_resume_server_result(SSL *ssl);

/* Client: what identifies a stored session (facts §11: the hints key is a hash of these). */
typedef struct tls_resume_peer {
	sv host_name;          /* the load-balancer name (host_name_extract), else the host name */
	sv address;            /* the server's IP */
	int port;
	sv sending_address;    /* our end ($sending_ip_address) */
	sv openssl_options, require_ciphers, sni;   /* as used for this connection */
	sv dane;               /* the TLSA records in use (empty: no DANE): a session made under
	                        * other records (or none) is not offered */
	sv alpn;               /* the ALPN names offered (tls_alpn; empty: none) */
} tls_resume_peer;
/* The `tls` hints-database key for peer (lowercase hex), in a. */
const char *tls_resume_client_key(arena *a, const tls_resume_peer *peer);
/* Client: before the handshake on ssl, when the transport's tls_resumption_hosts matched:
 * offer the session stored under key (if still usable) and store the tickets the server sends
 * under it (stale entries are deleted). */
void tls_resume_client_setup(SSL *ssl, const char *key);
/* Client, after the handshake: the $tls_out_resumption bits. */
unsigned tls_resume_client_result(SSL *ssl);

#endif
