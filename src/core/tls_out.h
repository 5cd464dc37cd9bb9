/* The outgoing TLS session's facts, for $tls_out_* (owner: the TLS client work; docs/tls.md).
 *
 * As in Exim these are process-wide: the smtp transport sets them when its TLS session starts
 * (src/tls/tls_client_smtp.c) and clears them when a new connection begins, so the transport's
 * expansions and events see the session; the delivery process sets them from an address's
 * result (tls_out_from_addr) so post-delivery events and log lines see what the transport saw.
 * Until something is set, the variables have their TLS-less values ("", 0). */
#ifndef POSTERN_CORE_TLS_OUT_H
#define POSTERN_CORE_TLS_OUT_H

#include <stdbool.h>

#include "core/addr.h"
#include "lib/str.h"

typedef struct tls_out_state {
	bool active;
	sv cipher, ver, peerdn, peercert, ourcert, sni;
	int bits;
	bool certificate_verified;
	int ocsp;                 /* TLS_OCSP_* (src/tls/tls_ocsp.h) */
	unsigned resumption;      /* TLS_RESUME_* bits (src/tls/tls_resume.h) */
	sv dane;                  /* "yes"/"no" ($tls_out_dane) */
	int tlsa_usage;           /* bitmap of TLSA usages seen ($tls_out_tlsa_usage) */
} tls_out_state;

extern tls_out_state tls_out;

/* Make $tls_out_* read tls_out (idempotent; set/from_addr call it). */
void tls_out_register(void);
/* Forget the session (a new connection starts). The setters keep their own copies of the
 * strings, so nothing dangles when arenas are reset. */
void tls_out_clear(void);
void tls_out_set(const tls_out_state *s);
/* From an address's delivery result (tls_used, cipher, peerdn, verified, ...). */
void tls_out_from_addr(const address_item *a);

#endif
