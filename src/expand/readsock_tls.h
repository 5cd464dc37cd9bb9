/* ${readsocket} with the tls=yes option. The TLS client lives in a later layer (src/tls), which
 * registers its start and end functions here at start-up (tls_register()); without them
 * tls=yes is an error ("TLS for ${readsocket} is not available in this build"). */
#ifndef POSTERN_EXPAND_READSOCK_TLS_H
#define POSTERN_EXPAND_READSOCK_TLS_H

#include <stdbool.h>

#include "lib/arena.h"
#include "lib/bio.h"
#include "lib/str.h"

/* Start TLS on the connected fd within timeout_ms. sni: the host name to send, or NULL. On
 * success *layer reads and writes through TLS and *handle is for the end function. false with
 * Exim-style text in err ("(SSL_connect): ..."). */
typedef bool (*xp_tls_start_fn)(arena *a, int fd, const char *sni, int timeout_ms, bio_layer *layer,
	void **handle, xbuf *err);
/* close_notify and free. */
typedef void (*xp_tls_end_fn)(void *handle);

void xp_readsock_tls_register(xp_tls_start_fn start, xp_tls_end_fn end);

/* Drop the answers ${readsocket} cache=yes kept (expand/items_io.c): they live for one
 * connection, as in Exim, whose process serves one (prog/daemon_reuse.c). */
void xp_readsock_cache_clear(void);

/* Whether TLS is available to ${readsocket}. */
bool xp_readsock_tls_available(void);

/* The exchange of a ${readsocket} with tls=yes on connected fd: TLS handshake, the request,
 * then everything up to the server's close, all before deadline (now_ms() clock, CLOCK_MONOTONIC
 * milliseconds) and within limit bytes. spec: the socket specification ("inet:host:port" or a
 * path), for SNI. XP_OK with the answer in data, or XP_ERROR with Exim's text in err. */
int xp_readsock_tls_exchange(arena *a, int fd, sv spec, sv request, long long deadline, size_t limit,
	xbuf *data, xbuf *err);

#endif
