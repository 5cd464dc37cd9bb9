/* durable.h: whole-file replacement, the open/write/commit/abort API, and every reachable error
 * path leaving no temporary file behind. Runs in a fresh temp dir. */
#include "lib/durable.h"
#include "../unit.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static arena *A;
static char dir[64];

static char *path(const char *name) { return arena_printf(A, "%s/%s", dir, name); }

static char *slurp(const char *name)
{
	FILE *f = fopen(path(name), "r");
	if (!f)
		return arena_strdup(A, "(missing)");
	char *buf = arena_alloc(A, 4096);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Number of leftover temporary files in the test directory. */
static int tmp_files(void)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

static void test_write_file(void)
{
	xbuf err;
	xbuf_init(&err, A);
	CHECK(durable_write_file(path("a"), "first\n", 6, 0640, &err));
	CHECK_STR(slurp("a"), "first\n");
	CHECK(durable_write_file(path("a"), "second\n", 7, 0600, &err));
	CHECK_STR(slurp("a"), "second\n");
	struct stat sb;
	CHECK(stat(path("a"), &sb) == 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	CHECK(durable_write_file(path("empty"), "", 0, 0644, &err));
	CHECK_STR(slurp("empty"), "");
	CHECK(stat(path("empty"), &sb) == 0);
	CHECK_INT(sb.st_mode & 0777, 0644);
	CHECK_INT(err.len, 0);
	CHECK_INT(tmp_files(), 0);
	unlink(path("a"));
	unlink(path("empty"));
}

static void test_api(void)
{
	xbuf err;
	xbuf_init(&err, A);
	durable_file f;
	CHECK(durable_open(&f, path("b"), 0640, &err));
	CHECK(f.tmp_path && strstr(f.tmp_path, "/.b.tmp.") != NULL);
	CHECK(durable_write(&f, "part1 ", 6, &err));
	CHECK(durable_write(&f, "part2", 5, &err));
	CHECK_STR(slurp("b"), "(missing)"); /* nothing visible before commit */
	CHECK_INT(tmp_files(), 1);
	CHECK(durable_commit(&f, &err));
	durable_abort(&f); /* safe after commit */
	CHECK_STR(slurp("b"), "part1 part2");
	CHECK_INT(tmp_files(), 0);

	/* Abort keeps the old content and removes the temporary file. */
	CHECK(durable_open(&f, path("b"), 0640, &err));
	CHECK(durable_write(&f, "discarded", 9, &err));
	durable_abort(&f);
	durable_abort(&f); /* twice is fine */
	CHECK_STR(slurp("b"), "part1 part2");
	CHECK_INT(tmp_files(), 0);
	/* Using a handle after abort fails cleanly. */
	CHECK(!durable_write(&f, "x", 1, &err));
	CHECK(strstr(xbuf_cstr(&err), "file is not open") != NULL);
	durable_abort(&f);
	unlink(path("b"));
}

/* durable_publish in two steps: the rename refuses content that was not synced. */
static void test_sync_then_rename(void)
{
	xbuf err;
	xbuf_init(&err, A);
	durable_file f;
	CHECK(durable_open(&f, path("c"), 0640, &err));
	CHECK(durable_write(&f, "unsynced", 8, &err));
	CHECK(!durable_rename(&f, &err));
	CHECK(strstr(xbuf_cstr(&err), "content not synced") != NULL);
	CHECK_STR(slurp("c"), "(missing)");
	CHECK_INT(tmp_files(), 0); /* the refused temporary is gone */
	durable_abort(&f);

	xbuf_reset(&err);
	CHECK(durable_open(&f, path("c"), 0640, &err));
	CHECK(durable_write(&f, "synced", 6, &err));
	CHECK(durable_sync(&f, &err));
	CHECK_STR(slurp("c"), "(missing)"); /* not named before the rename */
	CHECK(durable_rename(&f, &err));
	CHECK_STR(slurp("c"), "synced");
	CHECK(durable_finish(&f, &err));
	CHECK_INT(err.len, 0);
	CHECK_INT(tmp_files(), 0);
	durable_abort(&f);
	unlink(path("c"));
}

static void test_errors(void)
{
	static const struct { const char *target; const char *want; } rows[] = {
		{ "/nonexistent-dir-postern/x", "failed to create temporary file \"/nonexistent-dir-postern/.x.tmp." },
		{ "/nonexistent-dir-postern/", "cannot write \"/nonexistent-dir-postern/\": not a file name" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		xbuf err;
		xbuf_init(&err, A);
		CHECK(!durable_write_file(rows[i].target, "x", 1, 0600, &err));
		CHECK(strncmp(xbuf_cstr(&err), rows[i].want, strlen(rows[i].want)) == 0);
		if (strncmp(xbuf_cstr(&err), rows[i].want, strlen(rows[i].want)) != 0)
			fprintf(stderr, "got: %s\n", xbuf_cstr(&err));
	}
	xbuf err;
	xbuf_init(&err, A);
	CHECK(!durable_write_file("/nonexistent-dir-postern/x", "x", 1, 0600, &err));
	CHECK(strstr(xbuf_cstr(&err), ": No such file or directory") != NULL);

	/* Rename onto a directory fails after writing: message names both, no temporary file left. */
	CHECK(mkdir(path("adir"), 0700) == 0);
	xbuf_reset(&err);
	CHECK(!durable_write_file(path("adir"), "data", 4, 0600, &err));
	CHECK(strncmp(xbuf_cstr(&err), "failed to rename \"", 18) == 0);
	CHECK(strstr(xbuf_cstr(&err), "Is a directory") != NULL);
	CHECK_INT(tmp_files(), 0);
	rmdir(path("adir"));

	/* Commit after a failed write repeats the first message. */
	durable_file f;
	CHECK(!durable_open(&f, "/nonexistent-dir-postern/y", 0600, NULL));
	xbuf_reset(&err);
	CHECK(!durable_commit(&f, &err));
	CHECK(strncmp(xbuf_cstr(&err), "failed to create temporary file", 31) == 0);
	durable_abort(&f);
}

/* A write that fails half way (file size limit): precise message, no temporary file. */
static void test_write_failure(void)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 10, 10 };
		setrlimit(RLIMIT_FSIZE, &rl);
		xbuf err;
		xbuf_init(&err, NULL);
		bool ok = durable_write_file(path("big"), "0123456789abcdefghij", 20, 0600, &err);
		int code = ok ? 2 : strncmp(xbuf_cstr(&err), "failed to write \"", 17) != 0 ? 3
			: strstr(xbuf_cstr(&err), "File too large") == NULL ? 4 : tmp_files() != 0 ? 5 : 0;
		_exit(code);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
	CHECK_STR(slurp("big"), "(missing)");
}

static void test_sync_dir(void)
{
	xbuf err;
	xbuf_init(&err, A);
	CHECK(durable_sync_dir(dir, &err));
	CHECK(!durable_sync_dir("/nonexistent-dir-postern", &err));
	static const char want[] = "failed to open directory \"/nonexistent-dir-postern\": No such file";
	CHECK(strncmp(xbuf_cstr(&err), want, strlen(want)) == 0);
	/* A relative name commits in the current directory. */
	char cwd[512];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(chdir(dir) == 0);
	CHECK(durable_write_file("rel", "r", 1, 0600, NULL));
	CHECK(chdir(cwd) == 0);
	CHECK_STR(slurp("rel"), "r");
	unlink(path("rel"));
}

int main(void)
{
	A = arena_new("test_durable");
	snprintf(dir, sizeof dir, "/tmp/postern-test-durable-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_write_file);
	RUN(test_api);
	RUN(test_sync_then_rename);
	RUN(test_errors);
	RUN(test_write_failure);
	RUN(test_sync_dir);
	CHECK_INT(tmp_files(), 0);
	rmdir(dir);
	arena_free(A);
	return unit_report("test_durable");
}
