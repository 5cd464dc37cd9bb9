/* Named queues (core/queue_named.c, queue_named_move.c): the name checks with Exim's texts and
 * ours; the current queue and the spool configuration that follows it; Q= fields; moving a
 * message between queues (files, -J, a failed link undone, a missing or locked message). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/queue_named.h"
#include "core/queue_named_move.h"
#include "core/spool.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "unit.h"

static char spool_dir[] = "/tmp/postern-qnamed-test-XXXXXX";

static void test_check(void)
{
	static const struct { const char *name; bool tainted; const char *err; } cases[] = {
		{ "quar", false, NULL },
		{ "", false, NULL },
		{ "a.b-c_d", false, NULL },
		{ "quar", true, "Tainted name 'quar' for queue not permitted" },
		{ "a/b", false, "Directory separator not permitted in queue name: 'a/b'" },
		{ "/", false, "Directory separator not permitted in queue name: '/'" },
		{ "..", false, "Queue name '..' not permitted" },
		{ ".", false, "Queue name '.' not permitted" },
		{ "...", false, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		xbuf err;
		xbuf_init(&err, pool_scratch);
		sv name = sv_cstr(cases[i].name);
		name.taint = cases[i].tainted;
		bool ok = queue_named_check(name, &err);
		CHECK(ok == (cases[i].err == NULL));
		if (cases[i].err)
			CHECK_STR(xbuf_cstr(&err), cases[i].err);
	}
	char longname[QUEUE_NAME_MAX + 2];
	memset(longname, 'q', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	CHECK(!queue_named_check(sv_cstr(longname), &err));
	longname[QUEUE_NAME_MAX] = 0;
	CHECK(queue_named_check(sv_cstr(longname), &err));
	CHECK(!queue_named_check(sv_make("a\0b", 3), &err));
}

static void test_current_and_config(void)
{
	CHECK_STR(queue_named_current(), "");
	queue_named_set("quar");
	const char *first = queue_named_current();
	CHECK_STR(first, "quar");
	xbuf f;
	xbuf_init(&f, pool_scratch);
	queue_named_log_field(&f);
	CHECK_STR(xbuf_cstr(&f), " Q=quar");
	queue_named_set("other");
	CHECK_STR(queue_named_current(), "other");
	CHECK_STR(first, "quar");              /* names stay valid after the current one changes */
	queue_named_set("quar");
	CHECK(queue_named_current() == first);  /* interned */
	queue_named_set("");
	CHECK_STR(queue_named_current(), "");
	xbuf_reset(&f);
	queue_named_log_field(&f);
	CHECK_INT((int)f.len, 0);
	queue_named_log_field_of(NULL, &f);
	queue_named_log_field_of("", &f);
	CHECK_INT((int)f.len, 0);
}

static void put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	CHECK(fp != NULL);
	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void make_message(const spool_config *sc, const char *id, bool journal)
{
	const char *in = arena_printf(pool_scratch, "%s%s%s/input", sc->directory,
		sc->queue_name ? "/" : "", sc->queue_name ? sc->queue_name : "");
	const char *ml = arena_printf(pool_scratch, "%s%s%s/msglog", sc->directory,
		sc->queue_name ? "/" : "", sc->queue_name ? sc->queue_name : "");
	mkdir(arena_printf(pool_scratch, "%s/%s", sc->directory, sc->queue_name ? sc->queue_name : ""), 0750);
	mkdir(in, 0750);
	mkdir(ml, 0750);
	put(spool_path(pool_scratch, sc, "input", id, "-D"), arena_printf(pool_scratch, "%s-D\nbody\n", id));
	put(spool_path(pool_scratch, sc, "input", id, "-H"), "not read by the move\n");
	put(spool_path(pool_scratch, sc, "msglog", id, ""), "log\n");
	if (journal)
		put(spool_path(pool_scratch, sc, "input", id, "-J"), "journal\n");
}

static void test_move(void)
{
	spool_config def = { .directory = spool_dir, .mode = 0640, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	spool_config quar = def;
	quar.queue_name = "quar";
	const char *id = "1xUvts-0003eD-1F";
	make_message(&def, id, true);
	CHECK(queue_named_move(&def, "quar", id) == QMOVE_MOVED);
	CHECK(!exists(spool_path(pool_scratch, &def, "input", id, "-H")));
	CHECK(!exists(spool_path(pool_scratch, &def, "input", id, "-D")));
	CHECK(!exists(spool_path(pool_scratch, &def, "msglog", id, "")));
	CHECK(exists(spool_path(pool_scratch, &quar, "input", id, "-H")));
	CHECK(exists(spool_path(pool_scratch, &quar, "input", id, "-D")));
	CHECK(exists(spool_path(pool_scratch, &quar, "input", id, "-J")));   /* beyond Exim */
	CHECK(exists(spool_path(pool_scratch, &quar, "msglog", id, "")));
	/* Not in the default queue any more. */
	CHECK(queue_named_move(&def, "quar", id) == QMOVE_MISSING);
	/* A stale -D of the same name in the target: nothing moves, the links made are undone. */
	put(spool_path(pool_scratch, &def, "input", id, "-D"), "stale\n");
	CHECK(queue_named_move(&quar, "", id) == QMOVE_MOVED);
	CHECK(exists(spool_path(pool_scratch, &quar, "input", id, "-H")));
	CHECK(exists(spool_path(pool_scratch, &quar, "msglog", id, "")));
	CHECK(!exists(spool_path(pool_scratch, &def, "msglog", id, "")));
	CHECK(!exists(spool_path(pool_scratch, &def, "input", id, "-H")));
	unlink(spool_path(pool_scratch, &def, "input", id, "-D"));
	/* Locked by another process: left alone. */
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t kid = fork();
	if (kid == 0) {
		close(p[0]);
		xbuf err;
		xbuf_init(&err, pool_scratch);
		int fd = spool_open_locked(&quar, id, &err);
		if (write(p[1], fd >= 0 ? "y" : "n", 1) != 1) _exit(1);
		sleep(5);
		_exit(0);
	}
	close(p[1]);
	char c = 0;
	CHECK(read(p[0], &c, 1) == 1 && c == 'y');
	CHECK(queue_named_move(&quar, "", id) == QMOVE_LOCKED);
	CHECK(exists(spool_path(pool_scratch, &quar, "input", id, "-H")));
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	close(p[0]);
	/* Back to the default queue; a missing msglog is no error (Exim moves it the same). */
	unlink(spool_path(pool_scratch, &quar, "msglog", id, ""));
	CHECK(queue_named_move(&quar, "", id) == QMOVE_MOVED);
	CHECK(exists(spool_path(pool_scratch, &def, "input", id, "-H")));
	CHECK(!exists(spool_path(pool_scratch, &quar, "input", id, "-D")));
	/* Exim's log lines, the failed link with its paths as Exim writes them. */
	xbuf log;
	xbuf_init(&log, pool_scratch);
	int e = 0;
	CHECK(spool_read_file(arena_printf(pool_scratch, "%s/log/mainlog", spool_dir), 1 << 20, &log, &e));
	const char *t = xbuf_cstr(&log);
	CHECK(strstr(t, " moved from input, msglog to (quar) input, msglog\n") != NULL);
	CHECK(strstr(t, " moved from (quar) input, msglog to input, msglog\n") != NULL);
	CHECK(strstr(t, " Spool file 1xUvts-0003eD-1F-D not found\n") != NULL);
	CHECK(strstr(t, arena_printf(pool_scratch, " link(\"%s/quar/input//%s-D\", \"%s//input//%s-D\") failed while "
		"moving message: File exists\n", spool_dir, id, spool_dir, id)) != NULL);
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(spool_dir)) {
		perror("mkdtemp");
		return 1;
	}
	log_config lc;
	log_config_default(&lc);
	char lpath[256];
	snprintf(lpath, sizeof lpath, "%s/log/%%slog", spool_dir);
	lc.file_path = lpath;
	lc.echo = LOG_ECHO_NONE;
	xbuf lerr;
	xbuf_init(&lerr, pool_perm);
	CHECK(log_configure(&lc, &lerr));
	RUN(test_check);
	RUN(test_current_and_config);
	RUN(test_move);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", spool_dir);
	if (system(cmd) != 0) { /* best effort */ }
	return unit_report("test_queue_named");
}
