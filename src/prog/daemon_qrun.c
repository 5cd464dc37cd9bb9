/* Periodic queue runs (see daemon_qrun.h). Exim starts a queue runner every interval (the first
 * at once), never more than queue_run_max at the same time; a run that is skipped because of the
 * limit waits for the next interval. */
#include "prog/daemon_qrun.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/priv_reexec.h"
#include "expand/expand.h"
#include "lib/log.h"

bool qrun_parse_time(const char *s, int *secs)
{
	if (!s || !*s)
		return false;
	long long total = 0;
	const char *p = s;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return false;
		long long v = 0;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			if (v > 100000000)
				return false;
		}
		long long mul = 1;
		switch (*p) {
		case 'w': mul = 7 * 86400; p++; break;
		case 'd': mul = 86400; p++; break;
		case 'h': mul = 3600; p++; break;
		case 'm': mul = 60; p++; break;
		case 's': p++; break;
		case 0: break;
		default: return false;
		}
		total += v * mul;
		if (total > 0x7fffffff)
			return false;
	}
	*secs = (int)total;
	return true;
}

void qrun_opts_from_cmdline(const cmdline *cl, queue_run_opts *o)
{
	*o = (queue_run_opts){
		.force = cl->q_force || cl->select_force,
		.force_frozen = cl->q_force_frozen || cl->select_force_frozen,
		.two_stage = cl->q_two_stage,
		.initial_only = cl->q_initial,
		.local_only = cl->q_local,
		.queue_name = cl->q_name,
		.select_recipient = cl->select_recipient,
		.select_sender = cl->select_sender,
		.select_regex = cl->select_regex,
		.select_force = cl->select_force,
		.select_force_frozen = cl->select_force_frozen,
		.in_order = conf_main.queue_run_in_order,
		.use_index = true,
	};
	if (cl->mode == MODE_QUEUE && !cl->queue_interval) {
		if (cl->nargs >= 1)
			o->start_id = cl->args[0];
		if (cl->nargs >= 2)
			o->stop_id = cl->args[1];
	}
}

static int queue_run_max(void)
{
	const char *v = conf_main.queue_run_max ? conf_main.queue_run_max : "5";
	xbuf out, err;
	xbuf_init(&out, NULL);
	xbuf_init(&err, NULL);
	xp_env env;
	xp_env_init(&env, pool_scratch);
	int n = 5;
	if (xp_expand(&env, sv_cstr(v), &out, &err) == XP_OK)
		n = atoi(xbuf_cstr(&out));
	else
		log_write(LOG_MAIN | LOG_PANIC, "failed to expand queue_run_max: %s", xbuf_cstr(&err));
	xp_env_release(&env);
	xbuf_free(&out);
	xbuf_free(&err);
	return n < 0 ? 0 : n;
}

bool qrun_sched_init(qrun_sched *s, const cmdline *cl, const spool_config *sc, xbuf *err)
{
	memset(s, 0, sizeof *s);
	s->sc = *sc;
	qrun_opts_from_cmdline(cl, &s->opts);
	if (!cl->queue_interval)
		return true;
	if (!qrun_parse_time(cl->queue_interval, &s->interval) || s->interval <= 0) {
		xbuf_printf(err, "exim: bad time value %s: abandoned", cl->queue_interval);
		return false;
	}
	s->max = queue_run_max();
	s->next = time(NULL);
	return true;
}

int qrun_sched_timeout_ms(const qrun_sched *s, time_t now)
{
	if (s->interval <= 0)
		return -1;
	if (s->next <= now)
		return 0;
	long long ms = (long long)(s->next - now) * 1000;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

void qrun_sched_tick(qrun_sched *s, time_t now)
{
	if (s->interval <= 0 || now < s->next)
		return;
	while (s->next <= now)
		s->next += s->interval;
	if (s->max > 0 && s->nkids >= s->max)
		return;
	qrun_sched_spawn(s, &s->opts);
}

void qrun_sched_spawn(qrun_sched *s, const queue_run_opts *opts)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "daemon: fork of queue runner process failed: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (s->child_setup)
			s->child_setup(s->child_ctx);
		/* Exim's daemon runs its queue runners again as the exim user's "exim -C file -q":
		 * with an untrusted -C or -D they keep no root (core/priv_reexec.h). */
		priv_reexec_queue_run(opts);
		if (!priv_reexec_become_exim())
			_exit(1);
		queue_run(&s->sc, opts);
		fflush(NULL);
		_exit(0);
	}
	if (s->nkids == s->cap) {
		int nc = s->cap ? s->cap * 2 : 8;
		pid_t *nv = realloc(s->kids, (size_t)nc * sizeof *nv);
		if (!nv)
			abort();
		s->kids = nv;
		s->cap = nc;
	}
	s->kids[s->nkids++] = pid;
}

bool qrun_sched_reaped(qrun_sched *s, pid_t pid)
{
	for (int i = 0; i < s->nkids; i++)
		if (s->kids[i] == pid) {
			s->kids[i] = s->kids[--s->nkids];
			return true;
		}
	return false;
}

void qrun_describe(const cmdline *cl, bool listening, xbuf *out)
{
	/* As Exim 4.96 writes it (observed): the listening daemon shows only the two-stage q, the
	 * queue-runner daemon only a named queue ("-qqfGquar/1h" is "-qq1h" with -bd, else
	 * "-qGquar/1h"); the i, f and l flags never. */
	xbuf_puts(out, "-q");
	if (listening && cl->q_two_stage)
		xbuf_putc(out, 'q');
	if (!listening && cl->q_name)
		xbuf_printf(out, "G%s/", cl->q_name);
	xbuf_puts(out, cl->queue_interval ? cl->queue_interval : "");
}
