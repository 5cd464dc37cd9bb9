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

/* ---- smtp_continue.c: connection reuse (core/deliver_continue.h) ---- */

struct smtpc_conn;
struct smtpc_options;
struct smtpc_host;

/* The connection a -MC process was given, when it is for this host (name and address):
 * adopted (c->cont's fd, what the server offered) and *sequence set to the number of messages
 * it has carried, this one included. NULL: none, or not for this host. */
bool smtp_cont_offers(const tp_ctx *c, const driver_instance *t, const struct smtpc_host *sh);
struct smtpc_conn *smtp_cont_adopt(tp_ctx *c, const driver_instance *t, const struct smtpc_options *o,
	const struct smtpc_host *sh, int *sequence);

/* After a message went over conn (sequence messages so far): hand the connection to the next
 * message waiting for this host in wait-<transport>, within connection_max_messages; otherwise
 * QUIT and close. True when it was handed over. */
bool smtp_cont_finish(tp_ctx *c, const driver_instance *t, struct smtpc_conn *conn, int sequence);

/* Whether another message might go over this connection after the current one (sequence
 * messages so far, this one included): a message waiting for the host (wait-<transport>) within
 * connection_max_messages, or a worker's connection cache that might keep it. false: the
 * engine may send QUIT with the data (smtpc_message.quit_after). */
bool smtp_cont_may_follow(tp_ctx *c, const driver_instance *t, const struct smtpc_conn *conn, sv host_name,
	int sequence);

/* This message waits for host_name (deferred there, or its retry time not reached). */
void smtp_cont_note_waiting(tp_ctx *c, const driver_instance *t, sv host_name);

/* The cipher of the TLS session a proxy keeps for the adopted connection (-MCt); NULL: none. */
const char *smtp_cont_proxy_cipher(void);

/* serialize_hosts: one connection at a time to a listed host, through a record
 * "host-serialize-<name>" in the misc hints database (older than six hours: ignored), as
 * Exim's. 1: go on (*key: the record to remove afterwards, empty when the host is not listed),
 * 0: another process is connected (skip the host), -1: the list could not be checked (err). */
int smtp_serialize_start(tp_ctx *c, const driver_instance *t, const struct smtpc_host *sh, sv *key,
	xbuf *err);
void smtp_serialize_end(tp_ctx *c, sv key);

/* ---- smtp_conn_cache.c: a delivery worker's connection cache (core/deliver_conn_cache.h) ---- */

/* The connection the worker kept from an earlier message, when it goes where this one would
 * (same transport, host name and address, port, interface, helo_data, protocol and host
 * options, user; in clear, not authenticated): adopted, with *sequence the number of messages
 * it has carried, this one included. NULL: none (then connect as usual). */
struct smtpc_conn *smtp_cache_take(tp_ctx *c, const driver_instance *t, const struct smtpc_options *o,
	const struct smtpc_host *sh, int *sequence);

/* Instead of QUIT after a clean delivery (sequence messages so far on conn): keep conn for the
 * transport's connection_idle_timeout. false: not kept (not in a worker's cloned child, TLS,
 * AUTH, LMTP, a SOCKS proxy, serialize_hosts, the transport's event_action,
 * connection_max_messages reached, ...): the caller closes it. */
bool smtp_cache_keep(tp_ctx *c, const driver_instance *t, struct smtpc_conn *conn, int sequence);

/* Whether the worker's cache could keep conn after this message (sequence messages so far, this
 * one included), as far as is known before its data: not for a transport or destination it never
 * keeps, a TLS session, an authenticated connection, one in clear after a failed STARTTLS, nor
 * when connection_max_messages is reached. */
bool smtp_cache_may_keep(const tp_ctx *c, const driver_instance *t, const struct smtpc_conn *conn,
	int sequence);

/* A kept connection that turned out dead at its first command (closed, reset, 4xx): nothing of
 * the message was sent, so it may go over a new connection in the same attempt. */
bool smtp_cache_went_stale(const struct smtpc_conn *conn);

/* At the end of the transport: a passed connection no host used is closed with QUIT. */
void smtp_cont_drop_unused(tp_ctx *c);

#endif
