/* The smtp transport's side of a delivery worker's connection cache (core/deliver_conn_cache.h,
 * docs/transports.md "Connection cache"): after a clean delivery the connection is kept instead
 * of QUIT, and the worker's next message to the same destination goes over it as a continued
 * connection ("*" after the IP address in its "=>" line, connection_max_messages counting), as
 * it would after Exim's -MC hand-over: straight to MAIL FROM, no RSET (observed with Exim 4.96,
 * smtp_continue.c).
 *
 * What must be equal for a connection to be used again is everything that shaped it: the
 * transport, the host's name, address and port, the interface, helo_data, the protocol, the
 * host options the EHLO and TLS depend on, the user the transport runs as. Anything that makes
 * a kept connection differ from a new one in what can be observed keeps it from the cache: TLS
 * (a session in the worker's memory), AUTH, LMTP, a SOCKS proxy, serialize_hosts (a record per
 * connection), and a transport with an event_action (it sees tcp:connect, smtp:connect,
 * smtp:ehlo and tcp:close per connection, and the worker's idle close has no delivery to
 * raise tcp:close in). */
#include "drivers/transports/smtp_deliver.h"

#include <string.h>
#include <unistd.h>

#include "core/deliver_conn_cache.h"
#include "core/event.h"
#include "drivers/transports/smtp.h"
#include "smtp/client.h"

static void put_field(xbuf *k, sv v)
{
	xbuf_printf(k, "%zu:", v.len);
	xbuf_put(k, v.p, v.len);
}

/* The destination as one string of length-prefixed fields. */
static sv key_for(arena *a, const driver_instance *t, const smtpc_options *o, const smtpc_host *sh)
{
	xbuf k;
	xbuf_init(&k, a);
	put_field(&k, sv_cstr(t->name));
	put_field(&k, sh->name);
	put_field(&k, sh->address);
	put_field(&k, o->interface);
	put_field(&k, o->helo_name);
	unsigned flags = (unsigned)o->lmtp | (unsigned)o->avoid_esmtp << 1 | (unsigned)o->avoid_pipelining << 2
		| (unsigned)o->try_chunking << 3 | (unsigned)o->try_auth << 4 | (unsigned)o->require_auth << 5
		| (unsigned)o->require_tls << 6 | (unsigned)o->tls_on_connect << 7 | (unsigned)(o->tls_start != NULL) << 8
		| (unsigned)o->try_prdr << 9 | (unsigned)o->pipe_connect << 10;
	xbuf_printf(&k, "%d/%x/%ld/%ld", sh->port, flags, (long)geteuid(), (long)getegid());
	return xbuf_sv(&k);
}

static bool watches_connections(const driver_instance *t)
{
	static const char *const names[] = { "tcp:connect", "tcp:close", "smtp:connect", "smtp:ehlo" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (event_action_for(t, names[i]))
			return true;
	return false;
}

/* Whether connections of t to this destination may be kept at all. */
static bool transport_allows(const tp_ctx *c, const driver_instance *t, const smtpc_options *o)
{
	const struct smtp_transport_options *ob = t->priv;
	return dccache_usable() && ob->connection_idle_timeout > 0 && !c->dont_deliver
		&& ob->connection_max_messages != 1 && !ob->socks_proxy && !ob->serialize_hosts
		&& !o->lmtp && !o->tls_on_connect && !o->require_auth && o->layer == NULL
		&& !watches_connections(t);
}

bool smtp_cache_may_keep(const tp_ctx *c, const driver_instance *t, const smtpc_conn *conn, int sequence)
{
	const struct smtp_transport_options *ob = t->priv;
	const smtpc_options *o = conn->opt;
	if (!transport_allows(c, t, o) || conn->tls_active || conn->authenticator
		|| (ob->connection_max_messages > 0 && sequence >= ob->connection_max_messages))
		return false;
	/* In clear although TLS was to be tried (tls_tempfail_tryclear after a failed
	 * handshake): a new connection tries TLS again. */
	return !(o->tls_start && (conn->offered & SMTPC_OFFER_STARTTLS));
}

smtpc_conn *smtp_cache_take(tp_ctx *c, const driver_instance *t, const smtpc_options *o,
	const smtpc_host *sh, int *sequence)
{
	if (!transport_allows(c, t, o) || dccache_fd() < 0)
		return NULL;
	sv key = key_for(c->a, t, o, sh);
	unsigned offered;
	int seq;
	int fd = dccache_take(key.p, key.len, &offered, &seq);
	if (fd < 0)
		return NULL;
	*sequence = seq + 1;
	return smtpc_adopt_fd(c->a, o, sh, fd, offered, NULL);
}

bool smtp_cache_keep(tp_ctx *c, const driver_instance *t, smtpc_conn *conn, int sequence)
{
	const struct smtp_transport_options *ob = t->priv;
	const smtpc_options *o = conn->opt;
	if (!smtp_cache_may_keep(c, t, conn, sequence) || !conn->usable || conn->fd < 0
		|| conn->need_rset || conn->messages_sent < 1)
		return false;
	/* Bytes nobody asked for: the server is not in the state a kept connection needs. */
	if (bio_input_pending(&conn->io, 0))
		return false;
	sv key = key_for(c->a, t, o, &conn->host);
	if (!dccache_put(conn->fd, key.p, key.len, conn->offered, sequence, ob->connection_idle_timeout * 1000))
		return false;
	conn->fd = -1;                /* the worker holds it now */
	conn->usable = false;
	return true;
}

bool smtp_cache_went_stale(const smtpc_conn *conn)
{
	return conn->first_reply_code < 0 ? !conn->usable : conn->first_reply_code / 100 == 4;
}
