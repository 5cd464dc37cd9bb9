/* The spool's helper thread and spare files (core/spool_worker.h): spares appear when asked for,
 * empty and with the spool's mode; a take hands over descriptor and name once; another directory
 * gets none; a forked child gets none of the parent's and its sync tickets are foreign there;
 * release removes what was not used; remove_for removes a dead process's set; a leftover with
 * our pid is replaced (the new one made as an unnamed O_TMPFILE inode and linked); spares made by the caller start no thread. And a message written through spool_begin/spool_commit with spares has
 * its files under the right names with the right content and no spare left. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/spool.h"
#include "core/spool_worker.h"
#include "lib/arena.h"
#include "unit.h"

static char spool_dir[] = "/tmp/postern-worker-test-XXXXXX";

static spool_config config(void)
{
	spool_config sc = { .directory = spool_dir, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	return sc;
}

static void spare_path(char *out, size_t size, const char *sub, pid_t pid, char kind)
{
	snprintf(out, size, "%s/%s/.postern-spare.%ld.%c", spool_dir, sub, (long)pid, kind);
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Take waits for a spare whose creation has begun; one not begun comes back as -1. Poll a
 * little so that the thread has made them. */
static void wait_made(void)
{
	char p[512];
	spare_path(p, sizeof p, "msglog", getpid(), 'M');
	for (int i = 0; i < 500 && !exists(p); i++)
		usleep(2000);
}

static void test_spares_made_taken_released(void)
{
	spool_config sc = config();
	char dir[512], path[4300], p[512];
	off_t stale = -1;
	snprintf(dir, sizeof dir, "%s/input", spool_dir);
	/* not enabled: nothing */
	spool_spares_prepare();
	CHECK_INT(spool_spare_take(SPARE_DATA, dir, path, sizeof path, &stale), -1);
	spool_spares_enable(&sc);
	spool_spares_prepare();
	wait_made();
	spare_path(p, sizeof p, "input", getpid(), 'D');
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_size == 0 && (st.st_mode & 0777) == 0640);
	/* another directory gets none */
	CHECK_INT(spool_spare_take(SPARE_DATA, "/elsewhere/input", path, sizeof path, &stale), -1);
	int fd = spool_spare_take(SPARE_DATA, dir, path, sizeof path, &stale);
	CHECK(fd >= 0);
	CHECK_STR(path, p);
	CHECK_INT(spool_spare_take(SPARE_DATA, dir, path, sizeof path, &stale), -1); /* once */
	if (fd >= 0) {
		unlink(p);
		close(fd);
	}
	/* a forked child has none of them */
	pid_t c = fork();
	if (c == 0) {
		char cp[4300];
		_exit(spool_spare_take(SPARE_HEADER, dir, cp, sizeof cp, &stale) == -1 ? 0 : 1);
	}
	int status = -1;
	waitpid(c, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the parent's are still there, and release removes the unused ones */
	spare_path(p, sizeof p, "input", getpid(), 'H');
	CHECK(exists(p));
	spool_spares_release();
	CHECK(!exists(p));
	spare_path(p, sizeof p, "msglog", getpid(), 'M');
	CHECK(!exists(p));
}

static void test_sync_ticket_foreign_in_child(void)
{
	char p[512];
	snprintf(p, sizeof p, "%s/syncme", spool_dir);
	int fd = open(p, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	unsigned ticket = 0;
	CHECK(spool_worker_sync_start(fd, &ticket));
	pid_t c = fork();
	if (c == 0)
		_exit(spool_worker_sync_wait(ticket) == -1 ? 0 : 1);
	int status = -1;
	waitpid(c, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(spool_worker_sync_wait(ticket), 0);
	/* a second one after the first was collected */
	CHECK(spool_worker_sync_start(fd, &ticket));
	CHECK_INT(spool_worker_sync_wait(ticket), 0);
	close(fd);
	unlink(p);
	spool_spares_release();
}

static void test_leftover_replaced_and_remove_for(void)
{
	spool_config sc = config();
	char p[512];
	spare_path(p, sizeof p, "input", getpid(), 'D');
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("stale\n", f);
		fclose(f);
	}
	struct stat old_st;
	CHECK(stat(p, &old_st) == 0);
	/* no recycled files (the earlier tests' released spares): every spare is a new inode */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s/input/.postern-free", spool_dir);
	CHECK(system(cmd) == 0);
	unsigned long unnamed = spool_spares_made_unnamed();
	spool_spares_enable(&sc);
	spool_spares_prepare();
	wait_made();
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_size == 0 && st.st_ino != old_st.st_ino && st.st_nlink == 1);
	/* made unnamed and linked (the leftover's name taken over), not created by name: this
	 * directory is on ext4 or tmpfs, which both have O_TMPFILE */
	CHECK(spool_spares_made_unnamed() - unnamed == 3);
	spool_spares_release();
	/* the daemon's clean-up for a dead session: all three names */
	for (const char *k = "DHM"; *k; k++) {
		spare_path(p, sizeof p, *k == 'M' ? "msglog" : "input", 4242, *k);
		int fd = open(p, O_WRONLY | O_CREAT, 0600);
		CHECK(fd >= 0);
		close(fd);
	}
	spool_spares_remove_for(&sc, 4242);
	for (const char *k = "DHM"; *k; k++) {
		spare_path(p, sizeof p, *k == 'M' ? "msglog" : "input", 4242, *k);
		CHECK(!exists(p));
	}
}

static void test_message_through_spares(void)
{
	spool_config sc = config();
	spool_spares_enable(&sc);
	spool_spares_prepare();
	wait_made();
	message *m = message_new(pool_msg);
	m->sender = sv_cstr("a@example.com");
	message_add_recipient(m, sv_cstr("b@example.com"));
	message_add_header(m, ' ', sv_cstr("Subject: t\n"));
	xbuf err;
	xbuf_init(&err, NULL);
	spool_txn *t = spool_begin_message(&sc, m, &err);
	CHECK(t != NULL);
	if (!t)
		return;
	char p[512];
	spare_path(p, sizeof p, "input", getpid(), 'D');
	CHECK(!exists(p)); /* renamed to <id>-D */
	CHECK(spool_write_body(t, "hello\n", 6, &err));
	m->size = 20;
	CHECK(spool_commit(t, m, &err));
	spool_end(t);
	spare_path(p, sizeof p, "input", getpid(), 'H');
	CHECK(!exists(p)); /* it was the -H temporary */
	char d[512], h[512];
	snprintf(d, sizeof d, "%s/input/%s-D", spool_dir, m->id);
	snprintf(h, sizeof h, "%s/input/%s-H", spool_dir, m->id);
	char buf[64] = "";
	int fd = open(d, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	char want[64];
	snprintf(want, sizeof want, "%s-D\nhello\n", m->id);
	CHECK_STR(buf, want);
	CHECK(exists(h));
	/* the msglog spare becomes the message's log */
	spool_msglog(&sc, m->id, "Received from a@example.com");
	spare_path(p, sizeof p, "msglog", getpid(), 'M');
	CHECK(!exists(p));
	char ml[512];
	snprintf(ml, sizeof ml, "%s/msglog/%s", spool_dir, m->id);
	CHECK(exists(ml));
	spool_spares_release();
	xbuf_free(&err);
}

/* The threads of this process (/proc/self/status). */
static int threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "Threads:", 8) == 0)
			n = atoi(line + 8);
	if (f)
		fclose(f);
	return n;
}

static bool stop_after_two(void *ctx)
{
	return ++*(int *)ctx > 2;
}

/* A pre-forked process makes its set itself (spool_spares_make_now): the files are there when
 * it returns, no thread was started, and a MAIL's request with a full set starts none either;
 * the first fdatasync does. */
static void test_spares_made_now_without_thread(void)
{
	spool_config sc = config();
	char dir[512], path[4300], p[512];
	snprintf(dir, sizeof dir, "%s/input", spool_dir);
	CHECK_INT(threads(), 1);
	spool_spares_make_now(NULL, NULL); /* not enabled: nothing */
	spare_path(p, sizeof p, "input", getpid(), 'D');
	CHECK(!exists(p));
	spool_spares_enable(&sc);
	int asked = 0;
	spool_spares_make_now(stop_after_two, &asked); /* a connection came after two files */
	CHECK_INT(asked, 3);
	spare_path(p, sizeof p, "msglog", getpid(), 'M');
	CHECK(!exists(p));
	spool_spares_make_now(NULL, NULL); /* the rest */
	for (const char *k = "DHM"; *k; k++) {
		struct stat st;
		spare_path(p, sizeof p, *k == 'M' ? "msglog" : "input", getpid(), *k);
		CHECK(stat(p, &st) == 0 && st.st_size == 0 && (st.st_mode & 0777) == 0640);
	}
	CHECK_INT(threads(), 1);
	spool_spares_prepare(); /* MAIL: the set is complete */
	CHECK_INT(threads(), 1);
	off_t stale = -1;
	int fd = spool_spare_take(SPARE_DATA, dir, path, sizeof path, &stale);
	spare_path(p, sizeof p, "input", getpid(), 'D');
	CHECK(fd >= 0);
	CHECK_STR(path, p);
	unsigned ticket = 0;
	CHECK(fd >= 0 && spool_worker_sync_start(fd, &ticket));
	CHECK_INT(threads(), 2);
	CHECK_INT(spool_worker_sync_wait(ticket), 0);
	if (fd >= 0) {
		unlink(p);
		close(fd);
	}
	spool_spares_release();
	CHECK_INT(threads(), 1);
	spare_path(p, sizeof p, "input", getpid(), 'H');
	CHECK(!exists(p));
	spare_path(p, sizeof p, "msglog", getpid(), 'M');
	CHECK(!exists(p));
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(spool_dir))
		return 1;
	char p[512];
	snprintf(p, sizeof p, "%s/input", spool_dir);
	mkdir(p, 0750);
	snprintf(p, sizeof p, "%s/msglog", spool_dir);
	mkdir(p, 0750);
	RUN(test_spares_made_now_without_thread);
	RUN(test_spares_made_taken_released);
	RUN(test_sync_ticket_foreign_in_child);
	RUN(test_leftover_replaced_and_remove_for);
	RUN(test_message_through_spares);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", spool_dir);
	if (system(cmd) != 0) { /* best effort */ }
	return unit_report("spool_worker");
}
