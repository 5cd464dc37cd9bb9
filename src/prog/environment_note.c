/* "Warning: purging the environment." Exim 4.96 empties its environment at start except for
 * keep_environment's names and warns when keep_environment is unset and the caller's environment
 * was not empty (add_environment does not count: it is added afterwards). Observed live with
 * Debian's Exim: "env -i exim -bV" says nothing, "env -i FOO=1 exim -bV" and "env -i TZ=UTC
 * exim -bV" warn, "keep_environment =" (set, empty) silences it, the re-executed delivery and
 * daemon processes never warn. Which modes warn, and where, is in environment_note.h.
 *
 * Postern itself keeps the caller's environment in these modes (only -be and -bem purge it, for
 * ${env}); docs/logging.md says so. */
#include "prog/environment_note.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/deliver_died.h"
#include "core/priv_reexec.h"
#include "lib/log.h"
#include "prog/daemon_internal.h"
#include "prog/log_setup.h"

#define PURGE_WARNING "Warning: purging the environment.\n Suggested action: use keep_environment."

bool environment_from_caller(char *const *env)
{
	if (!env || !*env)
		return false;
	for (char *const *e = env; *e; e++) {
		size_t n = strcspn(*e, "=");
		/* A process this program ran again: its environment is ours, not a caller's. */
		if ((n == strlen(PRIV_REEXEC_ENV) && strncmp(*e, PRIV_REEXEC_ENV, n) == 0)
			|| (n == strlen(DAEMON_LISTEN_FDS_ENV) && strncmp(*e, DAEMON_LISTEN_FDS_ENV, n) == 0)
			|| (n == strlen(DDIED_RETRY_ENV) && strncmp(*e, DDIED_RETRY_ENV, n) == 0))
			return false;
	}
	return true;
}

static bool mode_warns(const cmdline *cl)
{
	switch (cl->mode) {
	case MODE_BV: case MODE_BD: case MODE_BS: case MODE_BSB: case MODE_BM: case MODE_BPL:
	case MODE_QUEUE: case MODE_MSG:
		return true;
	default:
		return false;
	}
}

/* The daemon's warning, decided at load time (the daemon run again by SIGHUP has dropped its
 * marker by the time it logs its start line). */
static bool daemon_pending;

void environment_note_purge(const cmdline *cl)
{
	extern char **environ;
	if (conf_main.keep_environment || !mode_warns(cl) || !environment_from_caller(environ))
		return;
	if (cl->mode == MODE_BV) {
		/* -bV writes no log; Exim shows the line on stderr as its log line would look. */
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
		fprintf(stderr, "%s %s\n", stamp, PURGE_WARNING);
		return;
	}
	if (cl->mode == MODE_BD) {
		/* Written once the daemon has made its spool and log directories. */
		daemon_pending = true;
		return;
	}
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!log_setup_from_config(LOG_ECHO_PANIC, NULL, &err))
		return;   /* the mode reports a bad log configuration itself */
	/* The mode may not have made the log's directory yet (a spool directory it creates): the
	 * warning is then skipped rather than ending the process before it starts. */
	log_write(LOG_MAIN | LOG_TRY, "%s", PURGE_WARNING);
}

void environment_note_daemon(void)
{
	if (daemon_pending)
		log_write(LOG_MAIN, "%s", PURGE_WARNING);
	daemon_pending = false;
}
