/* The smtp transport's options as the SMTP client engine needs them for one host
 * (src/smtp/client.h smtpc_options): expanded, host lists matched against the host. */
#ifndef POSTERN_DRIVERS_TRANSPORTS_SMTP_CLIENT_OPTS_H
#define POSTERN_DRIVERS_TRANSPORTS_SMTP_CLIENT_OPTS_H

#include "conf/driver.h"
#include "expand/expand.h"
#include "smtp/client.h"

/* t is an smtp transport instance; env the delivery's expansion environment (the caller sets
 * $host and $host_address for the host). When host->port is 0 it is set from the port option
 * (unset: the service "smtp" or "lmtp"; names are looked up in the services database, as Exim). Returns false with a message in err when an option
 * fails to expand or a host list cannot be checked (the caller defers). Strings in o live in
 * env->a. */
bool smtp_transport_client_options(const driver_instance *t, xp_env *env, smtpc_host *host,
	smtpc_options *o, xbuf *err);

/* Whether host h is in the transport's host list option name (value list, expanded with the
 * host's variables): *yes. false + err: the list could not be expanded or checked. */
bool smtp_host_in_list(const driver_instance *t, xp_env *env, const smtpc_host *h, const char *name,
	const char *list, bool *yes, xbuf *err);

/* Callouts (TLS option bits): *avoid when host matches the transport's hosts_verify_avoid_tls,
 * Exim 4.96's list of hosts a verify callout must not start TLS with (hosts_avoid_tls applies
 * to callouts as well, through smtp_transport_client_options). false with err set when the list
 * cannot be checked. */
bool smtp_transport_verify_avoid_tls(const driver_instance *t, xp_env *env, const smtpc_host *host,
	bool *avoid, xbuf *err);

#endif
