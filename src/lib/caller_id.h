/* Who called: the real uid, gid and supplementary groups, for $caller_uid, U=<login> and the
 * trusted-caller question. Exim keeps its caller's from its start after it has changed its own
 * uid for a reception; so does Postern's reception by root, which runs as the exim user (with an
 * untrusted -C or -D: core/priv_reexec.h; else in a child: core/priv_receive.h) and still names
 * root as its caller. Everywhere
 * else the caller is the process's real identity of the moment, as it always was. */
#ifndef POSTERN_LIB_CALLER_ID_H
#define POSTERN_LIB_CALLER_ID_H

#include <sys/types.h>

/* Keep the current identity as the caller's from now on (before giving root up). */
void caller_id_pin(void);
uid_t caller_id_uid(void);
gid_t caller_id_gid(void);
/* The supplementary groups, at most max of them into groups (none when there are more). */
int caller_id_groups(gid_t *groups, int max);

#endif
