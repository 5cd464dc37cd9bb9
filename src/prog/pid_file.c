/* The daemon pid file: see pid_file.h. Used by the listening daemon and the -q<time> daemon. */
#include "prog/pid_file.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/priv.h"
#include "lib/log.h"

bool pid_file_write(const char *path)
{
	char tmp[4200];
	int n = snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return false;
	}
	FILE *f = fopen(tmp, "w");
	if (!f)
		return false;
	fprintf(f, "%d\n", (int)getpid());
	/* Exim 4.96 writes it as root with the exim group already its own: root:<exim group>. */
	priv_give_group_to_exim(tmp);
	bool ok = fclose(f) == 0 && chmod(tmp, 0644) == 0 && rename(tmp, path) == 0;
	if (!ok) {
		int e = errno;
		unlink(tmp);
		errno = e;
	}
	return ok;
}

void pid_file_require_absolute(const char *path)
{
	if (path && path[0] != '/')
		log_write(LOG_PANIC | LOG_DIE, "pid file path %s must be absolute", path);
}

void pid_file_remove(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f)
		return;
	int pid = 0;
	bool ours = fscanf(f, "%d", &pid) == 1 && pid == (int)getpid();
	fclose(f);
	if (ours)
		unlink(path);
}
