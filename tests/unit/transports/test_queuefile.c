/* The queuefile transport on real spool messages (facts §9): hard links on the same file system,
 * exclusive copies across file systems (byte-identical, spool mode), existing files, missing and
 * relative directories (panic), -N, and no header file left without its data. */
#include <errno.h>

#include "localtp_fixture.h"

static const char *config_text =
	"primary_hostname = mail.test.ex\n"
	"qualify_domain = test.ex\n"
	"spool_directory = %T/spool\n"
	"begin transports\n"
	"qf:\n"
	"  driver = queuefile\n"
	"  directory = %T/out\n"
	"qf_var:\n"
	"  driver = queuefile\n"
	"  directory = $address_data\n"
	"qf_rel:\n"
	"  driver = queuefile\n"
	"  directory = test-mail/subdir\n"
	"qf_bad:\n"
	"  driver = queuefile\n"
	"  directory = ${if eq{1}{1}{\n";

static char shm_dir[] = "/dev/shm/localtp_qf_XXXXXX";

static const char *path_of(const char *dir, const fx_msg *x, const char *suffix)
{
	return arena_printf(pool_scratch, "%s/%s%s", dir, x->m->id, suffix);
}

/* Both copies hold exactly what the spool files hold. */
static void check_identical(const fx_msg *x, const char *dir)
{
	for (int i = 0; i < 2; i++) {
		const char *sfx = i ? "-D" : "-H";
		size_t n1 = 0, n2 = 0;
		char *orig = fx_read(spool_path(pool_scratch, &x->sc, "input", x->m->id, sfx), &n1);
		char *copy = fx_read(path_of(dir, x, sfx), &n2);
		CHECK(orig != NULL && copy != NULL);
		CHECK(orig && copy && n1 == n2 && n1 > 0 && memcmp(orig, copy, n1) == 0);
	}
}

static void test_link_same_fs(void)
{
	fx_msg x;
	fx_message(&x, "sender@test.ex", "userx@test.ex,usery@test.ex",
		"Subject: queuefile\nTo: userx@test.ex\n", "line 1\nline 2\n");
	const char *out = arena_printf(pool_scratch, "%s/out", fx_dir);
	CHECK(mkdir(out, 0750) == 0);
	fx_deliver(&x, "qf");
	CHECK_INT(x.addrs->result, ADDR_OK);
	CHECK_INT(x.addrs->next->result, ADDR_OK);
	check_identical(&x, out);
	struct stat a, b;
	CHECK(stat(spool_path(pool_scratch, &x.sc, "input", x.m->id, "-D"), &a) == 0);
	CHECK(stat(path_of(out, &x, "-D"), &b) == 0);
	CHECK(a.st_ino == b.st_ino && b.st_nlink == 2);
	/* The copy names every recipient, and the data file starts with its own id line. */
	char *h = fx_read(path_of(out, &x, "-H"), NULL);
	CHECK(h && strstr(h, "userx@test.ex\n") && strstr(h, "usery@test.ex\n"));
	char *d = fx_read(path_of(out, &x, "-D"), NULL);
	CHECK(d && strncmp(d, x.m->id, MSG_ID_LEN) == 0 && strcmp(d + MSG_ID_LEN, "-D\nline 1\nline 2\n") == 0);

	/* A second delivery into the same directory finds the files there. */
	fx_deliver(&x, "qf");
	CHECK_INT(x.addrs->result, ADDR_DEFER);
	CHECK_INT(x.addrs->basic_errno, EEXIST);
	CHECK_STR(fx_text(&x, 0), arena_printf(pool_scratch,
		"qf transport linking file: %s failed with error: File exists", path_of(out, &x, "-H")));
	fx_message_done(&x);
}

static void test_copy_other_fs(void)
{
	fx_msg x;
	fx_message(&x, "", "userx@test.ex", "Subject: copy\n", "body\n");
	x.addrs->address_data = sv_cstr(shm_dir);
	umask(077);
	fx_deliver(&x, "qf_var");
	umask(022);
	CHECK_INT(x.addrs->result, ADDR_OK);
	CHECK_STR(fx_text(&x, 0), "");
	check_identical(&x, shm_dir);
	struct stat a, b;
	CHECK(stat(spool_path(pool_scratch, &x.sc, "input", x.m->id, "-H"), &a) == 0);
	CHECK(stat(path_of(shm_dir, &x, "-H"), &b) == 0);
	CHECK(a.st_dev != b.st_dev && b.st_nlink == 1);
	CHECK_INT(b.st_mode & 07777, 0640);   /* the spool mode, whatever the umask */

	/* Existing files are never overwritten. */
	fx_deliver(&x, "qf_var");
	CHECK_INT(x.addrs->result, ADDR_DEFER);
	CHECK_INT(x.addrs->basic_errno, EEXIST);
	CHECK_STR(fx_text(&x, 0), arena_printf(pool_scratch,
		"qf_var transport opening file: %s failed with error: File exists", path_of(shm_dir, &x, "-H")));
	fx_message_done(&x);
}

static void test_data_failure_removes_header(void)
{
	fx_msg x;
	fx_message(&x, "a@test.ex", "userx@test.ex", "Subject: half\n", "body\n");
	const char *out = arena_printf(pool_scratch, "%s/out", fx_dir);
	/* A data file of that name already there: the header link must be taken back. */
	fx_write(path_of(out, &x, "-D"), "in the way\n");
	fx_deliver(&x, "qf");
	CHECK_INT(x.addrs->result, ADDR_DEFER);
	CHECK_STR(fx_text(&x, 0), arena_printf(pool_scratch,
		"qf transport linking file: %s failed with error: File exists", path_of(out, &x, "-D")));
	CHECK(access(path_of(out, &x, "-H"), F_OK) != 0 && errno == ENOENT);

	/* The same across file systems. */
	x.addrs->address_data = sv_cstr(shm_dir);
	fx_write(path_of(shm_dir, &x, "-D"), "in the way\n");
	fx_deliver(&x, "qf_var");
	CHECK_INT(x.addrs->result, ADDR_DEFER);
	CHECK(access(path_of(shm_dir, &x, "-H"), F_OK) != 0 && errno == ENOENT);
	fx_message_done(&x);
}

static void test_directory_problems(void)
{
	fx_msg x;
	fx_message(&x, "a@test.ex", "userx@test.ex", "Subject: dirs\n", "body\n");
	const char *missing = arena_printf(pool_scratch, "%s/subdir", fx_dir);
	x.addrs->address_data = sv_cstr(missing);
	fx_deliver(&x, "qf_var");
	CHECK_INT(x.addrs->result, ADDR_DEFER);
	CHECK_INT(x.addrs->basic_errno, ENOENT);
	CHECK_STR(fx_text(&x, 0), arena_printf(pool_scratch,
		"qf_var transport accessing directory: %s failed with error: No such file or directory", missing));

	/* A symbolic link is not followed. */
	const char *link = arena_printf(pool_scratch, "%s/outlink", fx_dir);
	CHECK(symlink(arena_printf(pool_scratch, "%s/out", fx_dir), link) == 0);
	x.addrs->address_data = sv_cstr(link);
	fx_deliver(&x, "qf_var");
	CHECK_INT(x.addrs->result, ADDR_DEFER);
	CHECK(x.addrs->basic_errno == ELOOP || x.addrs->basic_errno == ENOTDIR);

	/* Relative after expansion: a configuration problem (panic, "defer (-1)"). */
	fx_deliver(&x, "qf_rel");
	CHECK_INT(x.addrs->result, ADDR_PANIC);
	CHECK_INT(x.addrs->basic_errno, -1);
	CHECK_STR(fx_text(&x, 0), "qf_rel transport directory: test-mail/subdir is not absolute");

	/* An expansion failure defers. */
	fx_deliver(&x, "qf_bad");
	CHECK_INT(x.addrs->result, ADDR_DEFER);
	CHECK(strncmp(fx_text(&x, 0), "Expansion of \"${if eq{1}{1}{\" (directory for qf_bad transport) failed: ", 70) == 0);

	/* -N: nothing is written and the address counts as delivered. */
	const char *empty = arena_printf(pool_scratch, "%s/empty", fx_dir);
	CHECK(mkdir(empty, 0750) == 0);
	x.addrs->address_data = sv_cstr(empty);
	x.c.dont_deliver = true;
	fx_deliver(&x, "qf_var");
	CHECK_INT(x.addrs->result, ADDR_OK);
	CHECK(access(path_of(empty, &x, "-H"), F_OK) != 0);
	x.c.dont_deliver = false;
	fx_message_done(&x);
}

int main(void)
{
	fx_init(config_text);
	if (!mkdtemp(shm_dir))
		return 1;
	RUN(test_link_same_fs);
	RUN(test_copy_other_fs);
	RUN(test_data_failure_removes_header);
	RUN(test_directory_problems);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf %s", shm_dir);
	if (system(cmd) != 0)
		return 1;
	fx_done();
	return unit_report("test_queuefile");
}
