/* Deliveries after a reception, and the daemon's queue runners, handed to this program run
 * again as the exim user (priv_reexec.h). */
#include "core/priv_reexec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/deliver_continue.h"
#include "core/priv.h"
#include "core/priv_trust.h"
#include "lib/caller_id.h"
#include "lib/initial_cwd.h"
#include "lib/log.h"

bool priv_reexec_wanted(void)
{
	/* Root: the delivery must lose root. The exim user: Exim runs itself again all the same
	 * (its -Mc process writes the lost-privilege line); then there is nothing to drop. */
	if (conf_main.deliver_drop_privilege || priv_untrusted_option() == NULL)
		return false;
	if (priv_is_root())
		return !priv_trust_test_aid();
	return priv_lost_privilege();
}

bool priv_reexec_receive_as_exim(void)
{
	if (!priv_is_root() || priv_untrusted_option() == NULL || priv_trust_test_aid())
		return true;
	/* The caller stays root for U=, $caller_uid and the trusted-caller question. */
	caller_id_pin();
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!priv_drop_to_exim(&err)) {
		log_write(LOG_MAIN | LOG_PANIC, "reception as the exim user: %s", xbuf_cstr(&err));
		return false;
	}
	return true;
}

bool priv_host_check_as_exim(void)
{
	if (!priv_is_root() || priv_trust_test_aid())
		return true;
	caller_id_pin();   /* the caller is still root for U=, $caller_uid and trust */
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!priv_drop_to_exim(&err)) {
		log_write(LOG_MAIN | LOG_PANIC, "host checking as the exim user: %s", xbuf_cstr(&err));
		return false;
	}
	return true;
}

bool priv_reexec_become_exim(void)
{
	if (!priv_reexec_wanted() || !priv_is_root())
		return true;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!priv_drop_to_exim(&err)) {
		log_write(LOG_MAIN | LOG_PANIC, "queue runner as the exim user: %s", xbuf_cstr(&err));
		return false;
	}
	priv_note_lost_privilege();
	return true;
}

void priv_reexec_note_child(void)
{
	const char *option = priv_untrusted_option();
	if (option && priv_reexec_wanted())
		log_write(LOG_MAIN | LOG_PANIC | LOG_NOID, "exim user lost privilege for using %s option", option);
}

/* At most: program, 10 -D (Exim's limit; more are passed too, up to the array), -C file, -N,
 * -od*, -MCG name, -q...G name or -Mc id, NULL. */
#define REEXEC_MAX_ARGS 48

/* The program, its -D definitions and -C file, in Exim's order; returns the count. */
static size_t config_args(const char **argv, const char *exe)
{
	size_t k = 0;
	argv[k++] = exe;
	const conf_define *defs;
	size_t nd = priv_trust_defines(&defs);
	for (size_t i = 0; i < nd && k < REEXEC_MAX_ARGS - 10; i++) {
		xbuf d;
		xbuf_init(&d, pool_scratch);
		xbuf_printf(&d, "-D%s=%s", defs[i].name, defs[i].value ? defs[i].value : "");
		argv[k++] = xbuf_cstr(&d);
	}
	if (priv_trust_config_arg()) {
		/* The file this process read; it may work from the spool directory by now, so a
		 * relative name is made the caller's again. */
		const char *used = conf_file_name();
		argv[k++] = "-C";
		argv[k++] = used && !conf_is_builtin()
			? initial_cwd_resolve(pool_scratch, used) : priv_trust_config_arg();
	}
	return k;
}

/* The command line, in Exim's order: -D first, then -C, then the delivery options. */
static size_t build_argv(const char **argv, char *exe, size_t exe_size, const char *id,
	const deliver_opts *o, bool foreground, const char *queue_name)
{
	ssize_t n = readlink("/proc/self/exe", exe, exe_size - 1);
	if (n <= 0)
		return 0;
	exe[n] = 0;
	size_t k = config_args(argv, exe);
	if (o->dont_deliver)
		argv[k++] = "-N";
	if (o->queue_smtp)
		argv[k++] = "-odqs";
	else if (foreground)
		argv[k++] = "-odi";
	if (queue_name && *queue_name) {
		/* Exim names the queue with -MCG (observed: "-odi -MCG q -Mc id"). */
		argv[k++] = "-MCG";
		argv[k++] = queue_name;
	}
	argv[k++] = "-Mc";
	argv[k++] = id;
	argv[k] = NULL;
	return k;
}

/* In the child: become the exim user (unless keep_root) and run the delivery. Never returns. */
static void exec_as(const char **argv, bool keep_stderr, bool keep_root)
{
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (!keep_stderr)
			dup2(null, 2);
		if (null > 2)
			close(null);
	}
	/* Nothing of this process's but the standard descriptors: not the queue runner's pipe
	 * either, whose end a long bounce delivery must not hold. */
	if (close_range(3, ~0U, 0) != 0)
		dcont_close_fds_except(-1, -1);
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!keep_root && !priv_drop_to_exim(&err)) {
		log_write(LOG_MAIN | LOG_PANIC, "delivery as the exim user: %s", xbuf_cstr(&err));
		_exit(1);
	}
	/* Exim's re-executed process starts with an empty environment; the time zone stays, so
	 * that its log lines carry the same times as the caller's, and a marker says the
	 * environment is this program's own (no purge warning, prog/environment_note.h). */
	const char *tz = getenv("TZ");
	xbuf tzv;
	xbuf_init(&tzv, pool_scratch);
	char *envp[3] = { PRIV_REEXEC_ENV "=1", NULL, NULL };
	if (tz) {
		xbuf_printf(&tzv, "TZ=%s", tz);
		envp[1] = (char *)xbuf_cstr(&tzv);
	}
	execve(argv[0], (char *const *)argv, envp);
	log_write(LOG_MAIN | LOG_PANIC, "failed to execute %s for the delivery: %s", argv[0], strerror(errno));
	_exit(1);
}

static bool called_odi;

void priv_reexec_set_foreground(bool odi) { called_odi = odi; }
bool priv_reexec_foreground(void) { return called_odi; }

static void reexec_delivery(const spool_config *sc, const char *id, const deliver_opts *o, bool foreground,
	bool keep_stderr, bool keep_root)
{
	const char *argv[REEXEC_MAX_ARGS + 1];
	char exe[4096];
	if (!build_argv(argv, exe, sizeof exe, id, o, foreground, sc->queue_name)) {
		log_write(LOG_MAIN | LOG_PANIC, "cannot find this program to deliver %s: %s", id, strerror(errno));
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "fork failed for the delivery process: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		if (!foreground) {
			/* Detached, as a background delivery is: the caller need not reap it. */
			setsid();
			pid_t p2 = fork();
			if (p2 != 0)
				_exit(p2 < 0 ? 1 : 0);
		}
		exec_as(argv, keep_stderr || foreground, keep_root);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

void priv_reexec_delivery(const spool_config *sc, const char *id, const deliver_opts *o, bool foreground,
	bool keep_stderr)
{
	reexec_delivery(sc, id, o, foreground, keep_stderr, false);
}

void priv_reexec_delivery_root(const spool_config *sc, const char *id, const deliver_opts *o, bool foreground)
{
	reexec_delivery(sc, id, o, foreground, false, true);
}

void priv_reexec_queue_run(const queue_run_opts *o)
{
	if (!priv_reexec_wanted() || !priv_is_root())
		return;
	if (o->start_id || o->stop_id || o->select_recipient || o->select_sender)
		return;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	const char *argv[REEXEC_MAX_ARGS + 1];
	size_t k = config_args(argv, exe);
	/* The flags in the order Exim's daemon writes them (observed: -qq, -qi, -qf, -qff). */
	char q[8] = "-q", *p = q + 2;
	if (o->two_stage)
		*p++ = 'q';
	if (o->initial_only)
		*p++ = 'i';
	if (o->force || o->force_frozen)
		*p++ = 'f';
	if (o->force_frozen)
		*p++ = 'f';
	if (o->local_only)
		*p++ = 'l';
	*p = 0;
	if (o->queue_name && *o->queue_name) {
		/* A named queue: -MCG and the name, then the flags, G and the name (observed:
		 * "exim -C file -MCG q -qGq"). */
		argv[k++] = "-MCG";
		argv[k++] = o->queue_name;
		xbuf g;
		xbuf_init(&g, pool_scratch);
		xbuf_printf(&g, "%sG%s", q, o->queue_name);
		argv[k++] = xbuf_cstr(&g);
	} else {
		argv[k++] = q;
	}
	argv[k] = NULL;
	exec_as(argv, true, false);
}
