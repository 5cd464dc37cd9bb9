/* See initial_cwd.h. */
#include "lib/initial_cwd.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

static char saved[PATH_MAX];
static int have;

void initial_cwd_save(void)
{
	have = getcwd(saved, sizeof saved) != NULL;
}

const char *initial_cwd(void)
{
	if (!have)
		initial_cwd_save(); /* not saved yet: the directory is still the initial one */
	return have ? saved : "";
}

const char *initial_cwd_resolve(arena *a, const char *path)
{
	const char *dir = initial_cwd();
	if (!path || path[0] == '/' || !dir[0])
		return path;
	return arena_printf(a, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", path);
}

bool initial_cwd_return(void)
{
	const char *dir = initial_cwd();
	if (!dir[0]) {
		errno = ENOENT;
		return false;
	}
	return chdir(dir) == 0;
}
