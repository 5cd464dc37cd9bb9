/* The daemon's handling of one accepted connection: the limits Exim checks before forking
 * (smtp_accept_max, smtp_accept_max_per_host, smtp_load_reserve without reserve hosts), the
 * fork, and in the child the checks Exim makes there (smtp_accept_reserve and smtp_load_reserve
 * against smtp_reserve_hosts), the privilege drop and the session. Replies and log lines are
 * Exim 4.96's (recorded from Debian's exim4-daemon-heavy).
 */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/acl.h"
#include "core/deliver.h"
#include "core/dns.h"
#include "core/priv.h"
#include "core/queue.h"
#include "core/spool_worker.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "lib/logsel.h"
#include "prog/daemon_internal.h"
#include "prog/daemon_notify.h"
#include "search/match.h"
#include "search/search.h"
#include "smtp/session.h"
#include "tls/tls.h"

/* Everything the checks need to know about one connection. */
typedef struct conn_info {
	int fd;
	ip_addr peer, local;
	int peer_port, local_port;
	char peer_text[64], local_text[64];
	char who[80];  /* "[addr]" or "[addr]:port" (log_selector incoming_port), as Exim logs */
} conn_info;

bool daemon_children_remove(daemon_children *c, pid_t pid)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].pid == pid) {
			c->v[i] = c->v[--c->n];
			return true;
		}
	return false;
}

static void children_add(daemon_children *c, pid_t pid, const ip_addr *a)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		daemon_child *nv = realloc(c->v, c->cap * sizeof *nv);
		if (!nv)
			abort();
		c->v = nv;
	}
	c->v[c->n++] = (daemon_child){ .pid = pid, .addr = *a };
}

int daemon_load_average(void)
{
	double d;
	if (getloadavg(&d, 1) != 1)
		return -1;
	return (int)(d * 1000.0);
}

static void format_addr(const ip_addr *a, char *out, size_t n)
{
	xbuf b;
	xbuf_init(&b, NULL);
	ip_format(a, &b);
	snprintf(out, n, "%s", xbuf_cstr(&b));
	xbuf_free(&b);
}

static bool fill_conn(int fd, conn_info *ci)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	ci->fd = fd;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	listen_sockaddr_ip(&ss, &ci->peer, &ci->peer_port);
	len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	listen_sockaddr_ip(&ss, &ci->local, &ci->local_port);
	format_addr(&ci->peer, ci->peer_text, sizeof ci->peer_text);
	format_addr(&ci->local, ci->local_text, sizeof ci->local_text);
	const log_config *lc = log_current_config();
	if (lc && logsel_has(&lc->selector, LS_INCOMING_PORT))
		snprintf(ci->who, sizeof ci->who, "[%s]:%d", ci->peer_text, ci->peer_port);
	else
		snprintf(ci->who, sizeof ci->who, "[%s]", ci->peer_text);
	return true;
}

static bool logging(logsel_id id)
{
	const log_config *lc = log_current_config();
	return lc && logsel_has(&lc->selector, id);
}

/* A refusal reply: best effort, the socket is closed right after. */
static void reply(int fd, const char *text)
{
	ssize_t r = send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)r;
}

/* The variables a daemon-level expansion can see: the connection's endpoints. */
static bool conn_vars(void *ctx, sv name, xbuf *out)
{
	const conn_info *ci = ctx;
	if (sv_eq_cstr(name, "sender_host_address"))
		xbuf_putsv(out, sv_tainted(sv_cstr(ci->peer_text)));
	else if (sv_eq_cstr(name, "sender_host_port"))
		xbuf_printf(out, "%d", ci->peer_port);
	else if (sv_eq_cstr(name, "received_ip_address") || sv_eq_cstr(name, "interface_address"))
		xbuf_puts(out, ci->local_text);
	else if (sv_eq_cstr(name, "received_port") || sv_eq_cstr(name, "interface_port"))
		xbuf_printf(out, "%d", ci->local_port);
	else
		return false;
	return true;
}

/* Expand a main option for this connection. XP_* result. */
static int expand_for_conn(const conn_info *ci, const char *src, xbuf *out, xbuf *err)
{
	xp_env env;
	xp_env_init(&env, pool_scratch);
	xp_provider p = { conn_vars, (void *)ci, NULL };
	xp_env_push_provider(&env, &p);
	int rc = xp_expand(&env, sv_cstr(src), out, err);
	xp_env_release(&env);
	return rc;
}

/* smtp_accept_max_per_host for this host; 0 = no limit. Expansion problems are logged (main
 * and panic) and mean no limit, as in Exim. */
static long max_for_host(const conn_info *ci)
{
	if (!conf_main.smtp_accept_max_per_host)
		return 0;
	arena_mark m = arena_getmark(pool_scratch);
	xbuf out, err;
	xbuf_init(&out, pool_scratch);
	xbuf_init(&err, pool_scratch);
	long max = 0;
	int rc = expand_for_conn(ci, conf_main.smtp_accept_max_per_host, &out, &err);
	if (rc != XP_OK) {
		log_write(LOG_MAIN | LOG_PANIC, "expansion of smtp_accept_max_per_host failed for %s: %s",
			ci->who, xbuf_cstr(&err));
	} else {
		long long n;
		sv v = sv_trim(xbuf_sv(&out));
		if (v.len && !sv_to_long(v, &n))
			log_write(LOG_MAIN | LOG_PANIC, "expansion of smtp_accept_max_per_host for %s contains non-digit: %s",
				ci->who, xbuf_cstr(&out));
		else if (v.len)
			max = n < 0 ? 0 : n > 1000000000 ? 1000000000 : (long)n;
	}
	arena_reset(pool_scratch, m);
	return max;
}

static size_t count_host(const daemon_children *c, const ip_addr *a)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		if (ip_equal(&c->v[i].addr, a))
			n++;
	return n;
}

/* "[ip]:port I=[ip]:port" for the child's refusal lines (I= under incoming_interface). */
static const char *who_iface(const conn_info *ci)
{
	if (!logging(LS_INCOMING_INTERFACE))
		return ci->who;
	return arena_printf(pool_conn, "%s I=[%s]:%d", ci->who, ci->local_text, ci->local_port);
}

/* The client's name for a host list in the connection's child: looked up once (Exim's rules,
 * src/core/dns_host.c) and handed on to the session, which then does not look again. */
static sv reserve_host_name;
static bool reserve_name_done;
static bool reverse_name(const conn_info *ci, sv *name)
{
	if (!reserve_name_done) {
		reserve_name_done = true;
		sv *aliases;
		size_t n;
		dns_rc rc = dns_host_name_lookup(pool_conn, sv_tainted(sv_cstr(ci->peer_text)), &reserve_host_name,
			&aliases, &n);
		if (rc != DNS_SUCCEED)
			reserve_host_name = SV_NULL;
		/* Exim's lines (observed): the first only when no name at all was found. */
		if (rc == DNS_NOMATCH && logging(LS_HOST_LOOKUP_FAILED))
			log_write(LOG_MAIN, "no host name found for IP address %s", ci->peer_text);
		if (rc != DNS_SUCCEED)
			log_write(LOG_MAIN, "list matching forced to fail: failed to find host name for %s", ci->peer_text);
	}
	*name = reserve_host_name;
	return name->len > 0;
}

/* Is the peer in smtp_reserve_hosts? A list with items that need the client's name (a name,
 * "*.suffix", a regex) makes the child look the name up first, as Exim does. */
static bool in_reserve_hosts(const conn_info *ci)
{
	if (!conf_main.smtp_reserve_hosts)
		return false;
	xbuf list, err;
	xbuf_init(&list, pool_scratch);
	xbuf_init(&err, pool_scratch);
	if (expand_for_conn(ci, conf_main.smtp_reserve_hosts, &list, &err) != XP_OK) {
		log_write(LOG_MAIN | LOG_PANIC, "failed to expand smtp_reserve_hosts: %s", xbuf_cstr(&err));
		return false;
	}
	match_ctx mc = { .primary_hostname = conf_main.primary_hostname };
	sv name = SV_NULL;
	if (acl_host_list_needs_name(xbuf_sv(&list)) && reverse_name(ci, &name))
		mc.host_name = sv_dup(pool_scratch, name);
	int rc = match_isinlist(sv_tainted(sv_cstr(ci->peer_text)), xbuf_sv(&list), 0, MATCH_HOST, false, &mc, &err);
	if (rc == SEARCH_DEFER)
		log_write(LOG_MAIN, "DNS or lookup defer while checking smtp_reserve_hosts for %s: %s",
			ci->who, xbuf_cstr(&err));
	return rc == SEARCH_OK;
}

/* The name used in the child's refusals: smtp_active_hostname, else primary_hostname. */
static const char *active_hostname(const conn_info *ci)
{
	if (conf_main.smtp_active_hostname) {
		xbuf out, err;
		xbuf_init(&out, pool_scratch);
		xbuf_init(&err, pool_scratch);
		if (expand_for_conn(ci, conf_main.smtp_active_hostname, &out, &err) == XP_OK && out.len)
			return xbuf_cstr(&out);
	}
	return conf_main.primary_hostname ? conf_main.primary_hostname : "";
}

void daemon_child_setup(const listen_set *listeners)
{
	for (size_t i = 0; i < listeners->n; i++)
		if (listeners->v[i].fd >= 0)
			close(listeners->v[i].fd);
	close(daemon_wake_pipe[0]);
	close(daemon_wake_pipe[1]);
	daemon_pool_close_in_child();
	daemon_notify_close();
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* This process may receive many messages: one schedule index environment for all. */
	queue_schedule_keep_open();
	/* The spool helper thread (core/spool_worker.h) would otherwise get a malloc arena of its
	 * own at its first allocation (a 128 MB reservation trimmed to 64, its first pages
	 * faulted in, all unmapped again at exit) for the few small blocks it ever needs. */
	mallopt(M_ARENA_MAX, 1);
}

/* Deliveries need root to become local users; the session will not have it. Without the
 * daemon's shared launcher, a helper of its own is started while still root (close_fd: a
 * descriptor it must not keep). Then the privilege drop; false (logged) if it failed. */
static bool launcher_and_drop(int close_fd, bool want_launcher, const char *who)
{
	bool shared = deliver_launcher_in_session(); /* the daemon's launcher serves this session */
	if (!shared && want_launcher)
		deliver_launcher_start(close_fd);
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = priv_drop_to_exim(&err) || !priv_is_root();
	if (!ok)
		log_write(LOG_MAIN | LOG_PANIC, "daemon: session for %s not started: %s", who, xbuf_cstr(&err));
	xbuf_free(&err);
	return ok;
}

/* The end of a session process: spare spool files it made and never used go with it. */
_Noreturn void daemon_session_exit(int rc)
{
	spool_spares_release();
	_exit(rc);
}

/* Has the daemon handed this idle process a connection already (its channel is readable)? */
static bool connection_waiting(void *ctx)
{
	struct pollfd p = { .fd = *(int *)ctx, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

void daemon_worker_prepare(int chan)
{
	/* Whether this connection will be over queue_only_load or smtp_accept_queue is not known
	 * yet: a helper of its own (only without the shared one) is started all the same. */
	if (!launcher_and_drop(chan, true, "a pre-forked process"))
		_exit(1);
	/* The schedule index, opened now rather than at the first message's commit. */
	spool_config sc;
	xbuf err;
	xbuf_init(&err, NULL);
	if (spool_config_from_main(&sc, &err)) {
		queue_schedule_prepare(&sc);
		/* The first message's spare files (core/spool_worker.h), made by this process
		 * itself while it waits for its connection: the helper thread is started only when
		 * a message needs it (its -D's fdatasync, the next message's spares), so a
		 * connection that sends none (a probe, a client refused at connect or RCPT) does not
		 * pay for the thread's start and end. A connection handed over meanwhile is not
		 * kept waiting for the rest: its MAIL asks the thread for them. */
		spool_spares_enable(&sc);
		spool_spares_make_now(connection_waiting, &chan);
	}
	xbuf_free(&err);
	smtp_session_prepare();
}

/* The checks Exim makes after the fork (smtp_accept_reserve, smtp_load_reserve against
 * smtp_reserve_hosts), then the session. Returns the process's exit code; the connection's
 * descriptor is closed. */
static int serve_conn(const conn_info *ci, int others, bool queue_only_load, bool accept_queue)
{
	bool reserved = false;
	char buf[600];
	if (conf_main.smtp_accept_max > 0 && conf_main.smtp_accept_reserve > 0
		&& others >= conf_main.smtp_accept_max - conf_main.smtp_accept_reserve) {
		if (!in_reserve_hosts(ci)) {
			snprintf(buf, sizeof buf, "421 %s: Too many concurrent SMTP connections; please try again later\r\n",
				active_hostname(ci));
			reply(ci->fd, buf);
			if (logging(LS_CONNECTION_REJECT))
				log_write(LOG_MAIN, "temporarily refused connection from %s: not in reserve list: connected=%d max=%d reserve=%d",
					who_iface(ci), others, conf_main.smtp_accept_max, conf_main.smtp_accept_reserve);
			close(ci->fd);
			return 0;
		}
		reserved = true;
	}
	if (conf_main.smtp_load_reserve >= 0 && conf_main.smtp_reserve_hosts) {
		int load = daemon_load_average();
		if (load > conf_main.smtp_load_reserve && !in_reserve_hosts(ci)) {
			snprintf(buf, sizeof buf, "421 %s: Too much load; please try again later\r\n", active_hostname(ci));
			reply(ci->fd, buf);
			if (logging(LS_CONNECTION_REJECT))
				log_write(LOG_MAIN, "temporarily refused connection from %s: not in reserve list and load average = %.2f",
					who_iface(ci), load / 1000.0);
			close(ci->fd);
			return 0;
		}
	}
	if (priv_is_root() && !launcher_and_drop(ci->fd, !queue_only_load && !accept_queue, ci->who)) {
		close(ci->fd);
		return 1;
	}

	smtp_conn_params p;
	memset(&p, 0, sizeof p);
	p.mode = SMTP_MODE_DAEMON;
	p.in_fd = p.out_fd = ci->fd;
	p.host_address = sv_tainted(sv_cstr(ci->peer_text));
	p.host_port = ci->peer_port;
	p.interface_address = sv_cstr(ci->local_text);
	p.interface_port = ci->local_port;
	p.tls_on_connect = tls_on_connect_port(ci->local_port);
	p.queue_only_load = queue_only_load;
	p.accept_queue = accept_queue;
	p.reserved_slot = reserved;
	p.host_name = reserve_host_name;   /* looked up for smtp_reserve_hosts, or empty */
	/* Spare spool files made in the background while the client sends RCPT and DATA
	 * (core/spool_worker.h); the ones left unused are removed when the session ends. */
	spool_config sc;
	xbuf err;
	xbuf_init(&err, NULL);
	if (spool_config_from_main(&sc, &err))
		spool_spares_enable(&sc);
	xbuf_free(&err);
	int rc = smtp_session_run(&p);
	close(ci->fd);
	return rc;
}

int daemon_worker_serve(int fd, int others, bool queue_only_load, bool accept_queue)
{
	conn_info ci;
	memset(&ci, 0, sizeof ci);
	if (!fill_conn(fd, &ci)) {
		close(fd); /* the peer went away meanwhile */
		return 0;
	}
	/* What the checks and the session leave in the scratch arena goes with the connection
	 * (this process may serve another). */
	arena_mark m = arena_getmark(pool_scratch);
	int rc = serve_conn(&ci, others, queue_only_load, accept_queue);
	arena_reset(pool_scratch, m);
	return rc;
}

void daemon_accept_reset(void)
{
	reserve_host_name = SV_NULL; /* it lived in pool_conn */
	reserve_name_done = false;
}

/* One accepted connection in the daemon: the pre-fork limits, then the fork. */
static void handle_conn(int fd, daemon_children *c, const listen_set *listeners)
{
	conn_info ci;
	memset(&ci, 0, sizeof ci);
	if (!fill_conn(fd, &ci)) {
		close(fd);  /* the peer went away between accept and here */
		return;
	}
	int max = conf_main.smtp_accept_max;
	if (max > 0 && c->n >= (size_t)max) {
		reply(fd, "421 Too many concurrent SMTP connections; please try again later.\r\n");
		if (logging(LS_CONNECTION_REJECT))
			log_write(LOG_MAIN, "Connection from %s refused: too many connections", ci.who);
		close(fd);
		return;
	}
	long per_host = max_for_host(&ci);
	if (per_host > 0 && count_host(c, &ci.peer) >= (size_t)per_host) {
		reply(fd, "421 Too many concurrent SMTP connections from this IP address; please try again later.\r\n");
		if (logging(LS_CONNECTION_REJECT))
			log_write(LOG_MAIN, "Connection from %s refused: too many connections from that IP address", ci.who);
		close(fd);
		return;
	}
	/* smtp_load_reserve with no reserve hosts: nobody may connect while the load is high. */
	if (conf_main.smtp_load_reserve >= 0 && !conf_main.smtp_reserve_hosts) {
		int load = daemon_load_average();
		if (load > conf_main.smtp_load_reserve) {
			reply(fd, "421 Too much load; please try again later.\r\n");
			if (logging(LS_CONNECTION_REJECT))
				log_write(LOG_MAIN, "Connection from %s refused: load average = %.2f", ci.who, load / 1000.0);
			close(fd);
			return;
		}
	}
	bool qol = conf_main.queue_only_load >= 0 && daemon_load_average() >= conf_main.queue_only_load;
	bool aq = conf_main.smtp_accept_queue > 0 && c->n + 1 > (size_t)conf_main.smtp_accept_queue;

	if (logging(LS_SMTP_CONNECTION)) {
		char iface[100] = "";
		if (logging(LS_INCOMING_INTERFACE))
			snprintf(iface, sizeof iface, " I=[%s]:%d", ci.local_text, ci.local_port);
		log_write(LOG_MAIN, "SMTP connection from %s%s (TCP/IP connection count = %zu)", ci.who, iface, c->n + 1);
	}

	/* A pre-forked process when one is ready (daemon_pool.c), else a fork as Exim does. */
	pid_t pid = daemon_pool_handout(fd, (int)c->n, qol, aq);
	if (pid > 0) {
		children_add(c, pid, &ci.peer);
		close(fd);
		return;
	}
	/* The child inherits the session-ticket keys and the server's TLS context: made (or
	 * re-read) here, they are shared by every session of this daemon. */
	tls_daemon_before_fork(time(NULL));
	pid = fork();
	if (pid == 0) {
		daemon_child_setup(listeners);
		daemon_session_exit(serve_conn(&ci, (int)c->n, qol, aq));
	}
	if (pid < 0) {
		int e = errno;
		reply(fd, "421 Unexpected failure; please try again later.\r\n");
		log_write(LOG_MAIN | LOG_PANIC, "daemon: accept process fork failed: %s", strerror(e));
	} else {
		children_add(c, pid, &ci.peer);
	}
	close(fd);
}

void daemon_accept_ready(int lfd, daemon_children *c, const listen_set *listeners)
{
	/* A bounded batch so that one busy listener cannot starve the others or signal handling. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_write(LOG_MAIN, "daemon: accept failed: %s", strerror(errno));
				/* Out of descriptors or memory: give running sessions a moment to finish
				 * instead of spinning on a listener that stays readable. */
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
					usleep(100 * 1000);
			}
			return;
		}
		if (conf_main.smtp_accept_keepalive) {
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
		}
		handle_conn(fd, c, listeners);
	}
}
