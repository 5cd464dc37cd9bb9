/* "exim user lost privilege for using -C option" at the start of a process that loads the
 * configuration. Exim 4.96 keeps root for -C only with a configuration in its trusted list, and
 * for -D only with whitelisted macros (core/priv_trust.h); its processes called by the exim user
 * then have no privilege, and because a sysadmin may expect the exim user to keep it, Exim says
 * so in the main and panic logs (so also on stderr) at every start: observed for -be, -bt, -bp,
 * -odq and -odi run as Debian-exim with -C, and not with deliver_drop_privilege set (then
 * running unprivileged is what was asked for). When root calls with -C, the same line comes from
 * the delivery processes run again as the exim user (core/priv_reexec.h). */
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
