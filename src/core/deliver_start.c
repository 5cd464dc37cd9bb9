/* Starting deliveries after reception (deliver.h): the -od* mode, the queueing options, and
 * the root helper that daemon sessions (running as the exim user) hand message ids to. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver.h"
#include "core/deliver_continue.h"
#include "core/deliver_launch_pool.h"
#include "core/priv.h"
#include "core/priv_receive.h"
#include "core/priv_reexec.h"
#include "core/queue_named.h"
#include "lib/fdio.h"
#include "lib/log.h"

static deliver_after after_how = DELIVER_AFTER_BACKGROUND;
static bool after_explicit;
static int launcher_fd = -1;
/* The daemon's shared launcher (deliver_launcher_start_shared): the pipe's read end, kept open
 * by the daemon so that records wait while a dead helper is replaced. */
static int shared_read_fd = -1;
static pid_t shared_owner;     /* the process that created the shared pipe (the daemon) */

void deliver_set_after_reception(deliver_after how, bool explicit_od)
{
	after_how = how;
	after_explicit = explicit_od;
}

static bool config_says_queue(void)
{
	struct stat st;
	return conf_main.queue_only
		|| (conf_main.queue_only_file && *conf_main.queue_only_file && stat(conf_main.queue_only_file, &st) == 0);
}

void deliver_after_reception(const spool_config *sc, const char *id, bool queue_condition)
{
	if (after_how == DELIVER_AFTER_QUEUE)
		return;
	if (queue_condition)
		return;
	if (config_says_queue() && (!after_explicit || !conf_main.queue_only_override))
		return;
	deliver_opts o = { .queue_smtp = after_how == DELIVER_AFTER_QUEUE_SMTP };
	if (launcher_fd >= 0) {
		/* A message in a named queue: lower-case letter, then after the newline the name's
		 * length in one byte and the name. One write (far below PIPE_BUF): atomic. */
		const char *qn = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
		size_t ql = qn ? strnlen(qn, QUEUE_NAME_MAX + 1) : 0;
		if (ql > QUEUE_NAME_MAX) {
			log_write(LOG_MAIN | LOG_PANIC, "queue name too long to hand %s to the delivery launcher", id);
			return;
		}
		char line[MSG_ID_LEN + 3 + QUEUE_NAME_MAX];
		line[0] = o.queue_smtp ? (qn ? 's' : 'S') : (qn ? 'd' : 'D');
		memcpy(line + 1, id, MSG_ID_LEN);
		line[MSG_ID_LEN + 1] = '\n';
		size_t len = MSG_ID_LEN + 2;
		if (qn) {
			line[len++] = (char)(unsigned char)ql;
			memcpy(line + len, qn, ql);
			len += ql;
		}
		ssize_t w;
		do
			w = write(launcher_fd, line, len);
		while (w < 0 && errno == EINTR);
		if (w == (ssize_t)len)
			return;
		log_write(LOG_MAIN | LOG_PANIC, "failed to hand %s to the delivery launcher: %s", id,
			w < 0 ? strerror(errno) : "short write");
		/* The message stays queued for the next queue run: nothing is lost. */
		return;
	}
	/* A reception by root runs as the exim user: its root parent starts the delivery. */
	if (priv_receive_hand_off(sc, id, &o, after_how == DELIVER_AFTER_FOREGROUND))
		return;
	if (priv_reexec_wanted())
		priv_reexec_delivery(sc, id, &o, after_how == DELIVER_AFTER_FOREGROUND, true);
	else if (after_how == DELIVER_AFTER_FOREGROUND) {
		int chain = dcont_chain_begin();
		deliver_message(sc, id, &o);
		dcont_chain_wait(chain);
	}
	else
		deliver_start_background(sc, id, &o);
}

/* Read exactly n bytes; false at the end of the pipe or an error. */
/* The helper: one record per message ("D" or "S" (queue_smtp), the id, newline; "d" or "s"
 * the same for a named queue, followed by the name's length (one byte) and the name). Anything
 * else ends it; the messages it did not start wait for a queue runner. */
static void launcher_serve(int fd);

static void launcher_loop(int fd)
{
	launcher_serve(fd);
	/* Messages the launcher took but had not yet handed over (all workers were busy). */
	lpool_launch_pending(fd);
}

static void launcher_serve(int fd)
{
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!spool_config_from_main(&sc, &err)) {
		log_write(LOG_MAIN | LOG_PANIC, "delivery launcher: %s", xbuf_cstr(&err));
		return;
	}
	signal(SIGCHLD, SIG_IGN); /* delivery processes and workers are reaped by the kernel */
	char line[MSG_ID_LEN + 2];
	for (;;) {
		if (!lpool_wait_input(fd) || !fd_read_all(fd, line, sizeof line))
			return;
		char id[MSG_ID_LEN + 1];
		memcpy(id, line + 1, MSG_ID_LEN);
		id[MSG_ID_LEN] = 0;
		if (!line[0] || !strchr("DSds", line[0]) || line[MSG_ID_LEN + 1] != '\n'
			|| !spool_valid_id(sv_make(id, MSG_ID_LEN))) {
			log_write(LOG_MAIN | LOG_PANIC, "delivery launcher: malformed request");
			return;
		}
		spool_config msc = sc;
		msc.queue_name = NULL;   /* "D", "S": the default queue, whatever this process's is */
		char qn[QUEUE_NAME_MAX + 1];
		if (line[0] == 'd' || line[0] == 's') {
			unsigned char ql;
			xbuf qerr;
			xbuf_init(&qerr, pool_scratch);
			if (!fd_read_all(fd, (char *)&ql, 1) || ql == 0 || !fd_read_all(fd, qn, ql)
				|| (qn[ql] = 0, !queue_named_check(sv_make(qn, ql), &qerr))) {
				log_write(LOG_MAIN | LOG_PANIC, "delivery launcher: malformed request");
				return;
			}
			msc.queue_name = qn;
		}
		deliver_opts o = { .queue_smtp = line[0] == 'S' || line[0] == 's' };
		if (priv_reexec_wanted())
			priv_reexec_delivery(&msc, id, &o, false, false);
		else
			lpool_deliver(fd, &msc, id, &o);
	}
}

/* queue_only that nothing can override: deliver_after_reception will never hand over a
 * message. queue_only_file is checked per message and may appear or vanish, so it does not
 * count here. */
static bool never_delivers(void)
{
	return after_how == DELIVER_AFTER_QUEUE
		|| (conf_main.queue_only && (!after_explicit || !conf_main.queue_only_override));
}

pid_t deliver_launcher_start_shared(void (*child_setup)(void *), void *ctx)
{
	if (!priv_is_root() || never_delivers())
		return -1;
	if (shared_read_fd < 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0)
			return -1;
		/* A full pipe (helper gone for long) must not block a session: the write fails and
		 * the message waits for a queue runner. Records are far below PIPE_BUF: atomic. */
		fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
		shared_read_fd = p[0];
		launcher_fd = p[1];
		shared_owner = getpid();
	}
	pid_t pid = fork();
	if (pid != 0)
		return pid < 0 ? -1 : pid;
	if (child_setup)
		child_setup(ctx);
	/* Its own name in ps and /proc: not a session, not a queue runner. */
	prctl(PR_SET_NAME, "postern-launch", 0, 0, 0);
	close(launcher_fd);
	launcher_fd = -1;
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	launcher_loop(shared_read_fd);
	_exit(0);
}

bool deliver_launcher_in_session(void)
{
	if (shared_read_fd >= 0 && getpid() != shared_owner) {
		close(shared_read_fd); /* only the daemon and the helper keep the read end */
		shared_read_fd = -1;
	}
	return launcher_fd >= 0 && shared_owner != 0;
}

bool deliver_launcher_start(int close_fd)
{
	if (!priv_is_root() || never_delivers())
		return false; /* a fork per connection that would never be used */
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return false;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		close(p[1]);
		if (close_fd >= 0)
			close(close_fd);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		launcher_loop(p[0]);
		_exit(0);
	}
	close(p[0]);
	launcher_fd = p[1];
	return true;
}
