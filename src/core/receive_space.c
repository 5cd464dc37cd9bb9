/* Room on the disks before a message is received (receive_space.h). */
#include <string.h>
#include <sys/statvfs.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/receive_space.h"
#include "expand/expand.h"
#include "lib/list.h"
#include "lib/log.h"

/* Free space in K and free inodes for an unprivileged user, -1 each when the directory cannot
 * be examined (then nothing is refused, as in Exim). A file system that reports no inodes at
 * all (btrfs) has no inode limit to check. */
static void room(const char *dir, long long *space, long long *inodes)
{
	struct statvfs st;
	*space = *inodes = -1;
	if (!dir || statvfs(dir, &st) != 0)
		return;
	*space = (long long)((unsigned long long)st.f_bavail * st.f_frsize / 1024);
	if (st.f_files > 0)
		*inodes = (long long)st.f_favail;
}

/* An option's value with its expansion done, in a; NULL when it does not expand. */
static const char *expanded(arena *a, const char *v)
{
	if (!v || !strchr(v, '$'))
		return v;
	xp_env env;
	xp_env_init(&env, a);
	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	int rc = xp_expand(&env, sv_cstr(v), &out, &err);
	xp_env_release(&env);
	return rc == XP_OK ? xbuf_cstr(&out) : NULL;
}

const char *receive_space_log_dir(arena *a, const char *log_file_path, const char *spool)
{
	const char *file = NULL;
	bool any = false;
	list_iter it;
	xbuf item;
	xbuf_init(&item, a);
	list_iter_init(&it, sv_cstr(log_file_path ? log_file_path : ""), ':');
	while (!file && list_next(&it, &item)) {
		any = true;
		if (strcmp(xbuf_cstr(&item), "syslog") != 0)
			file = arena_strdup(a, xbuf_cstr(&item));
	}
	if (any && !file)
		return NULL;   /* syslog only */
	if (!file || !*file)
		file = arena_printf(a, "%s/log/%%slog", spool ? spool : "");
	const char *slash = strrchr(file, '/');
	if (!slash)
		return NULL;
	return arena_strndup(a, file, slash == file ? 1 : (size_t)(slash - file));
}

/* One directory against its two limits; false (and the log line) when it is short. */
static bool check(const char *what, const char *dir, long long min_space, int min_inodes)
{
	if (min_space <= 0 && min_inodes <= 0)
		return true;
	long long space, inodes;
	room(dir, &space, &inodes);
	if ((space >= 0 && space < min_space) || (inodes >= 0 && inodes < min_inodes)) {
		log_write(LOG_MAIN, "%s directory space check failed: space=%lld inodes=%lld", what, space, inodes);
		return false;
	}
	return true;
}

bool receive_space_ok(void)
{
	arena_mark mark = arena_getmark(pool_scratch);
	const char *spool = expanded(pool_scratch, conf_main.spool_directory);
	bool ok = check("spool", spool, conf_main.check_spool_space, conf_main.check_spool_inodes);
	if (ok && (conf_main.check_log_space > 0 || conf_main.check_log_inodes > 0)) {
		const char *path = expanded(pool_scratch, conf_main.log_file_path);
		if (path || !conf_main.log_file_path)
			ok = check("log", receive_space_log_dir(pool_scratch, path, spool),
				conf_main.check_log_space, conf_main.check_log_inodes);
	}
	arena_reset(pool_scratch, mark);
	return ok;
}
