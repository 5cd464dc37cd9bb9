/* proc_argv.h: the command line read back from /proc equals the one main() got, empty and
 * spaced arguments included (the test runs itself again with such arguments). */
#include "lib/proc_argv.h"
#include "../unit.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int same_as_main(int argc, char **argv)
{
	char **got = proc_self_argv();
	if (!got)
		return 0;
	int n = 0;
	while (got[n])
		n++;
	int same = n == argc;
	for (int i = 0; same && i < argc; i++)
		same = strcmp(got[i], argv[i]) == 0;
	free(got);
	return same;
}

int main(int argc, char **argv)
{
	if (argc > 1)   /* the re-run: report through the exit status */
		return same_as_main(argc, argv) ? 0 : 1;
	CHECK(same_as_main(argc, argv));
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "x", "", "two words", "-C", "rel.conf", (char *)NULL);
		_exit(127);
	}
	int st = -1;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return unit_report("test_proc_argv");
}
