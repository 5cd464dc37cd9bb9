/* See initial_cwd.h. */
#include "lib/initial_cwd.h"

#include <limits.h>
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
