/* What making a spool file costs on a file system, three ways, in CPU per file (one process,
 * the ways interleaved in rounds on the same directory; bench/accept/README.md, session 16):
 *   0: open(O_CREAT|O_EXCL) under a private name, then rename to the final name (the spares
 *      before session 16);
 *   1: open(dir, O_TMPFILE), linkat(AT_EMPTY_PATH) to the private name, rename (session 16);
 *   2: open(dir, O_TMPFILE), linkat straight to the final name (not done).
 * Each file gets fchmod and a two-byte write, as a spare's first use does.
 *     cc -O2 -o /tmp/createcost bench/accept/createcost.c && /tmp/createcost DIR 500 6
 * The files stay (removing them would make the next creates in that block group slower for
 * 30 s on ext4 without a journal). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static double cpu(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: createcost DIR FILES-PER-ROUND ROUNDS\n");
		return 2;
	}
	const char *dir = argv[1];
	int n = atoi(argv[2]), rounds = atoi(argv[3]);
	char spare[4200], final[4200];
	double t[3] = { 0, 0, 0 };
	long seq = 0;
	for (int r = 0; r < rounds; r++)
		for (int v = 0; v < 3; v++) {
			double c0 = cpu();
			for (int i = 0; i < n; i++) {
				snprintf(spare, sizeof spare, "%s/.spare.%d", dir, (int)getpid());
				snprintf(final, sizeof final, "%s/f%d-%ld", dir, (int)getpid(), seq++);
				int fd = v == 0 ? open(spare, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640)
					: open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);
				if (fd < 0 || fchmod(fd, 0640) != 0) {
					perror("open");
					return 1;
				}
				if (v == 1 && linkat(fd, "", AT_FDCWD, spare, AT_EMPTY_PATH) != 0)
					perror("linkat");
				if (v == 2 ? linkat(fd, "", AT_FDCWD, final, AT_EMPTY_PATH) != 0 : rename(spare, final) != 0)
					perror("link/rename");
				if (write(fd, "x\n", 2) != 2)
					perror("write");
				close(fd);
			}
			t[v] += cpu() - c0;
		}
	printf("CPU per file: named + rename %.1f us; O_TMPFILE + link + rename %.1f us; O_TMPFILE + link to final %.1f us\n",
		t[0] / rounds / n * 1e6, t[1] / rounds / n * 1e6, t[2] / rounds / n * 1e6);
	return 0;
}
