/* Group commit of the spool (core/spool_commit.h): callers that arrive while a round runs share
 * one later round; a leader killed mid-round does not block anybody; a failed round fails every
 * caller it covered; without the shared state a caller syncs alone. And spool_commit keeps a
 * failed commit from leaving an -H behind. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/spool.h"
#include "core/spool_commit.h"
#include "unit.h"

/* The layout spool_commit.c keeps in <spool>/db/postern-dircommit-input. */
typedef struct commit_state {
	uint64_t magic, started, done, failed;
	int32_t failed_errno;
	uint32_t round_seq, sleepers;
} commit_state;

static char spool_dir[] = "/tmp/postern-commit-test-XXXXXX";

static spool_config config(void)
{
	spool_config sc = { .directory = spool_dir, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	return sc;
}

/* The input directory the callers "renamed" into (spool_commit uses the same one). */
static const char *input_dir(void)
{
	static char p[256];
	snprintf(p, sizeof p, "%s/input", spool_dir);
	mkdir(p, 0750);
	return p;
}

static commit_state *map_state(int *fd)
{
	char p[256];
	snprintf(p, sizeof p, "%s/db/postern-dircommit-input", spool_dir);
	*fd = open(p, O_RDWR);
	if (*fd < 0)
		return NULL;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* Processes blocked in flock on the state file (the "->" lines of /proc/locks for its inode). */
static int flock_waiters(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	char ino[64];
	snprintf(ino, sizeof ino, ":%lu ", (unsigned long)st.st_ino);
	FILE *f = fopen("/proc/locks", "r");
	if (!f)
		return -1;
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "->") && strstr(line, "FLOCK") && strstr(line, ino))
			n++;
	fclose(f);
	return n;
}

/* Child: one group sync; exit 10 if it led the round, 20 if another round covered it. */
static void sync_child(void)
{
	spool_config sc = config();
	xbuf err;
	xbuf_init(&err, NULL);
	spool_commit_stats b = spool_commit_get_stats(); /* the parent's counts, inherited */
	bool ok = spool_group_sync(&sc, input_dir(), &err);
	spool_commit_stats a = spool_commit_get_stats();
	uint64_t led = a.led - b.led, shared = a.shared - b.shared;
	_exit(!ok ? 1 : led == 1 && shared == 0 ? 10 : shared == 1 && led == 0 ? 20 : 2);
}

static void test_first_call_creates_state(void)
{
	spool_config sc = config();
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(spool_group_sync(&sc, input_dir(), &err));
	spool_commit_stats s = spool_commit_get_stats();
	CHECK_INT(s.calls, 1);
	CHECK_INT(s.led, 1); /* nobody else: this process ran the round */
	int sfd;
	commit_state *st = map_state(&sfd);
	CHECK(st != NULL);
	if (st) {
		CHECK_INT(st->started, 1);
		CHECK_INT(st->done, 1);
		CHECK_INT(st->failed, 0);
		munmap(st, 4096);
		close(sfd);
	}
	xbuf_free(&err);
}

/* While a round runs (here: the test holds the lock with started > done), five callers arrive
 * and sleep on the round counter (not in flock: an unlock there hands the lock to one waiter at a
 * time); when it ends, exactly one of them runs the next round and the other four are covered. */
static void test_arrivals_share_one_round(void)
{
	int sfd;
	commit_state *st = map_state(&sfd);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(flock(sfd, LOCK_EX) == 0);
	uint64_t round = ++st->started; /* a round in progress */
	enum { N = 5 };
	pid_t kids[N];
	for (int i = 0; i < N; i++)
		if ((kids[i] = fork()) == 0)
			sync_child();
	int waiting = 0;
	for (int tries = 0; tries < 500 && (waiting = (int)__atomic_load_n(&st->sleepers, __ATOMIC_SEQ_CST)) < N; tries++)
		usleep(10000);
	CHECK_INT(waiting, N);
	CHECK_INT(flock_waiters(sfd), 0);
	st->done = round;
	flock(sfd, LOCK_UN);
	__atomic_add_fetch(&st->round_seq, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &st->round_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	int led = 0, shared = 0;
	for (int i = 0; i < N; i++) {
		int status = 0;
		waitpid(kids[i], &status, 0);
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		led += code == 10;
		shared += code == 20;
	}
	CHECK_INT(led, 1);
	CHECK_INT(shared, N - 1);
	CHECK_INT(st->started, round + 1);
	CHECK_INT(st->done, round + 1);
	munmap(st, 4096);
	close(sfd);
}

/* A leader killed in the middle of its round (started bumped, done not) releases the lock by
 * dying; the next caller runs a round of its own instead of waiting for the dead one. */
static void test_killed_leader(void)
{
	int sfd;
	commit_state *st = map_state(&sfd);
	CHECK(st != NULL);
	if (!st)
		return;
	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t leader = fork();
	if (leader == 0) {
		int fd;
		commit_state *cst = map_state(&fd);
		if (!cst || flock(fd, LOCK_EX) != 0)
			_exit(1);
		cst->started++;
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	uint64_t dead_round = st->started;
	kill(leader, SIGKILL);
	waitpid(leader, NULL, 0);
	pid_t caller = fork();
	if (caller == 0) {
		alarm(10); /* a hang is a failure */
		sync_child();
	}
	int status = 0;
	waitpid(caller, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 10);
	CHECK_INT(st->done, dead_round + 1);
	close(ready[0]);
	close(ready[1]);
	munmap(st, 4096);
	close(sfd);
}

/* A failed round (its fsync reported an error) fails every caller that needed it. */
static void test_failed_round(void)
{
	int sfd;
	commit_state *st = map_state(&sfd);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK(flock(sfd, LOCK_EX) == 0);
	uint64_t round = ++st->started;
	pid_t kid = fork();
	if (kid == 0)
		sync_child(); /* needs round + 1 */
	for (int tries = 0; tries < 500 && flock_waiters(sfd) < 1; tries++)
		usleep(10000);
	/* Pretend the next round already ran and failed with EIO. */
	st->started = round + 1;
	st->failed_errno = EIO;
	st->failed = round + 1;
	st->done = round + 1;
	flock(sfd, LOCK_UN);
	int status = 0;
	waitpid(kid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	/* In this process the failure is reported with its cause. */
	spool_config sc = config();
	xbuf err;
	xbuf_init(&err, NULL);
	st->failed = st->started + 1; /* whatever round this call needs has failed */
	CHECK(!spool_group_sync(&sc, input_dir(), &err));
	CHECK_STR(xbuf_cstr(&err), "Error syncing spool: Input/output error");
	st->failed = 0;
	xbuf_free(&err);
	munmap(st, 4096);
	close(sfd);
}

/* No usable db/ directory: the caller syncs on its own, and succeeds. */
static void test_alone_without_state(void)
{
	char dir[] = "/tmp/postern-commit-alone-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char p[256];
	snprintf(p, sizeof p, "%s/db", dir);
	int dbf = open(p, O_WRONLY | O_CREAT, 0600); /* a file where the directory should be */
	CHECK(dbf >= 0);
	close(dbf);
	spool_config sc = { .directory = dir, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	xbuf err;
	xbuf_init(&err, NULL);
	spool_commit_stats before = spool_commit_get_stats();
	CHECK(spool_group_sync(&sc, dir, &err));
	CHECK_INT(spool_commit_get_stats().alone, before.alone + 1);
	unlink(p);
	rmdir(dir);
	xbuf_free(&err);
}

/* spool_commit end to end through the group path: both files exist after it, and a commit whose
 * sync fails leaves no -H (the message does not exist) for spool_abort to leave behind. */
static void test_spool_commit_failure_removes_header(void)
{
	spool_config sc = config();
	static msg_origin o;
	o.login = sv_cstr("root");
	xbuf err;
	xbuf_init(&err, NULL);
	for (int fail = 0; fail <= 1; fail++) {
		message *m = message_new(pool_msg);
		m->origin = &o;
		m->sender = sv_cstr("s@x");
		message_add_recipient(m, sv_cstr("r@x"));
		m->body_linecount = 1;
		spool_txn *t = spool_begin_message(&sc, m, &err);
		CHECK(t != NULL);
		if (!t)
			return;
		CHECK(spool_write_body(t, "body\n", 5, &err));
		int sfd;
		commit_state *st = map_state(&sfd);
		if (fail && st)
			st->failed = st->started + 1;
		bool ok = spool_commit(t, m, &err);
		CHECK(ok == !fail);
		const char *h = spool_path(pool_msg, &sc, "input", m->id, "-H");
		const char *d = spool_path(pool_msg, &sc, "input", m->id, "-D");
		struct stat sb;
		CHECK((stat(h, &sb) == 0) == !fail);
		if (fail)
			spool_abort(t);
		else
			spool_end(t);
		CHECK((stat(d, &sb) == 0) == !fail);
		if (st) {
			st->failed = 0;
			munmap(st, 4096);
			close(sfd);
		}
		unlink(h);
		unlink(d);
	}
	xbuf_free(&err);
}

static char *read_all(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* The background sync of -D: bytes written after it started are synced again at commit, a
 * forked child can end the transaction without joining a thread it does not have, and an abort
 * waits for the thread before removing -D. */
static void test_background_data_sync(void)
{
	spool_config sc = config();
	static msg_origin o;
	o.login = sv_cstr("root");
	xbuf err;
	xbuf_init(&err, NULL);
	for (int variant = 0; variant < 3; variant++) {
		message *m = message_new(pool_msg);
		m->origin = &o;
		m->sender = sv_cstr("s@x");
		message_add_recipient(m, sv_cstr("r@x"));
		m->body_linecount = 2;
		spool_txn *t = spool_begin_message(&sc, m, &err);
		CHECK(t != NULL);
		if (!t)
			return;
		CHECK(spool_write_body(t, "one\n", 4, &err));
		spool_data_sync_start(t);
		spool_data_sync_start(t); /* a second start while one runs is a no-op */
		const char *h = spool_path(pool_msg, &sc, "input", m->id, "-H");
		const char *d = spool_path(pool_msg, &sc, "input", m->id, "-D");
		struct stat sb;
		if (variant == 0) {
			CHECK(spool_write_body(t, "two\n", 4, &err)); /* after the start: stale */
			CHECK(spool_commit(t, m, &err));
			spool_end(t);
			char want[64];
			snprintf(want, sizeof want, "%s-D\none\ntwo\n", m->id);
			const char *got = read_all(d);
			CHECK(got && strcmp(got, want) == 0);
			CHECK(stat(h, &sb) == 0);
		} else if (variant == 1) {
			fflush(NULL);
			pid_t pid = fork();
			if (pid == 0) {
				alarm(10); /* a join on a thread the child does not have would hang */
				spool_end(t);
				_exit(0);
			}
			int status = 0;
			CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
			CHECK(spool_commit(t, m, &err));
			spool_end(t);
			CHECK(stat(h, &sb) == 0);
		} else {
			spool_abort(t);
			CHECK(stat(d, &sb) != 0);
			CHECK(stat(h, &sb) != 0);
		}
		CHECK_INT(err.len, 0);
		unlink(h);
		unlink(d);
	}
	xbuf_free(&err);
}

/* A -D write that fails part-way (here: the file size limit, as a full disk would) and is tried
 * again at commit: what was written before the failure is not written twice, so the file holds
 * the first line and the body exactly once. */
static void test_partial_write_tried_again(void)
{
	spool_config sc = config();
	static msg_origin o;
	o.login = sv_cstr("root");
	xbuf err;
	xbuf_init(&err, NULL);
	message *m = message_new(pool_msg);
	m->origin = &o;
	m->sender = sv_cstr("s@x");
	message_add_recipient(m, sv_cstr("r@x"));
	static char body[3000];
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
	m->body_linecount = (int)(sizeof body / 61);
	spool_txn *t = spool_begin_message(&sc, m, &err);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(spool_write_body(t, body, sizeof body, &err));

	struct rlimit old;
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	struct rlimit low = old;
	low.rlim_cur = 1000; /* the first write stops here (short write), the next one fails */
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &low) == 0);
	bool flushed = spool_flush(t, &err);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, oldsig);
	CHECK(!flushed);
	CHECK(strstr(xbuf_cstr(&err), "Error writing spool file") != NULL);
	xbuf_truncate(&err, 0);

	CHECK(spool_commit(t, m, &err));
	spool_end(t);
	CHECK_INT(err.len, 0);
	const char *d = spool_path(pool_msg, &sc, "input", m->id, "-D");
	const char *h = spool_path(pool_msg, &sc, "input", m->id, "-H");
	static char want[sizeof body + 64], got[sizeof body + 4096];
	int wn = snprintf(want, sizeof want, "%s-D\n", m->id);
	memcpy(want + wn, body, sizeof body);
	int fd = open(d, O_RDONLY);
	CHECK(fd >= 0);
	ssize_t gn = fd >= 0 ? read(fd, got, sizeof got) : -1;
	if (fd >= 0)
		close(fd);
	CHECK_INT(gn, (ssize_t)(wn + (int)sizeof body));
	CHECK(gn == (ssize_t)(wn + (int)sizeof body) && memcmp(got, want, (size_t)gn) == 0);
	unlink(h);
	unlink(d);
	xbuf_free(&err);
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(spool_dir))
		return 1;
	RUN(test_first_call_creates_state);
	RUN(test_arrivals_share_one_round);
	RUN(test_killed_leader);
	RUN(test_failed_round);
	RUN(test_alone_without_state);
	RUN(test_spool_commit_failure_removes_header);
	RUN(test_background_data_sync);
	RUN(test_partial_write_tried_again);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", spool_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", spool_dir);
	return unit_report("spool_commit");
}
