/* The smtp transport's side of connection reuse (Exim 4.96 connection_max_messages, -MC):
 * adopting the connection a -MC process was given, handing a connection on to the next message
 * waiting for the same host, and recording messages that wait for a host.
 *
 * Observed with Exim 4.96 delivering three queued messages to one host: after the first
 * message's "250" the transport sends neither RSET nor QUIT but execs "exim -MCP -MCS [-MCQ pid
 * fd] -MC t <host> <ip> 2 <id>" with the connection as standard input; that process goes
 * straight to MAIL FROM, logs "H=<host> [<ip>]*" (the '*' marks the reused connection) and
 * passes on with sequence 3; the last one sends QUIT. A TLS session cannot follow an exec
 * (Exim proxies it through the passing process); here a TLS connection is closed instead and
 * the next message opens its own, as Exim does for hosts_nopass_tls. */
#include "drivers/transports/smtp_deliver.h"

#include <string.h>

#include "core/deliver.h"
#include "core/deliver_continue.h"
#include "drivers/transports/smtp.h"
#include "smtp/client.h"

static dcont_conn *passed(const tp_ctx *c)
{
	if (!c->cont || !c->cont->conn)
		return NULL;
	dcont_conn *cc = c->cont->conn;
	return cc->fd >= 0 ? cc : NULL;
}

static unsigned to_smtpc(unsigned d)
{
	return (d & DCONT_PIPELINING ? SMTPC_OFFER_PIPELINING : 0) | (d & DCONT_SIZE ? SMTPC_OFFER_SIZE : 0)
		| (d & DCONT_CHUNKING ? SMTPC_OFFER_CHUNKING : 0) | (d & DCONT_DSN ? SMTPC_OFFER_DSN : 0);
}

static unsigned to_dcont(unsigned s)
{
	return (s & SMTPC_OFFER_PIPELINING ? DCONT_PIPELINING : 0) | (s & SMTPC_OFFER_SIZE ? DCONT_SIZE : 0)
		| (s & SMTPC_OFFER_CHUNKING ? DCONT_CHUNKING : 0) | (s & SMTPC_OFFER_DSN ? DCONT_DSN : 0);
}

smtpc_conn *smtp_cont_adopt(tp_ctx *c, const driver_instance *t, const smtpc_options *o,
	const smtpc_host *sh, int *sequence)
{
	dcont_conn *cc = passed(c);
	if (!cc || strcmp(c->cont->transport, t->name) != 0)
		return NULL;
	if (!sv_eq(c->cont->host_name, sh->name) || !sv_eq(c->cont->host_address, sh->address))
		return NULL;
	/* 8BITMIME and SMTPUTF8 are not passed on by Exim's -MC options either: a continued
	 * connection does without them. */
	smtpc_conn *conn = smtpc_adopt_fd(c->a, o, sh, cc->fd, to_smtpc(cc->offered),
		cc->authenticated ? "(continued)" : NULL);
	*sequence = cc->sequence;
	cc->fd = -1;                  /* the engine owns it now */
	return conn;
}

/* This binary and its -C, for the exec. */
static bool own_argv(tp_ctx *c, const char **argv)
{
	xbuf exe, conf, err;
	xbuf_init(&exe, c->a);
	xbuf_init(&conf, c->a);
	xbuf_init(&err, c->a);
	if (xp_expand(c->env, SV_LIT("$exim_path"), &exe, &err) != XP_OK || exe.len == 0)
		return false;
	int n = 0;
	argv[n++] = xbuf_cstr(&exe);
	if (xp_expand(c->env, SV_LIT("$config_file"), &conf, &err) == XP_OK && conf.len) {
		argv[n++] = "-C";
		argv[n++] = xbuf_cstr(&conf);
	}
	argv[n] = NULL;
	return true;
}

bool smtp_cont_finish(tp_ctx *c, const driver_instance *t, smtpc_conn *conn, int sequence)
{
	const struct smtp_transport_options *ob = t->priv;
	char next[MSG_ID_LEN + 1];
	const char *argv[4];
	bool handed = false;
	if (conn->usable && conn->fd >= 0 && !conn->tls_active && !c->dont_deliver
		&& ob->connection_max_messages != 1
		&& (ob->connection_max_messages <= 0 || sequence < ob->connection_max_messages)
		&& dcont_wait_next(c->sc, t->name, conn->host.name, c->m->id, next) && own_argv(c, argv)) {
		handed = dcont_pass(argv, t->name, conn->host.name, conn->host.address, sequence + 1, next,
			conn->fd, to_dcont(conn->offered), conn->authenticator != NULL);
	}
	if (handed)
		smtpc_release(conn);
	else
		smtpc_close(conn);
	return handed;
}

void smtp_cont_note_waiting(tp_ctx *c, const driver_instance *t, sv host_name)
{
	const struct smtp_transport_options *ob = t->priv;
	/* Exim keeps no wait records for a transport that never reuses a connection. */
	if (ob->connection_max_messages == 1 || c->dont_deliver)
		return;
	dcont_wait_add(c->sc, t->name, host_name, c->m->id);
}

void smtp_cont_drop_unused(tp_ctx *c)
{
	dcont_conn *cc = passed(c);
	if (!cc)
		return;
	smtpc_options o = { .command_timeout = 5 };
	smtpc_host h = { .name = c->cont->host_name, .address = c->cont->host_address };
	smtpc_close(smtpc_adopt_fd(c->a, &o, &h, cc->fd, 0, NULL));
	cc->fd = -1;
}
