/* PIPECONNECT's EHLO cache for the smtp transport (hosts_pipe_connect): what a host offered in
 * its last EHLO reply, kept in the "misc" hints database under Exim's key "<ip>:<port>.EHLO"
 * ("[<ip>]:<port>.EHLO" for IPv6), so that the next connection to it can send EHLO and the
 * first transaction without waiting for the banner (src/smtp/client.h, pipe_connect). */
#ifndef POSTERN_DRIVERS_TRANSPORTS_SMTP_EHLO_CACHE_H
#define POSTERN_DRIVERS_TRANSPORTS_SMTP_EHLO_CACHE_H

#include "lib/arena.h"
#include "lib/str.h"
#include "smtp/client.h"

typedef struct smtp_ehlo_cache {
	const char *spool_directory;
	sv key;
	arena *a;
} smtp_ehlo_cache;

/* Fill ec for the host and hook it into o (only when o->pipe_connect). */
void smtp_ehlo_cache_attach(smtp_ehlo_cache *ec, arena *a, const char *spool_directory,
	const smtpc_host *host, smtpc_options *o);

/* The record's value: "<seconds> <offered, hex>[/<offered after STARTTLS, hex>][ <AUTH
 * mechanisms>]"; misc records begin with their time, which exim_dumpdb shows
 * (src/prog/hints_format.c). Exposed for the tools and tests. tls_offered and auth_mechs (may
 * be NULL): 0 when not known, empty when no mechanisms were offered. */
bool smtp_ehlo_cache_decode(sv value, long long *time, unsigned *offered, unsigned *tls_offered,
	sv *auth_mechs);

#endif
