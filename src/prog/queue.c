/* -q[q][i][f[f]][l][G<name>] [start-id [stop-id]], -R..., -S...: one queue run in this process;
 * with a time (-q30m, without -bd) a queue-runner daemon that starts a run every interval (Exim:
 * "exim 4.96 daemon started: pid=N, -q30m, not listening for SMTP"). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/priv.h"
#include "core/queue.h"
#include "core/spool.h"
#include "lib/log.h"
#include "prog/cmdline.h"
#include "prog/daemon_notify.h"
#include "prog/daemon_qrun.h"
#include "prog/detach.h"
#include "prog/log_setup.h"
#include "prog/pid_file.h"
#include "prog/startup_cwd.h"
#if SUPPORT_TLS
#include "tls/tls_selfsign.h"
#endif

static volatile sig_atomic_t got_term, got_chld;

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_term = 1;
}

/* The queue-runner daemon without listeners. */
static void close_notifier(void *ctx)
{
	(void)ctx;
	daemon_notify_close();
}

static int runner_daemon(const cmdline *cl, qrun_sched *s)
{
	bool foreground = cl->debug || cl->verbose;
	if (!foreground && !detach_from_terminal()) {
		fprintf(stderr, "%s: fork failed: %s\n", cl->called_as, strerror(errno));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NOCLDSTOP; /* no SA_RESTART: poll returns at once on a signal */
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pid_file_require_absolute(cl->pid_file);
	if (cl->pid_file && !pid_file_write(cl->pid_file))
		log_write(LOG_MAIN | LOG_PANIC, "failed to write pid file %s: %s", cl->pid_file, strerror(errno));
	xbuf desc;
	xbuf_init(&desc, NULL);
	qrun_describe(cl, false, &desc);
#if SUPPORT_TLS
	tls_selfsigned_queue_daemon_warning(); /* Exim's, before its start line */
#endif
	log_write(LOG_MAIN, "exim 4.96 daemon started: pid=%d, %s, not listening for SMTP",
		(int)getpid(), xbuf_cstr(&desc));
	xbuf_free(&desc);
	/* The notifier socket (daemon_notify.h): Exim's queue-runner daemon has one too. */
	struct pollfd nfd = { .fd = daemon_notify_open(cl), .events = POLLIN };
	s->child_setup = close_notifier;
	while (!got_term) {
		time_t now = time(NULL);
		qrun_sched_tick(s, now);
		int ms = qrun_sched_timeout_ms(s, time(NULL));
		if (ms > 0 && poll(&nfd, 1, ms) > 0 && (nfd.revents & POLLIN))
			daemon_notify_ready(s);
		if (got_chld || ms < 0) {
			got_chld = 0;
			int status;
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				qrun_sched_reaped(s, pid);
		}
	}
	pid_file_remove(cl->pid_file);
	return 0;
}

int queue_main(const cmdline *cl)
{
	if (conf_main.prod_requires_admin && !priv_caller_is_admin()) {
		fprintf(stderr, "exim: permission denied\n");
		return 1;
	}
	xbuf err;
	xbuf_init(&err, NULL);
	if (!log_setup_from_config(LOG_ECHO_PANIC, NULL, &err)) {
		fprintf(stderr, "%s: %s\n", cl->called_as, xbuf_cstr(&err));
		return 1;
	}
	spool_config sc;
	if (!spool_config_from_main(&sc, &err)) {
		fprintf(stderr, "%s: %s\n", cl->called_as, xbuf_cstr(&err));
		return 1;
	}
	/* Exim's queue runners work from the spool directory; deliveries that run this program again
	 * give it the -C path as resolved from where it was started (lib/initial_cwd.h). */
	startup_chdir();
	qrun_sched s;
	if (!qrun_sched_init(&s, cl, &sc, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	if (cl->queue_interval)
		return runner_daemon(cl, &s);
	for (size_t i = 0; i < cl->nargs && i < 2; i++)
		if (!spool_valid_id(sv_cstr(cl->args[i]))) {
			fprintf(stderr, "exim: malformed message id %s after -q option\n", cl->args[i]);
			return 1;
		}
	queue_run(&sc, &s.opts);
	return 0;
}
