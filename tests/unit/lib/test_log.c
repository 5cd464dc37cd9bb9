/* log.h: line layout, file naming, panic copies, rotation, safe opening, errors, syslog splitting.
 * Layout and messages as observed from Exim 4.96 writing its logs. Runs in a fresh temp dir. */
#include "lib/log.h"
#include "lib/timefmt.h"
#include "../unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static arena *A;
static char dir[64];

/* 2026-11-21 07:08:24.047 UTC */
static void fixed_clock(struct timeval *tv)
{
	tv->tv_sec = 1795244904;
	tv->tv_usec = 47123;
}

static char *slurp(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return arena_strdup(A, "(missing)");
	char *buf = arena_alloc(A, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void rm(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

static log_config base(void)
{
	log_config c;
	log_config_default(&c);
	c.file_path = arena_printf(A, "%s/%%slog", dir);
	c.now = fixed_clock;
	c.echo = LOG_ECHO_NONE;
	return c;
}

static void configure(log_config c)
{
	xbuf err;
	xbuf_init(&err, A);
	bool ok = log_configure(&c, &err);
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "configure: %s\n", xbuf_cstr(&err));
}

/* Run fn with stderr captured into a string. */
static char *capture_stderr(void (*fn)(void))
{
	char path[256];
	snprintf(path, sizeof path, "%s/stderr.txt", dir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char *s = slurp("stderr.txt");
	rm("stderr.txt");
	return s;
}

static void test_layout(void)
{
	configure(base());
	log_write(LOG_MAIN, "hello %s", "world");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24 hello world\n");
	rm("mainlog");

	log_config c = base();
	CHECK(logsel_parse(SV_LIT("+millisec +pid"), &c.selector, NULL));
	c.timezone = true;
	configure(c);
	log_write(LOG_MAIN, "x");
	CHECK_STR(slurp("mainlog"), arena_printf(A, "2026-11-21 07:08:24.047 +0000 [%ld] x\n", (long)getpid()));
	rm("mainlog");

	c = base();
	CHECK(logsel_parse(SV_LIT("+millisec"), &c.selector, NULL));
	configure(c);
	log_write(LOG_MAIN, "ms");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24.047 ms\n");
	rm("mainlog");

	/* The timestamp follows the local zone. */
	tod_set_timezone("America/St_Johns");
	c = base();
	c.timezone = true;
	configure(c);
	log_write(LOG_MAIN, "tz");
	CHECK_STR(slurp("mainlog"), "2026-11-21 03:38:24 -0330 tz\n");
	rm("mainlog");
	tod_set_timezone("UTC");

	/* The current id follows the pid; LOG_NOID leaves it out. */
	c = base();
	CHECK(logsel_parse(SV_LIT("+pid"), &c.selector, NULL));
	configure(c);
	log_set_id("1xUfKl-0003zx-0f");
	log_write(LOG_MAIN, "<= a@b.c U=root P=local S=242");
	log_write(LOG_MAIN | LOG_NOID, "no id");
	log_set_id(NULL);
	log_write(LOG_MAIN, "after");
	CHECK_STR(slurp("mainlog"), arena_printf(A, "2026-11-21 07:08:24 [%ld] 1xUfKl-0003zx-0f <= a@b.c U=root P=local S=242\n"
		"2026-11-21 07:08:24 [%ld] no id\n2026-11-21 07:08:24 [%ld] after\n", (long)getpid(), (long)getpid(), (long)getpid()));
	rm("mainlog");

	/* Multi-line text (reject log header dumps) is written as it is. */
	configure(base());
	log_write(LOG_REJECT, "rejected\nEnvelope-from: <a@b>");
	CHECK_STR(slurp("rejectlog"), "2026-11-21 07:08:24 rejected\nEnvelope-from: <a@b>\n");
	CHECK_STR(slurp("mainlog"), "(missing)");
	rm("rejectlog");
}

static void test_destinations(void)
{
	configure(base());
	/* A panic line alone goes to the panic log alone (Exim's "logwrite = :panic:"). */
	log_write(LOG_PANIC, "panic line");
	CHECK_STR(slurp("paniclog"), "2026-11-21 07:08:24 panic line\n");
	CHECK_STR(slurp("mainlog"), "(missing)");
	log_write(LOG_MAIN | LOG_PANIC, "panic and main");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24 panic and main\n");
	log_write(LOG_MAIN | LOG_REJECT, "both");
	CHECK_STR(slurp("rejectlog"), "2026-11-21 07:08:24 both\n");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24 panic and main\n2026-11-21 07:08:24 both\n");
	rm("mainlog"); rm("paniclog"); rm("rejectlog");

	log_config c = base();
	c.write_rejectlog = false;
	configure(c);
	log_write(LOG_MAIN | LOG_REJECT, "no reject log");
	CHECK_STR(slurp("rejectlog"), "(missing)");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24 no reject log\n");
	rm("mainlog");

	/* Mode 0640 (with a permissive umask). */
	mode_t old = umask(0);
	configure(base());
	log_write(LOG_MAIN, "mode");
	struct stat sb;
	CHECK(stat(arena_printf(A, "%s/mainlog", dir), &sb) == 0);
	CHECK_INT(sb.st_mode & 0777, 0640);
	umask(old);
	rm("mainlog");
}

static void test_rotation(void)
{
	configure(base());
	log_write(LOG_MAIN, "one");
	char *from = arena_printf(A, "%s/mainlog", dir), *to = arena_printf(A, "%s/mainlog.0", dir);
	CHECK(rename(from, to) == 0);
	log_write(LOG_MAIN, "two");
	CHECK_STR(slurp("mainlog.0"), "2026-11-21 07:08:24 one\n");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24 two\n");
	/* log_reopen closes; the next write reopens the same name and appends. */
	log_reopen();
	log_write(LOG_MAIN, "three");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24 two\n2026-11-21 07:08:24 three\n");
	rm("mainlog"); rm("mainlog.0");
}

static void test_names(void)
{
	static const struct { const char *tmpl, *main, *panic; } rows[] = {
		{ "/var/spool/exim/log/%slog-%D", "/var/spool/exim/log/mainlog-20261121", "/var/spool/exim/log/paniclog" },
		{ "/var/log/exim-%s-%D.log", "/var/log/exim-main-20261121.log", "/var/log/exim-panic.log" },
		{ "/var/spool/exim/log/%D-%slog", "/var/spool/exim/log/20261121-mainlog", "/var/spool/exim/log/paniclog" },
		{ "/var/log/exim/%s.%M", "/var/log/exim/main.202611", "/var/log/exim/panic" },
		{ "/l/%slog", "/l/mainlog", "/l/paniclog" },
		{ " /l/%slog : syslog ", "/l/mainlog", "/l/paniclog" },
		{ "syslog", "", "" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		log_config c = base();
		c.file_path = rows[i].tmpl;
		configure(c);
		xbuf m, p;
		xbuf_init(&m, A);
		xbuf_init(&p, A);
		log_file_name(LOG_MAIN, &m);
		log_file_name(LOG_PANIC, &p);
		CHECK_STR(xbuf_cstr(&m), rows[i].main);
		CHECK_STR(xbuf_cstr(&p), rows[i].panic);
	}
	/* Empty or unset path: <spool>/log/%slog; the log directory is created on first write. */
	log_config c = base();
	c.file_path = "";
	c.spool_directory = dir;
	configure(c);
	xbuf m;
	xbuf_init(&m, A);
	log_file_name(LOG_REJECT, &m);
	CHECK_STR(xbuf_cstr(&m), arena_printf(A, "%s/log/rejectlog", dir));
	log_write(LOG_MAIN, "into the spool");
	CHECK_STR(slurp("log/mainlog"), "2026-11-21 07:08:24 into the spool\n");
	rm("log/mainlog");
	rmdir(arena_printf(A, "%s/log", dir));
	c.file_path = NULL;
	configure(c);
	xbuf_reset(&m);
	log_file_name(LOG_MAIN, &m);
	CHECK_STR(xbuf_cstr(&m), arena_printf(A, "%s/log/mainlog", dir));
	c.file_path = ":syslog";
	configure(c);
	xbuf_reset(&m);
	log_file_name(LOG_MAIN, &m);
	CHECK_STR(xbuf_cstr(&m), arena_printf(A, "%s/log/mainlog", dir));
}

static void test_config_errors(void)
{
	static const struct { const char *path, *facility, *procname, *err; } rows[] = {
		{ "/tmp/x", NULL, NULL, "log_file_path \"/tmp/x\" does not contain \"%s\"" },
		{ "/tmp/%s%slog", NULL, NULL, "log_file_path \"/tmp/%s%slog\" contains unexpected \"%\" character" },
		{ "/tmp/%%%slog", NULL, NULL, "log_file_path \"/tmp/%%%slog\" contains unexpected \"%\" character" },
		{ "/tmp/%x", NULL, NULL, "log_file_path \"/tmp/%x\" does not contain \"%s\"" },
		{ "/tmp/%s%x", NULL, NULL, "log_file_path \"/tmp/%s%x\" contains unexpected \"%\" character" },
		{ "/tmp/%s%D%D", NULL, NULL, "log_file_path \"/tmp/%s%D%D\" contains unexpected \"%\" character" },
		{ "SYSLOG", NULL, NULL, "log_file_path \"SYSLOG\" does not contain \"%s\"" },
		{ "syslog", "bogus", NULL, "failed to interpret syslog_facility \"bogus\"" },
		{ "syslog", "local8", NULL, "failed to interpret syslog_facility \"local8\"" },
		{ "syslog", NULL, "0123456789012345678901234567890123", "syslog_processname is longer than 32 chars: aborting" },
		{ "/tmp/%slog-%D", NULL, NULL, NULL }, { "/tmp/%M%slog", NULL, NULL, NULL },
		{ "syslog", "LOCAL3", NULL, NULL }, { "syslog", "log_local3", NULL, NULL }, { "syslog", "mail", NULL, NULL },
		{ "syslog", "daemon", "01234567890123456789012345678901", NULL }, { "", "", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		log_config c = base();
		c.file_path = rows[i].path;
		c.syslog_facility = rows[i].facility;
		c.syslog_processname = rows[i].procname;
		xbuf err;
		xbuf_init(&err, A);
		bool ok = log_configure(&c, &err);
		CHECK_INT(ok, rows[i].err == NULL);
		if (rows[i].err)
			CHECK_STR(xbuf_cstr(&err), rows[i].err);
	}
	/* A failed configure leaves the previous one in force. */
	configure(base());
	log_config bad = base();
	bad.file_path = "/nowhere/x";
	CHECK(!log_configure(&bad, NULL));
	log_write(LOG_MAIN, "still here");
	CHECK_STR(slurp("mainlog"), "2026-11-21 07:08:24 still here\n");
	rm("mainlog");

	/* More than one file path: the first is used and, at the first write, a panic line says so. */
	static const char *const lists[] = { "%s/%%slog:%s/b/%%s", "syslog:%s/%%slog:%s/b/%%s" };
	for (size_t i = 0; i < 2; i++) {
		log_config c = base();
		c.file_path = arena_printf(A, lists[i], dir, dir);
		configure(c);
		CHECK_STR(slurp("paniclog"), "(missing)");
		log_write(LOG_MAIN, "first");
		log_write(LOG_MAIN, "second");
		char *warn = arena_printf(A, "2026-11-21 07:08:24 More than one path given in log_file_path: using %s/%%slog\n", dir);
		CHECK_STR(slurp("paniclog"), warn);
		CHECK_STR(slurp("mainlog"), arena_printf(A, "%s2026-11-21 07:08:24 first\n2026-11-21 07:08:24 second\n", warn));
		rm("paniclog"); rm("mainlog");
	}
	/* syslog plus one path is fine. */
	log_config c = base();
	c.file_path = arena_printf(A, "syslog : %s/%%slog", dir);
	configure(c);
	log_write(LOG_MAIN, "quiet");
	CHECK_STR(slurp("paniclog"), "(missing)");
	rm("mainlog");
	log_reopen();
}

static void write_die(void)
{
	log_write(LOG_PANIC | LOG_DIE, "fatal");
}

static void write_through_symlink(void)
{
	log_write(LOG_MAIN, "must not follow");
}

static void write_panic(void)
{
	log_write(LOG_PANIC, "panic text");
}

static void die_hook(bool log_failure)
{
	fprintf(stderr, "hook %d\n", log_failure ? 1 : 0);
}

/* fn in a child, whose stderr is returned; *status its exit status (-1: killed). */
static char *run_child(void (*fn)(void), int *status)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char path[256];
		snprintf(path, sizeof path, "%s/stderr.txt", dir);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		close(fd);
		log_set_die_hook(die_hook);
		fn();
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	char *s = slurp("stderr.txt");
	rm("stderr.txt");
	return s;
}

static void test_unwritable(void)
{
	/* The main log cannot be opened (a symlink: O_NOFOLLOW): the process ends with status 1
	 * after Exim's text on stderr and the lost line and that text in the panic log. */
	log_config c = base();
	c.echo = LOG_ECHO_PANIC;
	configure(c);
	char *target = arena_printf(A, "%s/target", dir), *link = arena_printf(A, "%s/mainlog", dir);
	int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	close(fd);
	CHECK(symlink(target, link) == 0);
	int status;
	char *err = run_child(write_through_symlink, &status);
	CHECK_INT(status, 1);
	CHECK_STR(slurp("target"), ""); /* the link's target is untouched */
	char *cannot = arena_printf(A, "2026-11-21 07:08:24 Cannot open main log file \"%s\": Permission denied: euid=%d egid=%d\n",
		link, (int)geteuid(), (int)getegid());
	CHECK_STR(err, arena_printf(A, "%shook 0\n", cannot));
	CHECK_STR(slurp("paniclog"), arena_printf(A, "2026-11-21 07:08:24 must not follow\n%s", cannot));
	rm("mainlog"); rm("target"); rm("paniclog");

	/* Neither log can be opened: stderr has the text, the lost line, the text again and the
	 * abort; the hook hears it was the log. */
	c.file_path = "/proc/postern-no-such-dir/%slog";
	configure(c);
	err = run_child(write_through_symlink, &status);
	CHECK_INT(status, 1);
	cannot = "2026-11-21 07:08:24 Cannot open main log file \"/proc/postern-no-such-dir/mainlog\": Permission denied: ";
	CHECK(strncmp(err, cannot, strlen(cannot)) == 0);
	char *rest = strchr(err, '\n') + 1;
	static const char lost[] = "2026-11-21 07:08:24 must not follow\n";
	CHECK(strncmp(rest, lost, strlen(lost)) == 0);
	rest += strlen(lost);
	CHECK(strncmp(rest, cannot, strlen(cannot)) == 0);
	rest = strchr(rest, '\n') + 1;
	CHECK_STR(rest, "exim: could not open panic log - aborting: see message(s) above\nhook 1\n");

	/* A panic line whose log cannot be opened: shown, then the main-log form and the panic
	 * line (the same here), the abort; nothing is written to the main log. */
	err = run_child(write_panic, &status);
	CHECK_INT(status, 1);
	CHECK_STR(err, "2026-11-21 07:08:24 panic text\n2026-11-21 07:08:24 panic text\n2026-11-21 07:08:24 panic text\n"
		"exim: could not open panic log - aborting: see message(s) above\nhook 1\n");
	c.file_path = arena_printf(A, "%s/%%slog", dir);
	configure(c);
	CHECK(mkdir(arena_printf(A, "%s/paniclog", dir), 0700) == 0);
	err = run_child(write_panic, &status);
	CHECK_INT(status, 1);
	CHECK_STR(slurp("mainlog"), "(missing)");
	rmdir(arena_printf(A, "%s/paniclog", dir));
	/* LOG_DIE: the hook hears it was not the log. */
	c = base();
	c.echo = LOG_ECHO_PANIC;
	configure(c);
	err = run_child(write_die, &status);
	CHECK_INT(status, 1);
	CHECK_STR(err, "2026-11-21 07:08:24 fatal\nhook 0\n");
	rm("paniclog");
}

static void panic_tagged(void)
{
	log_write(LOG_MAIN | LOG_PANIC, "tagged %d", 42);
}

static void test_echo(void)
{
	log_config c = base();
	c.echo = LOG_ECHO_TAGGED;
	configure(c);
	CHECK_STR(capture_stderr(panic_tagged), "LOG: MAIN PANIC\n  tagged 42\n");
	c.echo = LOG_ECHO_PANIC;
	configure(c);
	CHECK_STR(capture_stderr(panic_tagged), "2026-11-21 07:08:24 tagged 42\n");
	c.echo = LOG_ECHO_NONE;
	configure(c);
	CHECK_STR(capture_stderr(panic_tagged), "");
	CHECK(strstr(slurp("paniclog"), "tagged 42") != NULL);
	rm("mainlog"); rm("paniclog");
}

static void test_die(void)
{
	configure(base());
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		log_write(LOG_PANIC | LOG_DIE, "fatal");
		_exit(0); /* not reached */
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 1);
	CHECK_STR(slurp("paniclog"), "2026-11-21 07:08:24 fatal\n");
	rm("mainlog"); rm("paniclog");
}

static void test_syslog_split(void)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "short line", "short line" },
		{ "", "" },
		{ "a\nb", "[1\\2] a\n[2/2] b" },
		{ "head\nh1\nh2", "[1\\3] head\n[2\\3] h1\n[3/3] h2" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf b;
		xbuf_init(&b, A);
		log_syslog_split(sv_cstr(rows[i].in), &b);
		CHECK_STR(xbuf_cstr(&b), rows[i].want);
	}
	/* 2000 characters: 870 + 870 + 260, split for length. */
	char *big = arena_alloc(A, 2001);
	memset(big, 'x', 2000);
	big[2000] = 0;
	xbuf b;
	xbuf_init(&b, A);
	log_syslog_split(sv_cstr(big), &b);
	CHECK(strncmp(xbuf_cstr(&b), "[1/3] xxx", 9) == 0);
	CHECK(strstr(xbuf_cstr(&b), "\n[2/3] ") != NULL);
	CHECK(strstr(xbuf_cstr(&b), "\n[3/3] ") != NULL);
	CHECK_INT(b.len, 2000 + 3 * 6 + 2);
	/* 870 characters exactly is one piece, unprefixed. */
	big[870] = 0;
	xbuf_reset(&b);
	log_syslog_split(sv_cstr(big), &b);
	CHECK_INT(b.len, 870);
}

static void test_syslog_text(void)
{
	struct timeval tv;
	fixed_clock(&tv);
	log_config c = base();
	c.file_path = "syslog";
	CHECK(logsel_parse(SV_LIT("+pid +millisec"), &c.selector, NULL));
	configure(c);
	xbuf b;
	xbuf_init(&b, A);
	log_syslog_text(&tv, "text", &b);
	CHECK_STR(xbuf_cstr(&b), arena_printf(A, "2026-11-21 07:08:24.047 [%ld] text", (long)getpid()));
	c.syslog_timestamp = false;
	configure(c);
	xbuf_reset(&b);
	log_syslog_text(&tv, "text", &b);
	CHECK_STR(xbuf_cstr(&b), arena_printf(A, "[%ld] text", (long)getpid()));
	c.syslog_pid = false;
	configure(c);
	xbuf_reset(&b);
	log_syslog_text(&tv, "text", &b);
	CHECK_STR(xbuf_cstr(&b), "text");
	c.syslog_timestamp = true;
	configure(c);
	xbuf_reset(&b);
	log_syslog_text(&tv, "text", &b);
	CHECK_STR(xbuf_cstr(&b), "2026-11-21 07:08:24.047 text");
	log_reopen();
}

static void test_syslog_only(void)
{
	/* Syslog-only logging writes no files (the syslog calls themselves are not observable here). */
	log_config c = base();
	c.file_path = "syslog";
	c.syslog_facility = "local7";
	configure(c);
	log_write(LOG_MAIN, "to syslog");
	CHECK_STR(slurp("mainlog"), "(missing)");
	log_reopen();
}

/* The final directory is made (0750) when missing; the file is 0640; an opener set with
 * log_set_opener is the one used. */
static int opener_calls;
static int counting_opener(const char *name)
{
	opener_calls++;
	return log_open_path(name);
}

static void test_open_path(void)
{
	char *name = arena_printf(A, "%s/a/b/c/mainlog", dir);
	CHECK(log_open_path(name) < 0); /* only the final directory is made */
	CHECK(mkdir(arena_printf(A, "%s/a", dir), 0700) == 0 && mkdir(arena_printf(A, "%s/a/b", dir), 0700) == 0);
	int fd = log_open_path(name);
	CHECK(fd >= 0);
	struct stat sb;
	CHECK(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0777 & ~0640u) == 0); /* 0640 less umask */
	close(fd);
	CHECK(stat(arena_printf(A, "%s/a/b/c", dir), &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777 & ~0750u) == 0);
	CHECK(log_open_path(arena_printf(A, "%s/a/b/c", dir)) < 0); /* a directory is no log file */

	log_config c = base();
	c.file_path = arena_printf(A, "%s/a/b/c/%%slog", dir);
	configure(c);
	log_set_opener(counting_opener);
	log_write(LOG_MAIN, "through the opener");
	log_set_opener(NULL);
	CHECK(opener_calls == 1);
	CHECK(strstr(slurp("a/b/c/mainlog"), "through the opener") != NULL);
	unlink(name);
	rmdir(arena_printf(A, "%s/a/b/c", dir));
	rmdir(arena_printf(A, "%s/a/b", dir));
	rmdir(arena_printf(A, "%s/a", dir));
	log_reopen();
}

int main(void)
{
	A = arena_new("test_log");
	snprintf(dir, sizeof dir, "/tmp/postern-test-log-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	tod_set_timezone("UTC");
	RUN(test_layout);
	RUN(test_destinations);
	RUN(test_rotation);
	RUN(test_names);
	RUN(test_config_errors);
	RUN(test_unwritable);
	RUN(test_echo);
	RUN(test_die);
	RUN(test_syslog_split);
	RUN(test_syslog_text);
	RUN(test_syslog_only);
	RUN(test_open_path);
	log_reopen();
	rmdir(dir);
	arena_free(A);
	return unit_report("test_log");
}
