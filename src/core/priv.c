/* Privileges: uid/gid changes and the trusted/admin/never_users questions (see priv.h). */
#include "core/priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/caller_id.h"
#include "lib/list.h"

uid_t priv_exim_uid(void)
{
	return conf_main.exim_user != POSTERN_UNSET_ID ? conf_main.exim_user : getuid();
}

gid_t priv_exim_gid(void)
{
	return conf_main.exim_group != (gid_t)POSTERN_UNSET_ID ? conf_main.exim_group : getgid();
}

bool priv_is_root(void)
{
	return geteuid() == 0 || getuid() == 0;
}

bool priv_drop_to_exim(xbuf *err)
{
	uid_t uid = priv_exim_uid();
	gid_t gid = priv_exim_gid();
	if (!priv_is_root()) {
		if (getuid() == uid && geteuid() == uid)
			return true;
		xbuf_printf(err, "cannot change to the exim user (uid=%lu): not running as root",
			(unsigned long)uid);
		return false;
	}
	/* Groups first: once the uid is not root, the groups can no longer be changed. */
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		xbuf_printf(err, "unable to set uid=%lu gid=%lu: %s", (unsigned long)uid,
			(unsigned long)gid, strerror(errno));
		return false;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		xbuf_puts(err, "privilege drop failed: root could be regained");
		return false;
	}
	return true;
}

bool priv_become_user(uid_t uid, gid_t gid, const char *initgroups_name, xbuf *err)
{
	if (!priv_is_root()) {
		if (getuid() == uid && geteuid() == uid)
			return true;
		xbuf_printf(err, "cannot change to uid=%lu: not running as root", (unsigned long)uid);
		return false;
	}
	int grc = initgroups_name ? initgroups(initgroups_name, gid) : setgroups(1, &gid);
	if (grc < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		xbuf_printf(err, "unable to set uid=%lu gid=%lu: %s", (unsigned long)uid,
			(unsigned long)gid, strerror(errno));
		return false;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		xbuf_puts(err, "privilege drop failed: root could be regained");
		return false;
	}
	return true;
}

bool priv_can_become(uid_t uid, gid_t gid)
{
	return priv_is_root() || (geteuid() == uid && getuid() == uid && getegid() == gid && getgid() == gid);
}

/* One list item as a number or a name. */
static bool item_is_uid(sv item, uid_t uid)
{
	long long n;
	if (sv_to_long(item, &n))
		return n >= 0 && (uid_t)n == uid;
	char name[256];
	if (item.len == 0 || item.len >= sizeof name)
		return false;
	memcpy(name, item.p, item.len);
	name[item.len] = 0;
	struct passwd *pw = getpwnam(name);
	return pw && pw->pw_uid == uid;
}

static bool item_is_gid(sv item, gid_t gid)
{
	long long n;
	if (sv_to_long(item, &n))
		return n >= 0 && (gid_t)n == gid;
	char name[256];
	if (item.len == 0 || item.len >= sizeof name)
		return false;
	memcpy(name, item.p, item.len);
	name[item.len] = 0;
	struct group *gr = getgrnam(name);
	return gr && gr->gr_gid == gid;
}

static bool in_list(const char *list, bool (*match)(sv, unsigned long), unsigned long id)
{
	if (!list)
		return false;
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(list), 0);
	bool found = false;
	while (!found && list_next(&it, &item))
		found = match(sv_trim(xbuf_sv(&item)), id);
	xbuf_free(&item);
	return found;
}

static bool match_uid(sv item, unsigned long id) { return item_is_uid(item, (uid_t)id); }
static bool match_gid(sv item, unsigned long id) { return item_is_gid(item, (gid_t)id); }

bool priv_uid_in_list(const char *list, uid_t uid) { return in_list(list, match_uid, uid); }
bool priv_gid_in_list(const char *list, gid_t gid) { return in_list(list, match_gid, gid); }

bool priv_is_never_user(uid_t uid)
{
	return priv_uid_in_list(conf_main.never_users, uid);
}

static bool any_group_in(const char *list, gid_t gid, const gid_t *groups, int ngroups)
{
	if (!list)
		return false;
	if (priv_gid_in_list(list, gid))
		return true;
	for (int i = 0; i < ngroups; i++)
		if (priv_gid_in_list(list, groups[i]))
			return true;
	return false;
}

bool priv_is_trusted(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
	if (uid == 0 || uid == priv_exim_uid())
		return true;
	return priv_uid_in_list(conf_main.trusted_users, uid)
		|| any_group_in(conf_main.trusted_groups, gid, groups, ngroups);
}

bool priv_is_admin(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
	if (uid == 0 || uid == priv_exim_uid())
		return true;
	return any_group_in(conf_main.admin_groups, gid, groups, ngroups);
}

/* The caller (lib/caller_id.h): root still, after a reception by root gave root up. */
bool priv_caller_is_trusted(void)
{
	gid_t groups[256];
	int n = caller_id_groups(groups, 256);
	return priv_is_trusted(caller_id_uid(), caller_id_gid(), groups, n);
}

bool priv_caller_is_admin(void)
{
	gid_t groups[256];
	int n = caller_id_groups(groups, 256);
	return priv_is_admin(caller_id_uid(), caller_id_gid(), groups, n);
}

void priv_give_group_to_exim(const char *path)
{
	if (geteuid() != 0 || !path || !*path)
		return;
	if (lchown(path, (uid_t)-1, priv_exim_gid()) < 0)
		return;   /* the file stays root's group: nothing depends on it */
}

void priv_give_to_exim(const char *path)
{
	if (geteuid() != 0 || !path || !*path)
		return;
	/* A failure leaves the file root-owned; the session's write then reports the problem. */
	if (lchown(path, priv_exim_uid(), priv_exim_gid()) < 0)
		return;
}
