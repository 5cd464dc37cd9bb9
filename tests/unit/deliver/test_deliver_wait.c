/* deliver_wait: the delivery process's bounded waits for transport children. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/deliver_wait.h"
#include "lib/clock.h"
#include "../unit.h"

/* A child that ends in time is reaped with its own status, without waiting for the deadline. */
static void test_reap_in_time(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	int st = 0;
	int64_t t0 = monotonic_ms();
	CHECK(dwait_reap(pid, t0 + 60000, &st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	CHECK(monotonic_ms() - t0 < 30000);
}

/* One that does not end is killed at the deadline: status "terminated by signal 9". */
static void test_reap_kills_at_deadline(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	int st = 0;
	int64_t t0 = monotonic_ms();
	CHECK(!dwait_reap(pid, t0 + 200, &st));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(monotonic_ms() - t0 >= 200);
	CHECK(kill(pid, 0) != 0); /* reaped: gone */
}

/* A pipe: readable when data comes or the writer closes; 0 once the deadline passes. */
static void test_readable(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK_INT(dwait_readable(p[0], monotonic_ms() + 100), 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK_INT(dwait_readable(p[0], monotonic_ms() + 5000), 1);
	char c;
	CHECK(read(p[0], &c, 1) == 1);
	close(p[1]);
	CHECK_INT(dwait_readable(p[0], monotonic_ms() + 5000), 1);
	CHECK(read(p[0], &c, 1) == 0);
	close(p[0]);
	/* A deadline already past: no wait at all. */
	CHECK(pipe(p) == 0);
	CHECK_INT(dwait_readable(p[0], monotonic_ms() - 1), 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	RUN(test_reap_in_time);
	RUN(test_reap_kills_at_deadline);
	RUN(test_readable);
	return unit_report("deliver_wait");
}
