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
	TLS_DANE_NONE,      /* DANE does not apply: TLS as the other options say */
	TLS_DANE_USE,       /* secured TLSA records: a DANE-verified TLS session is required */
	TLS_DANE_REFUSE,    /* the host must not be used; nothing is to be sent to it */
} tls_dane_rc;

typedef struct tls_dane {
	tls_tlsa *rr;
	size_t n;
	int usage_bits;     /* 1 << usage for every record ($tls_out_tlsa_usage) */
	/* TLS_DANE_REFUSE: permanent (Exim's FAIL: the addresses fail) or temporary (defer), and
	 * the dane:fail event's $event_data ("dane-required", "dnssec-invalid"). */
	bool permanent;
	const char *event_data;
} tls_dane;

/* DANE for host_name/address at port (hosts_try_dane or, with require, hosts_require_dane
 * matched), as Exim 4.96 decides it before connecting:
 *  - the host is DNSSEC-secured when its address is among host_name's validated A/AAAA records
 *    and, if mx_domain (the address's domain; may be empty) has MX records naming host_name,
 *    that MX answer was validated too. Not secured: NONE, or with require REFUSE (permanent,
 *    "DANE error: <host> lookup not DNSSEC", event "dane-required"); not known (a lookup
 *    deferred): NONE, or with require a temporary REFUSE.
 *  - the TLSA records of _<port>._tcp.<host_name>: validated and usable: USE. None, or not
 *    validated (logged: "DANE error: TLSA lookup for <host> not DNSSEC"): NONE, or with require
 *    a permanent REFUSE ("DANE error: tlsa lookup FAIL"). A lookup that failed: REFUSE,
 *    temporary ("DANE error: tlsa lookup DEFER") unless it failed hard under require.
 * why gets the text for REFUSE (and says why DANE is not used for NONE). */
tls_dane_rc tls_dane_lookup(arena *a, sv host_name, sv address, int port, sv mx_domain, bool require,
	tls_dane *out, xbuf *why);

#endif
