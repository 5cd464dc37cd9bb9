/* Exim works from its spool directory once the configuration is read: commands run by ${run},
 * queryprogram and the ACLs see it as their directory, and relative file names in lookups,
 * ${readfile} or -bem resolve there (so they fail as they do for Exim). A spool directory that
 * does not exist is made (one level, mode 0750, owned by the Exim user when root), again as
 * Exim does; when that fails too the process works from "/". */
#include "prog/startup_cwd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/spool.h"
#include "lib/arena.h"
#include "lib/str.h"

void startup_chdir(void)
{
	spool_config sc;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (spool_config_from_main(&sc, &err) && sc.directory) {
		if (chdir(sc.directory) == 0)
			return;
		if (errno == ENOENT && mkdir(sc.directory, 0750) == 0) {
			if (sc.uid != (uid_t)-1 && chown(sc.directory, sc.uid, sc.gid) != 0) {
				/* left owned by root: the spool code reports what it cannot do later */
			}
			if (chdir(sc.directory) == 0)
				return;
		}
	}
	if (chdir("/") != 0)
		fprintf(stderr, "exim: cannot change to /: %s\n", strerror(errno));
}
