/* tp_child: a transport command's process wiring and the bounded wait for it. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/tp_child.h"
#include "../unit.h"

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A child that ends by itself is reaped with its status, within the bound. */
static void test_reap_in_time(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	int st = 0;
	CHECK(tp_child_reap(pid, &st, 5000));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

/* A child (and what it started) that does not end is killed once the bound passes. */
static void test_reap_timeout_kills_group(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (!tp_child_wire(p[0], p[1], -1, NULL))
			_exit(127);
		execl("/bin/sh", "sh", "-c", "sleep 30 & sleep 30", (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	close(p[1]);
	usleep(100000); /* let it become a group leader */
	long long t0 = ms_now();
	int st = 0;
	CHECK(!tp_child_reap(pid, &st, 200));
	CHECK(ms_now() - t0 < 5000);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* The wiring: stdin/stdout from the given descriptors, the kept one moved above 9. */
static void test_wire(void)
{
	int in[2], out[2], keep[2];
	CHECK(pipe(in) == 0 && pipe(out) == 0 && pipe(keep) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		int k = keep[1];
		if (!tp_child_wire(in[0], out[1], -1, &k) || k < 10)
			_exit(1);
		char c;
		if (read(0, &c, 1) != 1 || write(1, &c, 1) != 1 || write(k, "k", 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	close(keep[1]);
	CHECK(write(in[1], "x", 1) == 1);
	char c = 0, k = 0;
	CHECK(read(out[0], &c, 1) == 1 && c == 'x');
	CHECK(read(keep[0], &k, 1) == 1 && k == 'k');
	int st = 0;
	CHECK(tp_child_reap(pid, &st, 5000));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	RUN(test_reap_in_time);
	RUN(test_reap_timeout_kills_group);
	RUN(test_wire);
	return unit_report("test_tp_child");
}
