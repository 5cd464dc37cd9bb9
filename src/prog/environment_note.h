/* Exim 4.96's warning about purging the environment (observed live). */
#ifndef POSTERN_PROG_ENVIRONMENT_NOTE_H
#define POSTERN_PROG_ENVIRONMENT_NOTE_H

#include "prog/cmdline.h"

/* The process's environment as the caller gave it had variables other than the ones this program
 * passes to its own re-executed processes (the daemon after SIGHUP, the deliveries and queue runs
 * run again as the exim user, the died-delivery retry writer). Exim's re-executed processes start
 * with an empty environment, so they never warn; Postern's carry a marker instead. */
bool environment_from_caller(char *const *env);

/* Call once the configuration is loaded. With keep_environment unset and an environment from the
 * caller, writes "Warning: purging the environment.\n Suggested action: use keep_environment."
 * as Exim does: to the main log for the daemon, -bs, -bS, -bm, the queue listings, queue runs
 * and -M commands (skipped when the log cannot be opened yet); on stderr with a time stamp for -bV; nowhere for the testing modes (-be,
 * -bem, -bh, -bhc, -bt, -bv, -bf, -bF, -brw, -bP) nor -MC. */
void environment_note_purge(const cmdline *cl);

/* The daemon writes its warning here, once its spool and log directories exist, before its start
 * line (and the TLS certificate warning), where Exim's appears. */
void environment_note_daemon(void);

#endif
