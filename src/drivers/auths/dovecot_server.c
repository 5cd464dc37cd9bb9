/* dovecot authenticator (Exim 4.96 "The dovecot authenticator"; the Dovecot auth-client
 * protocol version 1). One connection per AUTH command:
 *
 *   server_socket "/path"         Unix socket; "host port" a TCP connection (5 s to connect)
 *   Dovecot -> us                 handshake lines up to DONE: VERSION (major must be 1), MECH
 *                                 lines (ours must be among them), SPID before any MECH means the
 *                                 master socket; others (CUID, COOKIE) are ignored
 *   us -> Dovecot (one write)     VERSION 1 0, CPID <pid>, AUTH 1 <mech> service=smtp
 *                                 [secured [valid-client-cert]] rip= lip= nologin resp=<initial>
 *   Dovecot -> us                 CONT 1 <b64> (a 334 round trip, the answer goes back verbatim
 *                                 as CONT 1 <answer>), OK 1 ... user=<id>, FAIL 1 ... [user=<id>]
 *
 * Fields are TAB-separated and lines end in LF; a line longer than 8192 bytes or with more than
 * 16 fields is a protocol error; client data containing a TAB fails the authentication (it would
 * inject fields). Errors defer with Exim's texts. Every read is bounded by a timeout.
 *
 * server_tls (Postern's; Exim documents it but never built it) runs the same exchange inside TLS
 * (dovecot_tls.c): the reads and writes below go through the TLS layer when there is one.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/auth.h"
#include "drivers/auths/auth_servers.h"
#include "drivers/auths/dovecot.h"
#include "drivers/auths/dovecot_tls.h"

#define DOVECOT_LINE_MAX 8192
#define DOVECOT_FIELDS_MAX 16
#define DOVECOT_CONNECT_TIMEOUT_MS 5000
#define DOVECOT_READ_TIMEOUT_MS 30000  /* Dovecot may delay a FAIL (auth_failure_delay, 2 s) */

static const char read_error[] = "authentication socket read error or premature eof";

typedef struct dconn {
	int fd;
	bio_layer tls;   /* the TLS layer (server_tls); tls.read NULL: plain socket */
	char buf[DOVECOT_LINE_MAX + 1];
	size_t have;  /* bytes in buf */
	size_t used;  /* bytes of buf consumed by the previous line */
} dconn;

/* Connect fd to addr within the connect timeout. 0 on success, else an errno value. */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int e = 0;
	if (connect(fd, sa, len) != 0) {
		e = errno;
		if (e == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int r;
			do
				r = poll(&p, 1, DOVECOT_CONNECT_TIMEOUT_MS);
			while (r < 0 && errno == EINTR);
			socklen_t el = sizeof e;
			if (r == 0)
				e = ETIMEDOUT;
			else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
				e = errno;
		}
	}
	fcntl(fd, F_SETFL, fl);
	return e;
}

static int connect_unix(const char *path, auth_server_ctx *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int e = strlen(path) >= sizeof sa.sun_path ? ENAMETOOLONG : 0;
	if (fd < 0)
		e = errno;
	if (e == 0) {
		memcpy(sa.sun_path, path, strlen(path) + 1);
		e = connect_timed(fd, (struct sockaddr *)&sa, sizeof sa);
	}
	if (e == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	xbuf_printf(&c->err, "unable to connect to UNIX socket (%s): %s", path, strerror(e));
	return -1;
}

static int connect_inet(const char *spec, auth_server_ctx *c)
{
	char host[256], port[32], extra[2];
	if (sscanf(spec, " %255s %31s %1s", host, port, extra) != 2) {
		xbuf_printf(&c->err, "invalid socket '%s'", spec);
		return -1;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		xbuf_printf(&c->err, "no IP address found for host %s", host);
		return -1;
	}
	int e = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		e = connect_timed(fd, ai->ai_addr, ai->ai_addrlen);
		if (e == 0) {
			freeaddrinfo(res);
			return fd;
		}
		close(fd);
	}
	freeaddrinfo(res);
	xbuf_printf(&c->err, "failed to connect to any address for %s: %s", host, strerror(e));
	return -1;
}

/* Next LF-terminated line (without the LF, NUL-terminated in buf). NULL on EOF, error, timeout
 * or an over-long line. */
static char *read_line(dconn *d)
{
	memmove(d->buf, d->buf + d->used, d->have - d->used);
	d->have -= d->used;
	d->used = 0;
	for (;;) {
		char *nl = memchr(d->buf, '\n', d->have);
		if (nl) {
			*nl = '\0';
			d->used = (size_t)(nl - d->buf) + 1;
			return d->buf;
		}
		if (d->have >= DOVECOT_LINE_MAX)
			return NULL;
		/* TLS may hold decrypted bytes the socket no longer shows */
		bool buffered = d->tls.read && d->tls.pending(d->tls.ctx) > 0;
		if (!buffered) {
			struct pollfd p = { .fd = d->fd, .events = POLLIN };
			int r = poll(&p, 1, DOVECOT_READ_TIMEOUT_MS);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return NULL;
		}
		ssize_t k = d->tls.read ? d->tls.read(d->tls.ctx, d->buf + d->have, DOVECOT_LINE_MAX - d->have)
			: read(d->fd, d->buf + d->have, DOVECOT_LINE_MAX - d->have);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;   /* EAGAIN: a partial TLS record; poll again (bounded by its timeout) */
		if (k <= 0)
			return NULL;
		d->have += (size_t)k;
	}
}

/* Split at TABs in place; -1 when there are more than DOVECOT_FIELDS_MAX fields. */
static int split(char *line, char **f)
{
	int n = 0;
	for (char *p = line;; p++) {
		if (n == DOVECOT_FIELDS_MAX)
			return -1;
		f[n++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			return n;
		*p = '\0';
	}
}

static bool write_all(dconn *d, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = d->tls.write ? d->tls.write(d->tls.ctx, p, n) : send(d->fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {   /* the TLS socket is non-blocking */
			struct pollfd pf = { .fd = d->fd, .events = POLLOUT | POLLIN };
			if (poll(&pf, 1, DOVECOT_READ_TIMEOUT_MS) <= 0)
				return false;
			continue;
		}
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static auth_rc defer(auth_server_ctx *c, const char *msg)
{
	xbuf_puts(&c->err, msg);
	return AUTH_DEFER;
}

/* Reads the handshake; AUTH_OK when our mechanism was offered. */
static auth_rc handshake(dconn *d, auth_server_ctx *c, const char *mech)
{
	bool seen_mech = false, ours = false;
	for (;;) {
		char *line = read_line(d), *f[DOVECOT_FIELDS_MAX];
		if (line == NULL)
			return defer(c, read_error);
		int n = split(line, f);
		if (n < 0)
			return defer(c, "authentication socket protocol error");
		if (strcmp(f[0], "DONE") == 0)
			break;
		if (strcmp(f[0], "VERSION") == 0) {
			if (n < 2 || strcmp(f[1], "1") != 0)
				return defer(c, "authentication socket protocol version mismatch");
		} else if (strcmp(f[0], "MECH") == 0) {
			seen_mech = true;
			if (n >= 2 && strcasecmp(f[1], mech) == 0)
				ours = true;
		} else if (strcmp(f[0], "SPID") == 0 && !seen_mech) {
			return defer(c, "authentication socket type mismatch (connected to auth-master instead of auth-client)");
		}
	}
	if (!ours) {
		xbuf_printf(&c->err, "Dovecot did not advertise mechanism \"%s\" to us", mech);
		return AUTH_DEFER;
	}
	return AUTH_OK;
}

static void set_user(auth_server_ctx *c, char **f, int n)
{
	for (int i = 2; i < n; i++)
		if (strncmp(f[i], "user=", 5) == 0) {
			sv u = sv_tainted(sv_copy(c->a, sv_cstr(f[i] + 5)));
			c->strings[0] = c->vars[0] = u;
			c->nstrings = c->nvars = 1;
			return;
		}
}

static auth_rc converse(dconn *d, const driver_instance *di, auth_server_ctx *c, sv initial)
{
	const char *mech = auth_public_name(di);
	auth_rc rc = handshake(d, c, mech);
	if (rc != AUTH_OK)
		return rc;
	bool local = c->remote_ip.len > 0 && sv_eq(c->remote_ip, c->local_ip);
	xbuf req;
	xbuf_init(&req, c->a);
	xbuf_printf(&req, "VERSION\t1\t0\nCPID\t%d\nAUTH\t1\t%s\tservice=smtp\t", (int)getpid(), mech);
	if (c->tls_active || local)
		xbuf_puts(&req, "secured\t");
	if (c->tls_active && c->tls_cert_verified)
		xbuf_puts(&req, "valid-client-cert\t");
	xbuf_printf(&req, "rip=" SV_FMT "\tlip=" SV_FMT "\tnologin\tresp=" SV_FMT "\n",
		SV_ARG(c->remote_ip.len ? c->remote_ip : SV_LIT("NULL")),
		SV_ARG(c->local_ip.len ? c->local_ip : SV_LIT("NULL")), SV_ARG(initial));
	if (!write_all(d, req.p, req.len))
		return defer(c, "authentication socket write error");

	for (int rounds = 0;; rounds++) {
		char *line = read_line(d), *f[DOVECOT_FIELDS_MAX];
		if (line == NULL)
			return defer(c, read_error);
		int n = split(line, f);
		if (n < 2)
			return defer(c, "authentication socket protocol error");
		if (strcmp(f[1], "1") != 0)
			return defer(c, "connection id mismatch");
		if (strcmp(f[0], "CONT") == 0) {
			if (n < 3 || rounds > 50)
				return defer(c, "authentication socket protocol error");
			xbuf resp;
			xbuf_init(&resp, c->a);
			rc = c->io->challenge(c->io->ctx, sv_cstr(f[2]), &resp);
			if (rc != AUTH_OK)
				return rc;
			sv r = xbuf_sv(&resp);
			if (sv_eq_cstr(r, "*"))
				return AUTH_CANCELLED;
			if (memchr(r.p, '\t', r.len) || memchr(r.p, '\n', r.len))
				return AUTH_FAIL;
			xbuf cont;
			xbuf_init(&cont, c->a);
			xbuf_printf(&cont, "CONT\t1\t" SV_FMT "\n", SV_ARG(r));
			if (!write_all(d, cont.p, cont.len))
				return defer(c, "authentication socket write error");
		} else if (strcmp(f[0], "OK") == 0) {
			set_user(c, f, n);
			if (c->nvars == 0)
				return defer(c, "authentication socket protocol error, username missing");
			return auth_check_condition(c, auth_generic_option(di, "server_condition"), AUTH_OK);
		} else if (strcmp(f[0], "FAIL") == 0) {
			set_user(c, f, n);
			return AUTH_FAIL;
		} else {
			return defer(c, "authentication socket protocol error");
		}
	}
}

static auth_rc dovecot_server(const driver_instance *di, auth_server_ctx *c, bool has_initial, sv initial)
{
	const struct dovecot_auth_options *ob = di->priv;
	if (!has_initial)
		initial = SV_LIT("");
	else if (initial.len == 0)
		initial = SV_LIT("=");  /* an empty response goes to Dovecot as Exim sends it: "resp==" */
	if (memchr(initial.p, '\t', initial.len) || memchr(initial.p, '\n', initial.len))
		return AUTH_FAIL;
	static dconn d;  /* 8 KB line buffer: static rather than on the stack; one AUTH at a time */
	memset(&d, 0, offsetof(dconn, buf));
	d.fd = ob->server_socket[0] == '/' ? connect_unix(ob->server_socket, c) : connect_inet(ob->server_socket, c);
	if (d.fd < 0)
		return AUTH_DEFER;
	void *tls = NULL;
	if (ob->server_tls && !dovecot_tls_start(di, c, d.fd, &d.tls, &tls)) {
		close(d.fd);
		return AUTH_DEFER;
	}
	auth_rc rc = converse(&d, di, c, initial);
	dovecot_tls_end(tls);
	close(d.fd);
	return rc;
}

static bool dovecot_usable(const driver_instance *d)
{
	const struct dovecot_auth_options *ob = d->priv;
	return ob && ob->server_socket != NULL;
}

const auth_ops dovecot_auth_ops = { .server = dovecot_server, .server_usable = dovecot_usable };
