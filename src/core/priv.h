/* Privileges: every uid/gid change Postern makes goes through here, and so does every question
 * about who a caller is (trusted, admin, never_users).
 *
 * The exim user and group are conf_main.exim_user / exim_group after the configuration is
 * loaded (the reader resolves names and applies the built-in default "mail" when unset).
 * The daemon binds its sockets as root and each session child drops to the exim user with
 * priv_drop_to_exim() before it reads a byte from the network; a local reception by root does
 * the same in a child while its root parent starts the deliveries (priv_receive.h).
 */
#ifndef POSTERN_CORE_PRIV_H
#define POSTERN_CORE_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/str.h"

/* The configured exim user and group. */
uid_t priv_exim_uid(void);
gid_t priv_exim_gid(void);

/* Whether the process may change uid (real or effective root). */
bool priv_is_root(void);

/* Drop permanently to the exim user and group: supplementary groups set to the exim group
 * alone, then gid, then uid (real, effective and saved). After the drop, regaining root is
 * checked to fail. When not root there is nothing to drop: true if already the exim user, else
 * false + err (the caller decides whether to continue as the invoking user). never_users is not
 * consulted: Exim applies it to deliveries, and the exim user is always allowed to receive. */
bool priv_drop_to_exim(xbuf *err);

/* Become uid/gid permanently for a delivery (a transport child): supplementary groups are the
 * user's groups when initgroups_name is given (the transport's/router's initgroups), else gid
 * alone; then gid, then uid (real, effective, saved). Not root: true only if already that uid. */
bool priv_become_user(uid_t uid, gid_t gid, const char *initgroups_name, xbuf *err);

/* Could priv_become_user(uid, gid, ...) succeed: root, or already that uid and gid. Without
 * root, Exim's transport child fails its uid change and the delivery defers (see
 * deliver_child.c); the in-process delivery path is not taken then. */
bool priv_can_become(uid_t uid, gid_t gid);

/* Is uid (numeric) or the user of that uid named in a uid list (trusted_users, never_users)?
 * Items are numbers or user names; unknown names never match. */
bool priv_uid_in_list(const char *list, uid_t uid);
/* The same for gid lists (trusted_groups, admin_groups). */
bool priv_gid_in_list(const char *list, gid_t gid);

/* never_users contains uid (root is in it when the list says root or 0). */
bool priv_is_never_user(uid_t uid);

/* Exim's trusted callers: root, the exim user, trusted_users, or a member (primary or
 * supplementary group) of trusted_groups. groups may be NULL when ngroups is 0. */
bool priv_is_trusted(uid_t uid, gid_t gid, const gid_t *groups, int ngroups);
/* Exim's admin users: root, the exim user, or a member of admin_groups. */
bool priv_is_admin(uid_t uid, gid_t gid, const gid_t *groups, int ngroups);
/* The caller (lib/caller_id.h) through the two checks above. */
bool priv_caller_is_trusted(void);
bool priv_caller_is_admin(void);

/* Give a file or directory that root created to the exim user and group (so session children
 * running as the exim user can write it). No-op unless root. */
void priv_give_to_exim(const char *path);
/* Give a file root created to the exim group, the owner staying root: what a file Exim writes as
 * root with the exim group as its effective group looks like (the daemon's pid file). No-op
 * unless root. */
void priv_give_group_to_exim(const char *path);

#endif
