/* postern: the Exim-compatible mail transfer agent. Dispatches on the command line. */
#include <malloc.h>
#include <stdio.h>

#include "build_config.h"
#include <stdlib.h>

#include "core/deliver_died.h"
#include "core/dns.h"
#include "core/queue_named.h"
#include "lib/arena.h"
#include "lib/debug.h"
#include "lib/initial_cwd.h"
#include "core/log_open_exim.h"
#include "core/priv_reexec.h"
#include "core/priv_trust.h"
#include "lib/log.h"
#include "prog/cmdline.h"
#include "prog/cmdline_continue.h"
#include "prog/conf_load_for.h"
#include "prog/log_setup.h"
#include "prog/daemon_notify.h"
#include "prog/environment_note.h"
#include "prog/privilege_note.h"
#include "prog/sender_arg.h"
#include "prog/startup_cwd.h"
#include "tls/tls.h"

/* Load the configuration for the mode. Modes that run expansions, routers or sessions then work
 * from the spool directory, as Exim does once its configuration is read. Not -bf (its file
 * names are the caller's); the daemon and queue runners change there themselves (bd_main, after
 * making the spool directory; queue_main). */
static bool load(const cmdline *cl)
{
	if (!conf_load_for(cl))
		return false;
	/* Not really Exim's process (core/priv_trust.h): its log lines go to stderr. */
	if (priv_caller_lacks_trust())
		log_set_stderr_only();
	environment_note_purge(cl);
	privilege_note_lost(cl);
	/* -f's second judgement, now that the configuration is read: every mode (prog/sender_arg.h). */
	if (cl->sender && !sender_arg_parse(pool_perm, cl->sender, ""))
		return false;
	switch (cl->mode) {
	case MODE_BE: case MODE_BEM: case MODE_BS: case MODE_BH: case MODE_BHC: case MODE_BSB:
	case MODE_BM: case MODE_BT: case MODE_BVA: case MODE_MSG: case MODE_BPL: case MODE_BRW:
		startup_chdir();
		break;
	default:
		break;
	}
	return true;
}

int main(int argc, char **argv)
{
	/* A fixed threshold for mmap'd allocations (glibc otherwise raises it to the size of the
	 * largest mmap'd block freed). A read-write LMDB environment callocs 2 MB and mallocs
	 * 1 MB each time it is opened; once one was freed, the next came from the heap and calloc
	 * cleared all of it, a copy-on-write or zero-fill fault per page, in every delivery
	 * (bench/relay/README.md). Mapped afresh, untouched pages cost nothing. */
	mallopt(M_MMAP_THRESHOLD, 512 * 1024);
	arena_init_pools();
	initial_cwd_save();
	/* Logs are created and opened as the exim user, never as root (as Exim does). */
	log_set_opener(log_open_as_exim);
	cmdline cl;
	char err[512];
	if (!cmdline_parse(argc, argv, &cl, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* Whether Exim would keep root with this -C and -D: asked by the log note and by the
	 * deliveries that follow a reception (core/priv_trust.h). */
	priv_trust_set(cl.config_file, cl.defines, cl.ndefines);
	priv_reexec_set_foreground(cl.deliver == DELIVER_FOREGROUND);
	if (cl.debug) {
		xbuf derr;
		xbuf_init(&derr, pool_perm);
		uint32_t sel;
		if (!debug_parse(cl.debug, &sel, &derr)) {
			fprintf(stderr, "%s\n", xbuf_cstr(&derr));
			return 1;
		}
		debug_selector = sel;
	}
	/* -MCG <name> outside -MC names the queue as -qG does: Exim passes it to the processes it
	 * runs again for a named queue's delivery ("-MCG q -Mc id") and queue runner
	 * ("-MCG q -qGq"). */
	if (cl.cont && cl.cont->queue_name && cl.mode != MODE_CONTINUE && !cl.q_name)
		cl.q_name = cl.cont->queue_name;
	/* -qG<name>: the queue everything this process does works in (core/queue_named.h), not only
	 * a queue run: -bp, -M..., and the messages a daemon's sessions receive, as in Exim. */
	if (cl.q_name) {
		xbuf qerr;
		xbuf_init(&qerr, pool_perm);
		if (!queue_named_check(sv_cstr(cl.q_name), &qerr)) {
			fprintf(stderr, "%s: %s\n", cl.called_as, xbuf_cstr(&qerr));
			return 1;
		}
		queue_named_set(cl.q_name);
	}
	/* A delivery process whose appendfile child died runs this program again to write the
	 * retry records (core/deliver_died.c). */
	if (getenv(DDIED_RETRY_ENV)) {
		xbuf lerr;
		xbuf_init(&lerr, pool_perm);
		/* The log too: a remote batch's freeze is logged ("Frozen"). */
		return load(&cl) && log_setup_from_config(LOG_ECHO_NONE, NULL, &lerr) ? ddied_retry_main()
			: DELIVER_EXIT_TRANSPORT_DIED;
	}
	/* Host lists may name hosts and domain lists may say @mx_*: both need the resolver. */
	dns_install_match_hooks();
	xp_queue_size_source = daemon_notify_queue_size;
#if SUPPORT_TLS
	/* STARTTLS and tls_on_connect_ports for the daemon and -bs. */
	tls_register();
#endif
	switch (cl.mode) {
	case MODE_BV:
		/* -bV loads the configuration itself: Exim reports a bad one after the version lines. */
		return bV_main(&cl);
	case MODE_BP:
		return load(&cl) ? bP_main(&cl) : 1;
	case MODE_BE:
	case MODE_BEM:
		return load(&cl) ? be_main(&cl) : 1;
	case MODE_BD:
		return load(&cl) ? bd_main(&cl) : 1;
	case MODE_BS:
	case MODE_BH:
	case MODE_BHC:
	case MODE_BSB:
		return load(&cl) ? bs_main(&cl) : 1;
	case MODE_BM:
		return load(&cl) ? bm_main(&cl) : 1;
	case MODE_BT:
	case MODE_BVA:
		return load(&cl) ? bt_main(&cl) : 1;
	case MODE_BF:
		return load(&cl) ? bf_main(&cl) : 1;
	case MODE_BPL:
		return load(&cl) ? bp_main(&cl) : 1;
	case MODE_QUEUE:
		return load(&cl) ? queue_main(&cl) : 1;
	case MODE_MSG:
		return load(&cl) ? msgctl_main(&cl) : 1;
	case MODE_HINTS:
		return hints_main(&cl);
	case MODE_BRW:
		return load(&cl) ? brw_main(&cl) : 1;
	case MODE_CONTINUE:
		return conf_load_for(&cl) ? continue_main(&cl) : 1;
	case MODE_NONE:
		break;
	}
	fprintf(stderr, "%s: no mode and no recipients given (see docs/command-line.md)\n", cl.called_as);
	return 1;
}
