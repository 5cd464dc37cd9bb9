/* Opening a redirect router's file (a user's .forward, an :include:d list) as the user it is
 * for. Exim 4.96 reads these in a subprocess under the router's uid and gid (observed: a
 * .forward that only root can read gives "failed to open <file>: Permission denied
 * (euid=<uid> egid=<gid>)", and ignore_eacces then declines), so a user cannot have mail
 * routed through a file that only root may read (another user's, /etc/shadow ...). The
 * existence check before it stays as root: a missing file in a directory the user cannot search
 * still declines. */
#ifndef POSTERN_DRIVERS_ROUTERS_REDIRECT_OPEN_H
#define POSTERN_DRIVERS_ROUTERS_REDIRECT_OPEN_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/addr.h"

/* Who the file is opened as: the address's uid/gid when the router set them (user/group,
 * check_local_user) and this process is root; else the process itself. */
typedef struct redirect_opener {
	bool as_user;
	uid_t uid;
	gid_t gid;
} redirect_opener;

redirect_opener redirect_opener_for(const address_item *a);

/* Open path read-only (non-blocking, so a FIFO cannot hang the delivery) as o says. Returns
 * the descriptor, or -1 with *err the errno of the failed open (or of the helper child's
 * failure: EAGAIN when it could not be started, ETIMEDOUT when it did not answer). */
int redirect_open(const redirect_opener *o, const char *path, int *err);

#endif
