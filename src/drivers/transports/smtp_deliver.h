/* The smtp transport's delivery (Exim 4.96 "The smtp transport"): the transport_ops that drive
 * the SMTP client engine (src/smtp/client.h) over the hosts of a batch of addresses. Private to
 * src/drivers/transports/smtp*.c apart from smtp_transport_ops. */
#ifndef POSTERN_DRIVERS_TRANSPORTS_SMTP_DELIVER_H
#define POSTERN_DRIVERS_TRANSPORTS_SMTP_DELIVER_H

#include <stdbool.h>

#include "core/transport.h"

extern const transport_ops smtp_transport_ops;

/* Exim's error numbers the transport itself produces (as its logs print them). */
enum {
	SMTPTP_ERRNO_UNKNOWNHOST = -32,  /* "failed to lookup IP address for <name>" */
	SMTPTP_ERRNO_HRETRY = -54,       /* "retry time not reached for any host for '<domain>'" */
};

/* ---- smtp_deliver_hosts.c ---- */

/* The hosts for the batch whose first address is a: the transport's hosts option (expanded and
 * looked up) when hosts_override is set or the address has none, else the router's list;
 * hosts_randomize shuffles a transport list. Names that cannot be looked up are left out; the
 * first such failure is described in *lookup_err (errno SMTPTP_ERRNO_UNKNOWNHOST) so the batch
 * can be deferred with it when no host is left. false: a configuration problem (err says
 * which; Exim defers the batch and writes the panic log). */
bool smtp_hosts_for_batch(const driver_instance *t, tp_ctx *c, const address_item *a,
	route_host **out, xbuf *lookup_err, xbuf *err);

/* The fallback hosts: the router's (a->fallback_hosts) or else the transport's, looked up the
 * same way (not expanded, as Exim). NULL: none. */
route_host *smtp_hosts_fallback(const driver_instance *t, tp_ctx *c, const address_item *a,
	xbuf *lookup_err);

#endif
