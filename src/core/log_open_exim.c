/* Opening log files for the exim user (see log_open_exim.h). */
#include "core/log_open_exim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/priv.h"
#include "lib/log.h"

/* Whether the exim user may write a file or directory with this status (owner, group, then
 * other permission bits, as the kernel decides for a process with the exim uid and gid). */
static bool exim_may_write(const struct stat *sb, uid_t uid, gid_t gid)
{
	if (sb->st_uid == uid)
		return (sb->st_mode & S_IWUSR) != 0;
	if (sb->st_gid == gid)
		return (sb->st_mode & S_IWGRP) != 0;
	return (sb->st_mode & S_IWOTH) != 0;
}

/* Create the missing directories above name, each 0750 and given to the exim user. */
static void make_dirs_for_exim(const char *name)
{
	char *path = strdup(name);
	char *slash = path ? strrchr(path, '/') : NULL;
	if (!slash || slash == path) {
		free(path);
		return;
	}
	*slash = '\0';
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0750) == 0)
			priv_give_to_exim(path);
		else if (errno != EEXIST)
			break;
		if (c == '\0')
			break;
		*p = c;
	}
	free(path);
}

int log_open_as_exim(const char *name)
{
	uid_t uid = priv_exim_uid();
	gid_t gid = priv_exim_gid();
	if (geteuid() != 0 || uid == 0)
		return log_open_path(name);
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC;
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = open(name, flags);
		if (fd >= 0) {
			struct stat sb;
			if (fstat(fd, &sb) < 0 || !exim_may_write(&sb, uid, gid)) {
				close(fd);
				errno = EACCES; /* what the exim user would get */
				return -1;
			}
			return fd;
		}
		if (errno != ENOENT)
			return -1;
		fd = open(name, flags | O_CREAT | O_EXCL, 0640);
		if (fd < 0 && errno == ENOENT) {
			make_dirs_for_exim(name);
			fd = open(name, flags | O_CREAT | O_EXCL, 0640);
		}
		if (fd >= 0) {
			/* A file of root's would shut out the exim-user processes that come later. */
			if (fchown(fd, uid, gid) < 0) {
				int e = errno;
				close(fd);
				errno = e;
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST) /* EEXIST: another process created it just now; open that */
			return -1;
	}
	return -1;
}
