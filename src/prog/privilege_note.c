/* Exim 4.96 keeps root for -C only with a configuration in its trusted list (Debian's is
 * empty), and for -D only from root. The exim user itself, calling with -C or -D, therefore
 * runs without privilege, and because a sysadmin may expect the exim user to keep it, Exim says
 * so in the main and panic logs (so also on stderr) at every start: observed for -be, -bt, -bp,
 * -odq and -odi run as Debian-exim with -C, and not with deliver_drop_privilege set (then
 * running unprivileged is what was asked for). When root calls Exim with -C, the same line
 * comes from the processes Exim re-executes as the exim user for deliveries; Postern does not
 * re-execute, and is not set-uid: run as the exim user it has no privilege to lose, so only the
 * line is written here, and deliveries to other users defer as they would anyway. */
#include "prog/privilege_note.h"

#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/priv.h"
#include "core/priv_trust.h"
#include "lib/log.h"
#include "prog/log_setup.h"

void privilege_note_lost(const cmdline *cl)
{
	(void)cl;
	if (!priv_lost_privilege())
		return;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!log_setup_from_config(LOG_ECHO_PANIC, NULL, &err))
		return;   /* the mode reports a bad log configuration itself */
	priv_note_lost_privilege();
}
