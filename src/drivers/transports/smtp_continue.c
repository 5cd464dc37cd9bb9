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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "core/hintsdb.h"
#include "core/deliver.h"
#include "core/deliver_continue.h"
#include "drivers/transports/smtp.h"
#include "drivers/transports/smtp_client_opts.h"
#include "smtp/client.h"
#if SUPPORT_TLS
#include "tls/tls_client_smtp.h"
#endif

/* The passed connection this process adopted (its -MCt facts travel on with it). */
static const dcont_conn *adopted;

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

bool smtp_cont_offers(const tp_ctx *c, const driver_instance *t, const smtpc_host *sh)
{
	const dcont_conn *cc = passed(c);
	return cc && strcmp(c->cont->transport, t->name) == 0 && sv_eq(c->cont->host_name, sh->name)
		&& sv_eq(c->cont->host_address, sh->address);
}

smtpc_conn *smtp_cont_adopt(tp_ctx *c, const driver_instance *t, const smtpc_options *o,
	const smtpc_host *sh, int *sequence)
{
	dcont_conn *cc = passed(c);
	if (!smtp_cont_offers(c, t, sh))
		return NULL;
	/* 8BITMIME and SMTPUTF8 are not passed on by Exim's -MC options either: a continued
	 * connection does without them. */
	smtpc_conn *conn = smtpc_adopt_fd(c->a, o, sh, cc->fd, to_smtpc(cc->offered),
		cc->authenticated ? "(continued)" : NULL);
	*sequence = cc->sequence;
	if (cc->proxy_cipher) {
		conn->local_address = sv_cstr(cc->proxy_address ? cc->proxy_address : "");
		conn->local_port = cc->proxy_port;
	}
	cc->fd = -1;                  /* the engine owns it now */
	adopted = cc;
	return conn;
}

/* The TLS proxy (Exim's default for TLS, hosts_noproxy_tls unset): this detached process keeps
 * the TLS session and moves bytes between it and the pipe of the -MC process (and of the ones
 * that process passes on to), until the pipe ends; then it closes the session. Idle for longer
 * than the transport's command timeout on both sides: given up. */
static void proxy_loop(smtpc_conn *conn, int pipe_fd)
{
	int idle_ms = conn->opt->command_timeout > 0 ? conn->opt->command_timeout * 1000 + 5000 : 600000;
	bool server_open = true, used = false;
	char buf[16384];
	for (;;) {
		const char *p;
		size_t n;
		if (server_open && bio_input_pending(&conn->io, 0)) {
			bio_rc rc = bio_peek(&conn->io, &p, &n, 1000);
			if (rc == BIO_OK) {
				size_t off = 0;
				while (off < n) {
					ssize_t w = write(pipe_fd, p + off, n - off);
					if (w < 0 && errno == EINTR)
						continue;
					if (w <= 0)
						return;
					off += (size_t)w;
				}
				bio_consume(&conn->io, n);
				continue;
			}
			if (rc != BIO_TIMEOUT) {
				server_open = false;
				shutdown(pipe_fd, SHUT_WR);
			}
		}
		struct pollfd pf[2] = { { .fd = pipe_fd, .events = POLLIN }, { .fd = conn->fd, .events = POLLIN } };
		int r = poll(pf, server_open ? 2 : 1, idle_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		if (pf[0].revents) {
			ssize_t k = read(pipe_fd, buf, sizeof buf);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				/* The chain is done; it sent QUIT. Nobody came: say QUIT here. */
				if (!used && server_open) {
					bio_write(&conn->io, "QUIT\r\n", 6);
					if (bio_flush(&conn->io))
						bio_peek(&conn->io, &p, &n, 2000);
				}
				return;
			}
			used = true;
			if (server_open) {
				bio_write(&conn->io, buf, (size_t)k);
				if (!bio_flush(&conn->io))
					return;
			}
		}
	}
}

/* The facts the next process needs about conn. */
static dcont_handoff handoff_for(const driver_instance *t, smtpc_conn *conn, int sequence, const char *next)
{
	dcont_handoff h = {
		.transport = t->name,
		.host_name = conn->host.name,
		.host_address = conn->host.address,
		.sequence = sequence + 1,
		.id = next,
		.offered = to_dcont(conn->offered),
		.authenticated = conn->authenticator != NULL,
	};
	if (adopted && adopted->proxy_cipher) {
		/* Already talking through a proxy: the next process does too. */
		h.proxy_address = adopted->proxy_address;
		h.proxy_port = adopted->proxy_port;
		h.proxy_cipher = adopted->proxy_cipher;
	}
	return h;
}

static bool pass_via_proxy(tp_ctx *c, const driver_instance *t, smtpc_conn *conn, int sequence,
	const char *next)
{
	dcont_handoff h = handoff_for(t, conn, sequence, next);
	h.proxy_port = conn->local_port;
	h.proxy_address = sv_dup(c->a, conn->local_address);
#if SUPPORT_TLS
	address_item probe = { 0 };
	smtp_tls_to_addr(conn, &probe);
	h.proxy_cipher = probe.tls_cipher.len ? sv_dup(c->a, probe.tls_cipher) : "unknown";
#else
	h.proxy_cipher = "unknown";
#endif
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
		return false;
	fflush(NULL);
	pid_t mid = fork();
	if (mid < 0) {
		close(sp[0]);
		close(sp[1]);
		return false;
	}
	if (mid == 0) {
		if (fork() != 0)
			_exit(0);
		/* The proxy: nothing of the delivery it came from (its result pipe above all). */
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		close(sp[1]);
		int null = open("/dev/null", O_RDWR);
		for (int fd = 0; null >= 0 && fd <= 2; fd++)
			if (fd != conn->fd && fd != sp[0] && fd != null)
				dup2(null, fd);
		if (null > 2)
			close(null);
		dcont_close_fds_except(conn->fd, sp[0]);
		proxy_loop(conn, sp[0]);
		/* The chain has ended (the last process sent QUIT through here): close_notify. */
		if (conn->tls_active && conn->opt->tls_close)
			conn->opt->tls_close(conn->opt->tls_ctx, false);
		close(conn->fd);
		_exit(0);
	}
	int status;
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	close(sp[0]);
	/* Whatever happens now, the proxy owns the session: if no process ever talks through it,
	 * it ends the session itself. */
	dcont_handoff_send(c->env, &h, sp[1]);
	close(sp[1]);
	return true;
}

bool smtp_cont_finish(tp_ctx *c, const driver_instance *t, smtpc_conn *conn, int sequence)
{
	const struct smtp_transport_options *ob = t->priv;
	char next[MSG_ID_LEN + 1];
	bool handed = false;
	if (conn->usable && conn->fd >= 0 && !c->dont_deliver
		&& ob->connection_max_messages != 1
		&& (ob->connection_max_messages <= 0 || sequence < ob->connection_max_messages)
		&& dcont_wait_next(c->sc, t->name, conn->host.name, c->m->id, next)) {
		if (conn->tls_active)
			handed = pass_via_proxy(c, t, conn, sequence, next);
		else {
			dcont_handoff h = handoff_for(t, conn, sequence, next);
			handed = dcont_handoff_send(c->env, &h, conn->fd);
		}
	}
	if (handed)
		smtpc_release(conn);
	else if (!smtp_cache_keep(c, t, conn, sequence))
		smtpc_close(conn);
	return handed;
}

const char *smtp_cont_proxy_cipher(void)
{
	return adopted ? adopted->proxy_cipher : NULL;
}

bool smtp_cont_may_follow(tp_ctx *c, const driver_instance *t, const smtpc_conn *conn, sv host_name,
	int sequence)
{
	const struct smtp_transport_options *ob = t->priv;
	if (smtp_cache_may_keep(c, t, conn, sequence))
		return true;
	if (c->dont_deliver || ob->connection_max_messages == 1
		|| (ob->connection_max_messages > 0 && sequence >= ob->connection_max_messages))
		return false;
	return dcont_wait_any(c->sc, t->name, host_name);
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

/* ---- serialize_hosts ---- */

enum { SERIALIZE_STALE = 6 * 60 * 60 };

typedef struct claim_ctx {
	time_t now;
	bool busy;
} claim_ctx;

static bool claim(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	claim_ctx *cc = ctx;
	(void)remove;
	long long t;
	if (found && sv_to_long(old, &t) && cc->now - t < SERIALIZE_STALE && t <= cc->now) {
		cc->busy = true;
		return false;
	}
	xbuf_printf(out, "%lld", (long long)cc->now);
	return true;
}

int smtp_serialize_start(tp_ctx *c, const driver_instance *t, const smtpc_host *sh, sv *key, xbuf *err)
{
	const struct smtp_transport_options *ob = t->priv;
	*key = SV_NULL;
	bool listed = false;
	if (!ob->serialize_hosts)
		return 1;
	if (!smtp_host_in_list(t, c->env, sh, "serialize_hosts", ob->serialize_hosts, &listed, err))
		return -1;
	if (!listed)
		return 1;
	xbuf k, e;
	xbuf_init(&k, c->a);
	xbuf_init(&e, c->a);
	xbuf_printf(&k, "host-serialize-" SV_FMT, SV_ARG(sh->name));
	hintsdb *db = hintsdb_open(c->sc->directory, "misc", false, &e);
	if (!db)
		return 1;                 /* no database: no serialization, as a hint */
	claim_ctx cc = { .now = time(NULL) };
	bool ok = hintsdb_update(db, xbuf_sv(&k), claim, &cc);
	hintsdb_close(db);
	if (cc.busy)
		return 0;
	if (ok)
		*key = xbuf_sv(&k);
	return 1;
}

void smtp_serialize_end(tp_ctx *c, sv key)
{
	if (key.len == 0)
		return;
	xbuf e;
	xbuf_init(&e, c->a);
	hintsdb *db = hintsdb_open(c->sc->directory, "misc", false, &e);
	if (db) {
		hintsdb_delete(db, key);
		hintsdb_close(db);
	}
}
