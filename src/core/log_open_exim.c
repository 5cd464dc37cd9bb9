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

/* Create the missing final directory of name (0750) and give it to the exim user. Only that one:
 * a process with the built-in default spool must not make /var/spool/... trees. */
static void make_dir_for_exim(const char *name)
{
	const char *slash = strrchr(name, '/');
	if (!slash || slash == name)
		return;
	char *dir = strndup(name, (size_t)(slash - name));
	if (dir && mkdir(dir, 0750) == 0)
		priv_give_to_exim(dir);
	free(dir);
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
			make_dir_for_exim(name);
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
