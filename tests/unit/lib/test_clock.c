/* clock.h: the monotonic clock, the poll timeout until a deadline, and waiting on a descriptor
 * until one (ready, deadline passed, an interrupting signal does not end the wait early). */
#include "lib/clock.h"
#include "../unit.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

static void test_monotonic_advances(void)
{
	long long t0 = monotonic_ms();
	CHECK(t0 >= 0);
	usleep(30 * 1000);
	long long t1 = monotonic_ms();
	CHECK(t1 - t0 >= 30);
	CHECK(t1 - t0 < 30000);
}

static void test_ms_until(void)
{
	long long now = monotonic_ms();
	CHECK_INT(ms_until(now - 1), 0);
	CHECK_INT(ms_until(now - 100000), 0);
	int left = ms_until(now + 10000);
	CHECK(left > 5000 && left <= 10000);
	CHECK_INT(ms_until(LLONG_MAX), INT_MAX);
}

static void test_wait_ready_and_timeout(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	long long t0 = monotonic_ms();
	CHECK_INT(wait_fd_until(p[0], POLLIN, t0 + 80), 0);
	CHECK(monotonic_ms() - t0 >= 80);
	CHECK_INT(wait_fd_until(p[1], POLLOUT, monotonic_ms() + 5000), 1);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK_INT(wait_fd_until(p[0], POLLIN, monotonic_ms() + 5000), 1);
	/* A deadline already past is not waited for, even when the descriptor is ready. */
	CHECK_INT(wait_fd_until(p[0], POLLIN, monotonic_ms() - 1), 0);
	close(p[1]);
	close(p[0]);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

/* A signal handled meanwhile (no SA_RESTART: poll fails with EINTR) does not end the wait. */
static void test_wait_survives_signal(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	struct sigaction sa = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	struct sigaction old;
	sigaction(SIGALRM, &sa, &old);
	struct itimerval it = { .it_value = { 0, 20 * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	long long t0 = monotonic_ms();
	CHECK_INT(wait_fd_until(p[0], POLLIN, t0 + 200), 0);
	CHECK(monotonic_ms() - t0 >= 200);
	CHECK_INT(alarms, 1);
	sigaction(SIGALRM, &old, NULL);
	close(p[1]);
	close(p[0]);
}

int main(void)
{
	RUN(test_monotonic_advances);
	RUN(test_ms_until);
	RUN(test_wait_ready_and_timeout);
	RUN(test_wait_survives_signal);
	return unit_report("test_clock");
}
