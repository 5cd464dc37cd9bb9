/* The caller's identity (lib/caller_id.h). */
#include "lib/caller_id.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define MAX_GROUPS 256

static struct {
	bool pinned;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[MAX_GROUPS];
} caller;

void caller_id_pin(void)
{
	caller.uid = getuid();
	caller.gid = getgid();
	int n = getgroups(MAX_GROUPS, caller.groups);
	caller.ngroups = n < 0 ? 0 : n;
	caller.pinned = true;
}

uid_t caller_id_uid(void) { return caller.pinned ? caller.uid : getuid(); }
gid_t caller_id_gid(void) { return caller.pinned ? caller.gid : getgid(); }

int caller_id_groups(gid_t *groups, int max)
{
	if (!caller.pinned) {
		int n = getgroups(max, groups);
		return n < 0 ? 0 : n;
	}
	if (caller.ngroups > max)
		return 0;
	memcpy(groups, caller.groups, (size_t)caller.ngroups * sizeof *groups);
	return caller.ngroups;
}
