/* DANE for the smtp transport (RFC 7672; Exim 4.96's hosts_try_dane / hosts_require_dane):
 * whether a host's address and TLSA records are DNSSEC-secured, and the TLSA records to give
 * OpenSSL (SSL_dane_*). docs/tls.md, "DANE". */
#ifndef POSTERN_TLS_TLS_CLIENT_DANE_H
#define POSTERN_TLS_TLS_CLIENT_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/str.h"

typedef struct tls_tlsa {
	uint8_t usage, selector, mtype;
	const unsigned char *data;
	size_t len;
} tls_tlsa;

typedef enum tls_dane_rc {
	TLS_DANE_NONE,      /* not usable: the host is not DNSSEC-secured, or no TLSA records */
	TLS_DANE_USE,       /* secured TLSA records: a DANE-verified TLS session is required */
	TLS_DANE_ERROR,     /* the lookups failed (temporarily) or were not secured: why says so */
} tls_dane_rc;

typedef struct tls_dane {
	tls_tlsa *rr;
	size_t n;
	int usage_bits;     /* 1 << usage for every record ($tls_out_tlsa_usage) */
} tls_dane;

/* Look up host_name's addresses (which must include address) and _<port>._tcp.<host_name>'s
 * TLSA records, asking for DNSSEC. why gets "DANE error: ..." for anything but TLS_DANE_USE
 * (for TLS_DANE_NONE: why DANE is not usable, which matters with hosts_require_dane).
 * TLS_DANE_ERROR: a lookup deferred, or TLSA records exist but were not secured. */
tls_dane_rc tls_dane_lookup(arena *a, sv host_name, sv address, int port, tls_dane *out, xbuf *why);

#endif
