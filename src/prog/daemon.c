/* -bd / -bdf: the listening daemon. Binds the listeners (as root), detaches unless told to stay
 * in the foreground, writes the pid file, logs Exim's "daemon started" line, then loops: accept
 * connections (daemon_accept.c: limits, one child per connection), reap children, and act on
 * SIGHUP (re-exec with the same arguments, keeping the listening sockets open across the exec
 * so no connection is refused meanwhile) and SIGTERM (stop accepting, remove the pid file, exit;
 * running sessions finish on their own).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/spool_integrity.h"
#include "conf/conf_dump.h"
#include "conf/main_options.h"
#include "core/spool_tidy.h"
#include "core/deliver.h"
#include "core/listen.h"
#include "core/priv.h"
#include "core/spool_worker.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/caller_id.h"
#include "lib/initial_cwd.h"
#include "lib/log.h"
#include "lib/proc_argv.h"
#include "lib/timefmt.h"
#include "prog/cmdline.h"
#include "prog/daemon_internal.h"
#include "prog/daemon_notify.h"
#include "prog/pid_file.h"
#include "mail/punycode.h"
#include "prog/startup_cwd.h"
#include "search/search.h"
#include "smtp/session.h"
#include "prog/daemon_qrun.h"
#include "prog/detach.h"
#include "prog/environment_note.h"
#include "prog/log_setup.h"
#if SUPPORT_TLS
#include "tls/tls.h"
#include "tls/tls_ocsp_refresh.h"
#endif

/* Listening sockets handed from a daemon to its re-executed self (SIGHUP): "fd,fd,...". */
#define INHERIT_ENV DAEMON_LISTEN_FDS_ENV

int daemon_wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_chld, got_hup, got_term;

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGCHLD) got_chld = 1;
	else if (sig == SIGHUP) got_hup = 1;
	else got_term = 1;
	char b = (char)sig;
	ssize_t r = write(daemon_wake_pipe[1], &b, 1);
	(void)r;
	errno = saved;
}

static bool expand_main(const char *value, const char **out, xbuf *err)
{
	if (!value) {
		*out = NULL;
		return true;
	}
	xp_env env;
	xp_env_init(&env, pool_scratch);
	xbuf res;
	xbuf_init(&res, pool_perm);
	int rc = xp_expand(&env, sv_cstr(value), &res, err);
	xp_env_release(&env);
	*out = xbuf_cstr(&res);
	return rc == XP_OK;
}

/* Inherited listening sockets (after a SIGHUP re-exec), matched to endpoints by their bound
 * address. Unused ones are closed by the caller. */
typedef struct inherited {
	int fd[64];
	ip_addr addr[64];
	int port[64];
	size_t n;
} inherited;

static void read_inherited(inherited *in)
{
	in->n = 0;
	const char *v = getenv(INHERIT_ENV);
	if (!v)
		return;
	while (*v && in->n < 64) {
		char *end;
		long fd = strtol(v, &end, 10);
		if (end == v)
			break;
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		if (fd >= 0 && fd < 65536 && getsockname((int)fd, (struct sockaddr *)&ss, &len) == 0) {
			ip_addr a;
			int port;
			listen_sockaddr_ip(&ss, &a, &port);
			in->fd[in->n] = (int)fd;
			in->addr[in->n] = a;
			in->port[in->n] = port;
			in->n++;
		}
		v = *end == ',' ? end + 1 : end;
	}
	unsetenv(INHERIT_ENV);
}

static bool take_inherited(inherited *in, listen_endpoint *e)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->fd[i] >= 0 && in->port[i] == e->port && ip_equal(&in->addr[i], &e->addr)) {
			e->fd = in->fd[i];
			in->fd[i] = -1;
			fcntl(e->fd, F_SETFD, FD_CLOEXEC);
			fcntl(e->fd, F_SETFL, fcntl(e->fd, F_GETFL) | O_NONBLOCK);
			return true;
		}
	return false;
}

/* Bind every endpoint, retrying an address in use as Exim does (daemon_startup_retries times,
 * daemon_startup_sleep apart). A missing IPv6 stack makes the IPv6 wildcard silently absent. */
static bool bind_all(listen_set *ls, inherited *in)
{
	int backlog = conf_main.smtp_connect_backlog;
	for (size_t i = 0; i < ls->n; i++) {
		listen_endpoint *e = &ls->v[i];
		if (take_inherited(in, e))
			continue;
		for (int tries_left = conf_main.daemon_startup_retries;; tries_left--) {
			xbuf err;
			xbuf_init(&err, NULL);
			if (listen_bind(e, backlog, &err)) {
				xbuf_free(&err);
				break;
			}
			int saved = errno;
			if (e->wildcard && e->addr.family == 6 && (saved == EAFNOSUPPORT || saved == EADDRNOTAVAIL)) {
				xbuf_free(&err);
				break;
			}
			/* The IPv4 wildcard in use (a specific IPv4 address of the port listens) while the
			 * IPv6 wildcard is bound: Exim carries on without it, no retry, no error line. */
			listen_endpoint *v6 = saved == EADDRINUSE ? listen_ipv6_covers(ls, e) : NULL;
			if (v6) {
				v6->ipv4_too = true;
				xbuf_free(&err);
				break;
			}
			if (saved != EADDRINUSE || tries_left <= 0) {
				log_write(LOG_MAIN | LOG_PANIC, "%s: daemon abandoned", xbuf_cstr(&err));
				xbuf_free(&err);
				return false;
			}
			int sleep_s = conf_main.daemon_startup_sleep;
			xbuf when;
			xbuf_init(&when, NULL);
			interval_format(sleep_s, &when);
			log_write(LOG_MAIN, "%s: waiting %s before trying again (%d more %s)", xbuf_cstr(&err),
				xbuf_cstr(&when), tries_left, tries_left == 1 ? "try" : "tries");
			xbuf_free(&when);
			xbuf_free(&err);
			sleep((unsigned)(sleep_s > 0 ? sleep_s : 0));
			if (got_term)
				return false; /* SIGTERM while waiting for the address: stop, as asked */
		}
	}
	for (size_t i = 0; i < in->n; i++)
		if (in->fd[i] >= 0)
			close(in->fd[i]);
	return true;
}

/* Make sure the spool directory exists (owned by the exim user when we create it). */
static void ensure_spool(const char *spool)
{
	if (!spool || !*spool)
		return;
	char path[4096];
	snprintf(path, sizeof path, "%s", spool);
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0755);
			*p = '/';
		}
	if (mkdir(path, 0750) == 0)
		priv_give_to_exim(path);
}

static void reexec(listen_set *ls)
{
	log_write(LOG_MAIN, "pid %d: SIGHUP received: re-exec daemon", (int)getpid());
	char **argv = proc_self_argv();
	if (!argv) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: cannot read own command line for re-exec");
		return;
	}
	char fds[1024];
	size_t off = 0;
	fds[0] = 0;
	for (size_t i = 0; i < ls->n && off < sizeof fds - 16; i++)
		if (ls->v[i].fd >= 0) {
			fcntl(ls->v[i].fd, F_SETFD, 0);
			off += (size_t)snprintf(fds + off, sizeof fds - off, "%s%d", off ? "," : "", ls->v[i].fd);
		}
	setenv(INHERIT_ENV, fds, 1);
	sigset_t none;
	sigemptyset(&none);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_reopen();
	/* From where it was started, so a relative program or -C path means what it meant then;
	 * the new daemon goes to the spool directory itself. */
	if (!initial_cwd_return())
		log_write(LOG_MAIN | LOG_PANIC, "daemon: cannot change back to %s for re-exec: %s", initial_cwd(), strerror(errno));
	execvp(argv[0], argv);
	/* Still here: keep serving with the old configuration. */
	int e = errno;
	startup_chdir();
	log_write(LOG_MAIN | LOG_PANIC, "daemon: re-exec of %s failed: %s", argv[0], strerror(e));
	unsetenv(INHERIT_ENV);
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].fd >= 0)
			fcntl(ls->v[i].fd, F_SETFD, FD_CLOEXEC);
	free(argv);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The delivery launcher shared by all sessions (deliver.h); restarted when it dies, unless it
 * keeps dying at once (then messages wait for queue runners, as without a launcher). */
static struct {
	pid_t pid;
	time_t started;
	int quick_deaths;
} launcher = { .pid = -1 };

static void launcher_child_setup(void *ctx)
{
	listen_close_all(ctx);
	daemon_pool_close_in_child();
	daemon_notify_close();
	close(daemon_wake_pipe[0]);
	close(daemon_wake_pipe[1]);
}

static void launcher_start(listen_set *ls)
{
	launcher.pid = deliver_launcher_start_shared(launcher_child_setup, ls);
	launcher.started = time(NULL);
}

static bool launcher_reaped(pid_t pid, int status, listen_set *ls)
{
	if (pid != launcher.pid)
		return false;
	launcher.pid = -1;
	launcher.quick_deaths = time(NULL) - launcher.started < 2 ? launcher.quick_deaths + 1 : 0;
	if (launcher.quick_deaths >= 10) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: delivery launcher keeps dying (status %d); "
			"messages wait for queue runners", status);
		return true;
	}
	launcher_start(ls);
	return true;
}

/* A session that died (killed, or failed) may have left spare spool files (core/spool_worker.h);
 * one that ended normally removed its own. */
static void remove_spares_of(pid_t pid, int status)
{
	static spool_config sc;
	static int ready; /* 1: sc is usable, -1: the spool directory cannot be worked out */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (!ready) {
		xbuf err;
		xbuf_init(&err, NULL);
		ready = spool_config_from_main(&sc, &err) ? 1 : -1;
		xbuf_free(&err);
	}
	if (ready > 0)
		spool_spares_remove_for(&sc, pid);
}

static void reap(daemon_children *c, qrun_sched *q, listen_set *ls)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		remove_spares_of(pid, status);
		if (launcher_reaped(pid, status, ls) || daemon_pool_reaped(pid))
			continue;
#if SUPPORT_TLS
		if (tls_ocsp_refresh_reaped(pid, status, time(NULL)))
			continue;
#endif
		if (!qrun_sched_reaped(q, pid))
			daemon_children_remove(c, pid);
	}
}

/* In a queue-runner child: the listeners belong to the daemon. */
static void close_listeners(void *ctx)
{
	listen_close_all(ctx);
	daemon_pool_close_in_child();
	daemon_notify_close();
}

static int serve(listen_set *ls, const char *pid_file, qrun_sched *q, int notify_fd)
{
	q->child_setup = close_listeners;
	q->child_ctx = ls;
	daemon_children children = { 0 };
	/* The self-pipe, the notifier and the listeners (pre-forked processes' channels are looked
	 * at without waiting: daemon_pool_collect). */
	struct pollfd *pfd = calloc(ls->n + 2, sizeof *pfd);
	if (!pfd)
		abort();
	/* One delivery launcher for every session, instead of a fork per connection. */
	launcher_start(ls);
	/* Session processes prepared in advance (daemon_pool.c). */
	daemon_pool_enable(ls);
	daemon_pool_fill(0);
	size_t np = 0;
	pfd[np++] = (struct pollfd){ .fd = daemon_wake_pipe[0], .events = POLLIN };
	/* The notifier socket (daemon_notify.c) second; a negative fd is skipped by poll. */
	pfd[np++] = (struct pollfd){ .fd = notify_fd, .events = POLLIN };
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].fd >= 0)
			pfd[np++] = (struct pollfd){ .fd = ls->v[i].fd, .events = POLLIN };
	size_t nlisten = np;
	for (;;) {
		qrun_sched_tick(q, time(NULL));
		int timeout = qrun_sched_timeout_ms(q, time(NULL));
#if SUPPORT_TLS
		/* OCSP staples are refreshed by a child, so this never waits on a responder. */
		tls_ocsp_refresh_tick(time(NULL), close_listeners, ls);
		int ocsp_timeout = tls_ocsp_refresh_timeout_ms(time(NULL));
		if (ocsp_timeout >= 0 && (timeout < 0 || ocsp_timeout < timeout))
			timeout = ocsp_timeout;
#endif
		/* A pool short of processes is refilled one fork per turn, each after a look at the
		 * listeners, so a burst of connections is not kept waiting behind replacements. */
		if (daemon_pool_short())
			timeout = 0;
		int pool_wait = daemon_pool_backoff_ms();
		if (pool_wait >= 0 && (timeout < 0 || pool_wait < timeout))
			timeout = pool_wait;
		int r = poll(pfd, nlisten, timeout);
		if (r < 0 && errno != EINTR) {
			log_write(LOG_MAIN | LOG_PANIC, "daemon: poll failed: %s", strerror(errno));
			sleep(1);
		}
		if (pfd[0].revents & POLLIN) {
			char drain[64];
			while (read(daemon_wake_pipe[0], drain, sizeof drain) > 0)
				;
		}
		if (got_chld) {
			got_chld = 0;
			reap(&children, q, ls);
		}
		/* Sessions that ended in processes that serve on: uncounted before any accept, the
		 * refill and the shutdown's wait for idle processes. */
		daemon_pool_collect(&children);
		if (got_term) {
			listen_close_all(ls);
			daemon_notify_close();
			daemon_pool_discard_wait(2000);
			pid_file_remove(pid_file);
			free(pfd);
			free(children.v);
			return 0;
		}
		if (got_hup) {
			got_hup = 0;
			daemon_pool_discard(); /* the new configuration gets new processes */
			reexec(ls);
		}
		if (r <= 0) {
			/* The timeout was 0 because the pool is short: this is the turn that refills
			 * it. Without this the loop spun on poll until the next connection. */
			daemon_pool_fill(1);
			continue;
		}
		if (pfd[1].revents & POLLIN)
			daemon_notify_ready(q);
		for (size_t i = 2; i < nlisten; i++)
			if (pfd[i].revents & POLLIN)
				daemon_accept_ready(pfd[i].fd, &children, ls);
		daemon_pool_fill(1); /* a replacement, after the connections waiting were served */
	}
}

int bd_main(const cmdline *cl)
{
	if (!priv_caller_is_admin()) {
		fprintf(stderr, "%s: permission denied\n", cl->called_as);
		return 1;
	}
	bool reexecuted = getenv(INHERIT_ENV) != NULL;
	inherited in;
	read_inherited(&in);
	bool foreground = cl->daemon_foreground || cl->debug || cl->verbose || reexecuted;

	xbuf err;
	xbuf_init(&err, NULL);
	const char *spool = NULL;
	if (!log_setup_from_config(LOG_ECHO_PANIC, &spool, &err)) {
		fprintf(stderr, "%s: %s\n", cl->called_as, xbuf_cstr(&err));
		return 1;
	}
	ensure_spool(spool);
	/* Exim's daemon works from the spool directory: so do its sessions, ${run} and lookups with
	 * relative names. The SIGHUP re-exec changes back first (reexec). */
	startup_chdir();
	/* -odq / -odqs given to the daemon apply to every message it accepts (-odi acts as -odb). */
	deliver_set_after_reception(cl->deliver == DELIVER_QUEUE ? DELIVER_AFTER_QUEUE
		: cl->deliver == DELIVER_QUEUE_SMTP ? DELIVER_AFTER_QUEUE_SMTP : DELIVER_AFTER_BACKGROUND,
		cl->deliver != DELIVER_DEFAULT);
	if (conf_main.smtp_accept_max == 0 && (conf_main.smtp_accept_queue > 0 || conf_main.smtp_accept_max_per_host)) {
		log_write(LOG_MAIN | LOG_PANIC, "Exim configuration error:\n  smtp_accept_max must be set if "
			"smtp_accept_queue or smtp_accept_max_per_host is set");
		return 1;
	}

	const char *ifaces, *ports;
	if (!expand_main(conf_main.local_interfaces, &ifaces, &err)
		|| !expand_main(conf_main.daemon_smtp_ports, &ports, &err)) {
		log_write(LOG_MAIN | LOG_PANIC, "failed to expand local_interfaces or daemon_smtp_ports: %s", xbuf_cstr(&err));
		return 1;
	}
	listen_set ls;
	if (!listen_parse(ifaces, ports, cl->override_local_interfaces, conf_main.disable_ipv6, &ls, &err)) {
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
		return 1;
	}
	/* The pid file: -oP, else pid_file_path unless -oX made this a non-standard daemon. */
	const char *pid_file = cl->pid_file;
	if (!pid_file && !cl->override_local_interfaces && conf_main.pid_file_path) {
		const char *def = conf_main.pid_file_path;
		/* The computed default was made from the unexpanded spool_directory. */
		if (spool && conf_main.spool_directory && strncmp(def, conf_main.spool_directory, strlen(conf_main.spool_directory)) == 0)
			def = arena_printf(pool_perm, "%s%s", spool, def + strlen(conf_main.spool_directory));
		if (!expand_main(def, &pid_file, &err)) {
			log_write(LOG_MAIN | LOG_PANIC, "failed to expand pid_file_path: %s", xbuf_cstr(&err));
			return 1;
		}
	}
	if (pipe2(daemon_wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: pipe failed: %s", strerror(errno));
		return 1;
	}
	install_signals();
	if (!bind_all(&ls, &in))
		return 1;
	bool any = false;
	for (size_t i = 0; i < ls.n; i++)
		any |= ls.v[i].fd >= 0;
	if (!any) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: no listening sockets could be set up");
		return 1;
	}
	if (!foreground && !detach_from_terminal()) {
		log_write(LOG_MAIN | LOG_PANIC | LOG_DIE, "daemon: fork to detach failed: %s", strerror(errno));
		_exit(1);
	}
	pid_file_require_absolute(pid_file);
	if (pid_file && !pid_file_write(pid_file))
		log_write(LOG_MAIN | LOG_PANIC, "failed to write pid file %s: %s", pid_file, strerror(errno));

	xbuf desc, qdesc;
	xbuf_init(&desc, NULL);
	xbuf_init(&qdesc, NULL);
	/* tls_on_connect_ports listeners are named apart: "... and for SMTPS on ...". */
	listen_describe_services(&ls, tls_on_connect_port, &desc);
	if (cl->queue_interval)
		qrun_describe(cl, true, &qdesc);
	else
		xbuf_puts(&qdesc, "no queue runs");
	/* Files that killed processes left while no daemon was watching (core/spool_tidy.h), in
	 * the default queue and every named one; the sweep runs in a detached child, started
	 * before the line that says the daemon is up. */
	{
		spool_config tsc;
		xbuf terr;
		xbuf_init(&terr, NULL);
		if (spool_config_from_main(&tsc, &terr))
			spool_tidy_start_all(&tsc);
		xbuf_free(&terr);
	}
	/* As Exim: the server certificate is ready (or the self-signed one made, and its warning
	 * logged) before the daemon says it is up. */
	environment_note_daemon();
	tls_daemon_before_fork(time(NULL));
	/* Libraries a lookup loads at its first use (libpq): loaded here, once, when the
	 * configuration names that lookup, instead of in every session (search.h). */
	search_preload_named(conf_config_text());
	spool_boot_id();   /* read once here, not by every session it forks (core/spool_integrity.h) */
	/* The login name of the uid the sessions will run as (their U= and -H line), looked up
	 * once here instead of reading the password database in every session process. */
	smtp_session_prepare_login(priv_is_root() ? priv_exim_uid() : caller_id_uid());
	if (strstr(conf_config_text(), "utf8_domain_to_alabel"))
		idna_preload();
	log_write(LOG_MAIN, "exim 4.96 daemon started: pid=%d, %s, listening for %s",
		(int)getpid(), xbuf_cstr(&qdesc), xbuf_cstr(&desc));
	xbuf_free(&qdesc);
	xbuf_free(&desc);
	/* Log files the daemon (root) created must stay writable by the sessions (exim user). */
	static const unsigned logs[] = { LOG_MAIN, LOG_REJECT, LOG_PANIC };
	for (size_t i = 0; i < 3; i++) {
		xbuf name;
		xbuf_init(&name, NULL);
		log_file_name(logs[i], &name);
		if (name.len && access(xbuf_cstr(&name), F_OK) == 0) {
			priv_give_to_exim(xbuf_cstr(&name));
			/* The log directory too when it is the spool's own (the default layout), so
			 * sessions can create the reject log; an administrator's directory is left alone. */
			char *slash = strrchr(name.p, '/');
			size_t sl = spool ? strlen(spool) : 0;
			if (slash && sl && strncmp(name.p, spool, sl) == 0 && name.p[sl] == '/') {
				*slash = 0;
				priv_give_to_exim(name.p);
			}
		}
		xbuf_free(&name);
	}
	spool_config sc;
	qrun_sched q;
	if (!spool_config_from_main(&sc, &err) || !qrun_sched_init(&q, cl, &sc, &err)) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: %s", xbuf_cstr(&err));
		return 1;
	}
	return serve(&ls, pid_file, &q, daemon_notify_open(cl));
}
