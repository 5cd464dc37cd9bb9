/* ETRN with smtp_etrn_command (Exim "The ETRN command"): once the ETRN ACL accepts, the command
 * is split into arguments, each expanded with $domain set to the ETRN argument (a tainted
 * result is refused, as Exim does: "458 Internal failure"), and started without waiting for it.
 * Under smtp_etrn_serialize (the default) a record in the "misc" hints database keeps a second
 * ETRN with the same argument from starting another run while the first is going ("458
 * Already processing <arg>"); a record older than six hours is ignored. Under -bh nothing runs.
 *
 * Process layout: the session forks a helper and reaps it at once; the helper's own child
 * (adopted by init) forks the command, waits for it, removes the serialization record and exits,
 * so the session neither waits nor leaves a zombie. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf_dump.h"
#include "conf/main_options.h"
#include "core/hintsdb.h"
#include "lib/initial_cwd.h"
#include "lib/log.h"
#include "smtp/session_int.h"

enum { ETRN_MAX_ARGS = 64, ETRN_STALE_SECONDS = 6 * 3600 };

/* $domain for the expansion of the command's arguments. */
typedef struct etrn_domain {
	xp_provider p;
	sv domain;
} etrn_domain;

static bool domain_var(void *ctx, sv name, xbuf *out)
{
	if (!sv_eq_cstr(name, "domain")) return false;
	xbuf_putsv(out, ((etrn_domain *)ctx)->domain);
	return true;
}

/* Split the command as Exim splits command lines: white space separates arguments; "..." (with
 * backslash escapes) and '...' quote. Returns the count, or -1 when there are too many. */
static int split_command(arena *a, const char *cmd, sv *args)
{
	int n = 0;
	const char *p = cmd;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n') p++;
		if (!*p) return n;
		if (n == ETRN_MAX_ARGS) return -1;
		xbuf b;
		xbuf_init(&b, a);
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1]) p++;
				xbuf_putc(&b, *p);
			}
			if (*p) p++;
		} else if (*p == '\'') {
			for (p++; *p && *p != '\''; p++) xbuf_putc(&b, *p);
			if (*p) p++;
		} else {
			while (*p && *p != ' ' && *p != '\t' && *p != '\n') xbuf_putc(&b, *p++);
		}
		args[n++] = xbuf_sv(&b);
	}
}

typedef struct serialize_ctx {
	time_t now;
	bool busy;
} serialize_ctx;

/* The record is the start time (decimal); one younger than six hours means a run is going. */
static bool claim(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	serialize_ctx *sc = ctx;
	(void)remove;
	if (found) {
		char buf[32];
		size_t n = old.len < sizeof buf - 1 ? old.len : sizeof buf - 1;
		memcpy(buf, old.p, n);
		buf[n] = 0;
		time_t started = (time_t)strtoll(buf, NULL, 10);
		if (sc->now - started < ETRN_STALE_SECONDS) {
			sc->busy = true;
			return false;
		}
	}
	xbuf_printf(out, "%lld", (long long)sc->now);
	return true;
}

static void release(const char *spool, const char *key)
{
	xbuf err;
	xbuf_init(&err, NULL);
	hintsdb *db = hintsdb_open(spool, "misc", false, &err);
	if (db) {
		hintsdb_delete(db, sv_cstr(key));
		hintsdb_close(db);
	}
	xbuf_free(&err);
}

/* Start argv in the background; the serialization record (key, may be NULL) goes when it ends. */
static bool start(char **argv, const char *spool, const char *key)
{
	pid_t helper = fork();
	if (helper < 0) return false;
	if (helper == 0) {
		/* The helper's child does the work; the helper ends at once so the session can reap
		 * it without waiting for the command. */
		if (fork() != 0) _exit(0);
		setsid();
		signal(SIGCHLD, SIG_DFL);
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2) close(fd);
		}
		pid_t cmd = fork();
		if (cmd == 0) {
			/* The environment Exim's command would have: Exim has purged its own at start
			 * (keep_environment, add_environment), so its ETRN command gets no caller's
			 * variable and, when it is Exim, writes no "purging the environment" warning. */
			execve(argv[0], argv, conf_exim_environ(environ));
			_exit(127);
		}
		if (cmd > 0)
			while (waitpid(cmd, NULL, 0) < 0 && errno == EINTR) {}
		if (key) release(spool, key);
		_exit(0);
	}
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR) {}
	return true;
}

/* Start argv for an accepted ETRN with Exim's serialization (smtp_etrn_serialize: one run per
 * argument at a time) and say 250 without waiting for it. */
static sess_next launch(smtp_session *s, char **argv, sv arg, const acl_ctx *c)
{
	const char *key = NULL;
	const char *spool = sess_expand(s, conf_main.spool_directory);
	if (conf_main.smtp_etrn_serialize && spool) {
		key = arena_printf(s->work, "etrn-%s", sv_dup(s->work, arg));
		xbuf err;
		xbuf_init(&err, s->work);
		hintsdb *db = hintsdb_open(spool, "misc", false, &err);
		serialize_ctx sc = { .now = time(NULL) };
		if (db) {
			hintsdb_update(db, sv_cstr(key), claim, &sc);
			hintsdb_close(db);
		}
		if (sc.busy) {
			sess_reply(s, 458, "Already processing %s", sess_printable(s, arg));
			return SESS_CONTINUE;
		}
		if (!db) key = NULL;   /* nothing recorded, nothing to remove */
	}
	sess_flush(s);   /* nothing buffered is duplicated into the helper */
	if (!start(argv, spool, key)) {
		if (key) release(spool, key);
		sess_log(s, LOG_MAIN | LOG_PANIC, "fork of ETRN command failed: %s", strerror(errno));
		sess_reply(s, 458, "Unable to fork process");
		return SESS_CONTINUE;
	}
	sess_accept_reply(s, c, 250, "OK");   /* the ACL's accepting message, if any */
	return SESS_CONTINUE;
}

/* ETRN without smtp_etrn_command: "ETRN #text" starts "-R text" with this binary and
 * configuration (Exim runs "exim -R text"); other forms are refused by the caller. */
sess_next sess_etrn_queue_run(smtp_session *s, sv arg, const acl_ctx *c)
{
	if (s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC) {
		sess_accept_reply(s, c, 250, "OK");
		return SESS_CONTINUE;
	}
	const char *exe = sess_expand(s, "$exim_path");
	const char *conf = sess_expand(s, "$config_file");
	char *argv[6];
	int n = 0;
	argv[n++] = (char *)(exe && *exe ? exe : "/usr/sbin/postern");
	if (conf && *conf) {
		argv[n++] = "-C";
		/* The daemon works from the spool directory: a relative -C is its caller's. */
		argv[n++] = (char *)initial_cwd_resolve(s->work, conf);
	}
	argv[n++] = "-R";
	argv[n++] = sv_dup(s->work, sv_sub(arg, 1, arg.len));
	argv[n] = NULL;
	return launch(s, argv, arg, c);
}

sess_next sess_etrn_command(smtp_session *s, sv arg, const acl_ctx *c)
{
	sv raw[ETRN_MAX_ARGS];
	int n = split_command(s->work, conf_main.smtp_etrn_command, raw);
	char *argv[ETRN_MAX_ARGS + 1];
	etrn_domain dv = { { domain_var, NULL, NULL }, sv_tainted(sv_copy(s->work, arg)) };
	dv.p.ctx = &dv;
	xp_provider *saved = s->env.providers;
	xp_env_push_provider(&s->env, &dv.p);
	const char *failure = n <= 0 ? "empty or too long command" : NULL;
	for (int i = 0; i < n && !failure; i++) {
		xbuf out, err;
		xbuf_init(&out, s->work);
		xbuf_init(&err, s->work);
		if (xp_expand(&s->env, raw[i], &out, &err) != XP_OK) {
			failure = arena_printf(s->work, "Expansion of \"%s\" from command \"%s\" in ETRN processing failed: %s",
				sv_dup(s->work, raw[i]), conf_main.smtp_etrn_command, xbuf_cstr(&err));
		} else if (out.taint) {
			failure = arena_printf(s->work, "Tainted arg %d for ETRN processing command: '%s'", i, xbuf_cstr(&out));
		}
		argv[i] = (char *)xbuf_cstr(&out);
	}
	s->env.providers = saved;
	if (failure) {
		sess_log(s, LOG_MAIN, "failed to set up ETRN command: %s", failure);
		sess_reply(s, 458, "Internal failure");
		return SESS_CONTINUE;
	}
	/* -bh: Exim sets the command up (its expansion and taint failures show) and accepts
	 * without running it. */
	if (s->mode == SMTP_MODE_BH || s->mode == SMTP_MODE_BHC) {
		sess_accept_reply(s, c, 250, "OK");
		return SESS_CONTINUE;
	}
	argv[n] = NULL;
	return launch(s, argv, arg, c);
}

