/* The appendfile transport against real files: a message is spooled with spool_begin_message /
 * spool_commit, a transport is read from a real configuration, and appendfile_transport_ops.deliver
 * runs in this process (as the delivery process's child would). Outcomes and texts are the ones
 * Exim 4.96 logs for the same cases (recorded with Debian's exim4, see
 * tests/golden/appendfile/README). Writes that need the message writer (core/tp_write.h) are
 * checked only once it is built; the checks before writing (file type, owner, mode, locks,
 * quotas) do not need it.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/addr.h"
#include "core/message.h"
#include "core/spool.h"
#include "core/tp_write.h"
#include "core/transport.h"
#include "drivers/transports/appendfile_internal.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "../unit.h"

static char dir[] = "/tmp/postern-appendfile-XXXXXX";
static spool_config sc;
static message *msg;
static int data_fd = -1;
static bool writer_ok;

static const char config_text[] =
	"primary_hostname = test.example\n"
	"qualify_domain = test.example\n"
	"spool_directory = DIR/spool\n"
	"queue_only\n"
	"begin transports\n"
	"t_mbox:\n  driver = appendfile\n  file = DIR/mail/mbox\n"
	"t_full:\n  driver = appendfile\n  file = DIR/mail/full\n  quota = 50\n"
	"t_dir:\n  driver = appendfile\n  file = DIR/mail/adir\n"
	"t_fifo:\n  driver = appendfile\n  file = DIR/mail/fifo\n"
	"t_owner:\n  driver = appendfile\n  file = DIR/mail/owner\n"
	"t_narrow:\n  driver = appendfile\n  file = DIR/mail/narrow\n  mode = 0640\n"
	"t_wide:\n  driver = appendfile\n  file = DIR/mail/wide\n"
	"t_must:\n  driver = appendfile\n  file = DIR/mail/must\n  file_must_exist\n"
	"t_lockt:\n  driver = appendfile\n  file = DIR/mail/lockt\n  lock_retries = 2\n  lock_interval = 0s\n"
	"t_stale:\n  driver = appendfile\n  file = DIR/mail/stale\n  lockfile_timeout = 60s\n  lock_retries = 2\n  lock_interval = 0s\n"
	"t_fcntl:\n  driver = appendfile\n  file = DIR/mail/fcntl\n  use_lockfile = false\n  lock_retries = 2\n  lock_interval = 0s\n"
	"t_symlink:\n  driver = appendfile\n  file = DIR/mail/symlink\n"
	"t_inhome:\n  driver = appendfile\n  file = DIR/elsewhere/box\n  create_file = belowhome\n"
	"t_md:\n  driver = appendfile\n  directory = DIR/mail/Maildir\n  maildir_format\n"
	"t_mdfull:\n  driver = appendfile\n  directory = DIR/mail/mdfull\n  maildir_format\n  quota = 50\n"
	"t_mdcount:\n  driver = appendfile\n  directory = DIR/mail/mdcount\n  maildir_format\n  quota = 1M\n  quota_filecount = 1\n"
	"t_mdsize:\n  driver = appendfile\n  directory = DIR/mail/mdsize\n  maildir_format\n  maildir_use_size_file\n  quota = 10M\n"
	"t_mdtag:\n  driver = appendfile\n  directory = DIR/mail/mdtag\n  maildir_format\n  maildir_tag = ,S=$message_size\n"
	"t_plain:\n  driver = appendfile\n  directory = DIR/mail/plain\n  directory_file = msg-$inode\n"
	"t_par:\n  driver = appendfile\n  file = DIR/mail/par\n  lock_interval = 0s\n  lock_retries = 10000\n"
	"t_mdpar:\n  driver = appendfile\n  directory = DIR/mail/mdpar\n  maildir_format\n"
	"t_warn:\n  driver = appendfile\n  file = DIR/mail/warn\n  quota = 10M\n  quota_warn_threshold = 0.001%\n"
	"t_ms:\n  driver = appendfile\n  directory = DIR/mail/ms\n  mailstore_format\n"
	"  mailstore_prefix = PREFIX $mailstore_basename\n  mailstore_suffix = SUFFIX\n"
	"t_flock:\n  driver = appendfile\n  file = DIR/mail/flock\n  use_lockfile = false\n  use_fcntl_lock = false\n"
	"  use_flock_lock\n  lock_retries = 2\n  lock_interval = 0s\n"
	"t_fwait:\n  driver = appendfile\n  file = DIR/mail/fwait\n  use_lockfile = false\n  lock_fcntl_timeout = 5s\n"
	"  lock_retries = 1\n"
	"t_taint:\n  driver = appendfile\n  file = DIR/mail/$local_part\n"
	/* as tests/golden/appendfile/exim.conf */
	"g_mbox:\n  driver = appendfile\n  file = DIR/golden/mbox\n  return_path_add\n  envelope_to_add\n"
	"g_bounce:\n  driver = appendfile\n  file = DIR/golden/bounce\n  return_path_add\n"
	"g_crlf:\n  driver = appendfile\n  file = DIR/golden/crlf\n  use_crlf\n"
	"  message_prefix = \"From ${if def:return_path{$return_path}{MAILER-DAEMON}} ${tod_bsdinbox}\\r\\n\"\n"
	"  message_suffix = \"\\r\\n\"\n"
	"g_maildir:\n  driver = appendfile\n  directory = DIR/golden/Maildir\n  maildir_format\n  envelope_to_add\n"
	"g_bsmtp:\n  driver = appendfile\n  file = DIR/golden/bsmtp\n  use_bsmtp\n  message_prefix = \"HELO test.example\\n\"\n";

static void write_config(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/test.conf", dir);
	FILE *f = fopen(path, "w");
	for (const char *p = config_text; *p; p++) {
		if (strncmp(p, "DIR", 3) == 0) {
			fputs(dir, f);
			p += 2;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	xbuf err;
	xbuf_init(&err, NULL);
	if (!conf_load(path, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		exit(1);
	}
}

/* A message with a body line starting "From " (escaped in mbox files). */
static void spool_message(void)
{
	sc = (spool_config){ .directory = arena_printf(pool_perm, "%s/spool", dir), .mode = 0640,
		.uid = (uid_t)-1, .gid = (gid_t)-1 };
	msg = message_new(pool_perm);
	static msg_origin o;
	o.login = sv_cstr("root");
	o.protocol = sv_cstr("local");
	msg->origin = &o;
	msg->sender = sv_cstr("sender@x.example");
	message_add_recipient(msg, sv_cstr("user@test.example"));
	message_add_header(msg, 'S', sv_cstr("Subject: hi\n"));
	message_add_header(msg, 'F', sv_cstr("From: a@b.example\n"));
	static const char body[] = "From the start\nline2\n.dot\n";
	msg->body_linecount = 3;
	xbuf err;
	xbuf_init(&err, NULL);
	spool_txn *t = spool_begin_message(&sc, msg, &err);
	if (!t || !spool_write_body(t, body, sizeof body - 1, &err) || !spool_commit(t, msg, &err)) {
		fprintf(stderr, "spool: %s\n", xbuf_cstr(&err));
		exit(1);
	}
	msg->size = message_header_size(msg) + 1 + (long long)(sizeof body - 1);
	data_fd = dup(spool_data_fd(t));
	spool_end(t);
}

typedef struct result {
	addr_result r;
	int basic_errno, more_errno;
	char text[1024];
	bool freeze;
} result;

/* Deliver to transport tname for local part lp (-N when dont). */
static result deliver_ex(const char *tname, const char *lp, bool dont, addr_kind kind, const char *pfr_path)
{
	result res = { 0 };
	const driver_instance *t = tp_find(tname);
	CHECK(t != NULL);
	if (!t)
		return res;
	arena *a = arena_new("test");
	xp_env env;
	xp_env_init(&env, a);
	message_vars mv;
	message_vars_init(&mv, msg, NULL);
	xp_env_push_provider(&env, &mv.p);
	address_item *ad = route_new_address(a, sv_tainted(sv_cstr(arena_printf(a, "%s@test.example", lp))));
	if (pfr_path) {
		ad->kind = kind;
		ad->address = sv_cstr(pfr_path);
	}
	ad->home = sv_cstr(arena_printf(a, "%s/home", dir));
	xp_provider rp;
	route_vars_push(&env, &rp, ad);
	tp_ctx c = { .a = a, .env = &env, .m = msg, .sc = &sc, .data_fd = data_fd, .dont_deliver = dont };
	const transport_ops *ops = t->info->ops;
	ops->deliver(t, &c, ad);
	res.r = ad->result;
	res.basic_errno = ad->basic_errno;
	res.more_errno = ad->more_errno;
	res.freeze = ad->freeze;
	snprintf(res.text, sizeof res.text, "%.*s", (int)ad->message.len, ad->message.p ? ad->message.p : "");
	xp_env_release(&env);
	arena_free(a);
	return res;
}

static result deliver(const char *tname)
{
	return deliver_ex(tname, "user", false, ADDR_MAIL, NULL);
}

static const char *mail(const char *name)
{
	return arena_printf(pool_perm, "%s/mail/%s", dir, name);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void expect(result r, addr_result want, int want_errno, const char *text)
{
	CHECK_INT(r.r, want);
	CHECK_INT(r.basic_errno, want_errno);
	if (text)
		CHECK_STR(r.text, text);
}

static void test_parse_size(void)
{
	static const struct { const char *in; bool pct; long long q; bool ok; long long v; bool nc; } cases[] = {
		{ "100", false, 0, true, 100, false },
		{ "10K", false, 0, true, 10240, false },
		{ "1.5M", false, 0, true, 1572864, false },
		{ "2G", false, 0, true, 2147483648LL, false },
		{ " 5m /no_check", false, 0, true, 5242880, true },
		{ "75%", true, 1000, true, 750, false },
		{ "75%", true, 0, true, 0, false },
		{ "75%", false, 1000, false, 0, false },
		{ "", false, 0, true, 0, false },
		{ "x", false, 0, false, 0, false },
		{ "10/check", false, 0, false, 0, false },
		{ "99999999999999999999G", false, 0, false, 0, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long long v = -1;
		bool nc = false;
		bool ok = af_parse_size(sv_cstr(cases[i].in), cases[i].pct, cases[i].q, &v, &nc);
		CHECK_INT(ok, cases[i].ok);
		if (ok && cases[i].ok) {
			CHECK_INT(v, cases[i].v);
			CHECK_INT(nc, cases[i].nc);
		}
	}
}

/* The checks before anything is written, with Exim's outcome texts. */
static void test_file_checks(void)
{
	char *t;
	expect(deliver("t_full"), ADDR_DEFER, -22,
		t = arena_printf(pool_perm, "mailbox is full (MTA-imposed quota exceeded while writing to %s)", mail("full")));
	struct stat st;
	CHECK(stat(mail("full"), &st) == 0 && st.st_size == 0);  /* created, nothing left in it */
	/* more_errno: seconds since the mailbox was last read (for quota_<time> retry rules). */
	struct timespec hour_ago[2] = { { .tv_sec = time(NULL) - 3600 }, { .tv_nsec = UTIME_OMIT } };
	utimensat(AT_FDCWD, mail("full"), hour_ago, 0);
	result fr = deliver("t_full");
	CHECK(fr.basic_errno == -22 && fr.more_errno >= 3600 && fr.more_errno < 3700);

	mkdir(mail("adir"), 0700);
	expect(deliver("t_dir"), ADDR_DEFER, -4, arena_printf(pool_perm, "mailbox %s has too many links (2)", mail("adir")));
	mkfifo(mail("fifo"), 0600);
	expect(deliver("t_fifo"), ADDR_DEFER, -4, arena_printf(pool_perm, "mailbox %s is not a regular file", mail("fifo")));

	int fd = open(mail("narrow"), O_CREAT | O_WRONLY, 0600);
	close(fd);
	chmod(mail("narrow"), 0600);
	expect(deliver("t_narrow"), ADDR_DEFER, -7,
		arena_printf(pool_perm, "mailbox %s has the wrong mode 600 (640 expected)", mail("narrow")));

	expect(deliver("t_must"), ADDR_DEFER, ENOENT,
		arena_printf(pool_perm, "mailbox %s does not exist, but file_must_exist is set", mail("must")));
	CHECK(access(mail("must"), F_OK) != 0);

	if (geteuid() == 0) {
		fd = open(mail("owner"), O_CREAT | O_WRONLY, 0600);
		close(fd);
		CHECK(chown(mail("owner"), 1001, 1001) == 0);
		expect(deliver("t_owner"), ADDR_DEFER, -6,
			arena_printf(pool_perm, "mailbox %s has wrong uid (1001 != 0)", mail("owner")));
		CHECK(symlink(mail("mbox"), mail("symlink")) == 0);
		CHECK(lchown(mail("symlink"), 1001, 1001) == 0);
		expect(deliver("t_symlink"), ADDR_DEFER, -6,
			arena_printf(pool_perm, "mailbox %s (symlink) has wrong uid (1001 != 0)", mail("symlink")));
	}

	/* A lock file held by somebody else (and not stale): give up after lock_retries. */
	fd = open(arena_printf(pool_perm, "%s.lock", mail("lockt")), O_CREAT | O_WRONLY, 0600);
	close(fd);
	expect(deliver("t_lockt"), ADDR_DEFER, -9,
		arena_printf(pool_perm, "failed to lock mailbox %s (lock file)", mail("lockt")));
	CHECK(access(mail("lockt"), F_OK) != 0);

	/* An fcntl lock held by another process. */
	fd = open(mail("fcntl"), O_CREAT | O_RDWR, 0600);
	close(fd);
	int up[2], down[2];
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	pid_t child = fork();
	if (child == 0) {
		int f = open(mail("fcntl"), O_RDWR);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		fcntl(f, F_SETLK, &fl);
		if (write(up[1], "x", 1) != 1)
			_exit(1);
		char c;
		if (read(down[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	char ch;
	CHECK(read(up[0], &ch, 1) == 1);
	expect(deliver("t_fcntl"), ADDR_DEFER, -9,
		arena_printf(pool_perm, "failed to lock mailbox %s (fcntl/flock)", mail("fcntl")));
	CHECK(write(down[1], "x", 1) == 1);
	waitpid(child, NULL, 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	CHECK(access(arena_printf(pool_perm, "%s.lock", mail("fcntl")), F_OK) != 0);

	/* create_file = belowhome: no directory is created outside $home (the lock file then
	 * cannot be made, as in Exim), and no file either. */
	result r = deliver("t_inhome");
	CHECK_INT(r.r, ADDR_DEFER);
	CHECK_INT(r.basic_errno, ENOENT);
	CHECK(strncmp(r.text, "creating lock file hitching post ", 33) == 0);
	mkdir(arena_printf(pool_perm, "%s/elsewhere", dir), 0755);
	expect(deliver("t_inhome"), ADDR_DEFER, -34, arena_printf(pool_perm,
		"mailbox %s/elsewhere/box does not exist, but creation outside the home directory is not permitted", dir));
	CHECK(access(arena_printf(pool_perm, "%s/elsewhere/box", dir), F_OK) != 0);

	/* A tainted file name is refused. */
	r = deliver("t_taint");
	CHECK_INT(r.r, ADDR_PANIC);
	CHECK(strstr(r.text, "Tainted '") == r.text);

	/* -N: nothing is written, the address counts as delivered. */
	expect(deliver_ex("t_mbox", "user", true, ADDR_MAIL, NULL), ADDR_OK, 0, NULL);
	CHECK(access(mail("mbox"), F_OK) != 0);
}

static void test_maildir_checks(void)
{
	result r = deliver("t_mdfull");
	/* 50 bytes cannot take the message: refused before writing, the tmp file removed. */
	CHECK_INT(r.r, ADDR_DEFER);
	CHECK_INT(r.basic_errno, -22);
	CHECK(strncmp(r.text, "mailbox is full (MTA-imposed quota exceeded while writing to tmp/", 65) == 0);
	CHECK(strstr(r.text, "P") && strstr(r.text, ".test.example)"));
	size_t n = 0;
	DIR *d = opendir(arena_printf(pool_perm, "%s/tmp", mail("mdfull")));
	CHECK(d != NULL);
	for (struct dirent *de; d && (de = readdir(d));)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK_INT(n, 0);
	/* Exim counts the new file itself against quota_filecount = 1: the first message is refused. */
	r = deliver("t_mdcount");
	CHECK_INT(r.basic_errno, -22);
	CHECK(strncmp(r.text, "mailbox is full (MTA-imposed filecount quota exceeded while writing to tmp/", 75) == 0);
}

static size_t count_files(const char *path)
{
	size_t n = 0;
	DIR *d = opendir(path);
	for (struct dirent *de; d && (de = readdir(d));)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_mbox_write(void)
{
	expect(deliver("t_mbox"), ADDR_OK, 0, NULL);
	expect(deliver("t_mbox"), ADDR_OK, 0, NULL);
	size_t len;
	char *s = slurp(mail("mbox"), &len);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(strncmp(s, "From sender@x.example ", 22) == 0);
	CHECK(strstr(s, "\n>From the start\nline2\n.dot\n\nFrom sender@x.example ") != NULL);
	CHECK(len > 2 && strcmp(s + len - 2, "\n\n") == 0);
	struct stat st;
	CHECK(stat(mail("mbox"), &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK(access(arena_printf(pool_perm, "%s.lock", mail("mbox")), F_OK) != 0);

	/* Wider than mode: reduced, then delivered. */
	int fd = open(mail("wide"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	chmod(mail("wide"), 0644);
	expect(deliver("t_wide"), ADDR_OK, 0, NULL);
	CHECK(stat(mail("wide"), &st) == 0 && (st.st_mode & 07777) == 0600);

	/* A lock file older than lockfile_timeout is removed and the delivery goes ahead. */
	char *lock = arena_printf(pool_perm, "%s.lock", mail("stale"));
	fd = open(lock, O_CREAT | O_WRONLY, 0600);
	close(fd);
	struct timespec old[2] = { { .tv_sec = time(NULL) - 3600 }, { .tv_sec = time(NULL) - 3600 } };
	utimensat(AT_FDCWD, lock, old, 0);
	expect(deliver("t_stale"), ADDR_OK, 0, NULL);
	CHECK(access(lock, F_OK) != 0);
}

static void test_maildir_write(void)
{
	expect(deliver("t_md"), ADDR_OK, 0, NULL);
	char *newdir = arena_printf(pool_perm, "%s/new", mail("Maildir"));
	CHECK_INT(count_files(newdir), 1);
	CHECK_INT(count_files(arena_printf(pool_perm, "%s/tmp", mail("Maildir"))), 0);
	CHECK_INT(count_files(arena_printf(pool_perm, "%s/cur", mail("Maildir"))), 0);
	DIR *d = opendir(newdir);
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		long sec, usec, pid;
		char host[64];
		CHECK(sscanf(de->d_name, "%ld.M%ldP%ld.%63s", &sec, &usec, &pid, host) == 4);
		CHECK_STR(host, "test.example");
		CHECK_INT(pid, getpid());
		char *s = slurp(arena_printf(pool_perm, "%s/%s", newdir, de->d_name), NULL);
		/* No separator line and no escaping in a file of its own. */
		CHECK(s && strncmp(s, "From ", 5) != 0 && strstr(s, "\n\nFrom the start\nline2\n.dot\n") != NULL);
	}
	if (d)
		closedir(d);

	/* maildirsize: the quota line, the initial count, then one line per delivery. */
	expect(deliver("t_mdsize"), ADDR_OK, 0, NULL);
	expect(deliver("t_mdsize"), ADDR_OK, 0, NULL);
	char *ms = slurp(arena_printf(pool_perm, "%s/maildirsize", mail("mdsize")), NULL);
	long long sz1 = 0, sz2 = 0;
	CHECK(ms && sscanf(ms, "10485760S,0C\n0 0\n%lld 1\n%lld 1\n", &sz1, &sz2) == 2 && sz1 > 0 && sz1 == sz2);

	/* maildir_tag sees $message_size = bytes written. */
	expect(deliver("t_mdtag"), ADDR_OK, 0, NULL);
	newdir = arena_printf(pool_perm, "%s/new", mail("mdtag"));
	d = opendir(newdir);
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		const char *tag = strstr(de->d_name, ",S=");
		CHECK(tag != NULL);
		struct stat st;
		CHECK(stat(arena_printf(pool_perm, "%s/%s", newdir, de->d_name), &st) == 0);
		CHECK(tag && atoll(tag + 3) == (long long)st.st_size);
	}
	if (d)
		closedir(d);

	/* Plain directory: directory_file with $inode. */
	expect(deliver("t_plain"), ADDR_OK, 0, NULL);
	d = opendir(mail("plain"));
	int found = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		found++;
		struct stat st;
		CHECK(stat(arena_printf(pool_perm, "%s/%s", mail("plain"), de->d_name), &st) == 0);
		CHECK_STR(de->d_name, arena_printf(pool_perm, "msg-%llu", (unsigned long long)st.st_ino));
	}
	if (d)
		closedir(d);
	CHECK_INT(found, 1);

	/* mailstore: <id>-<pid in base 62>.env (prefix, sender, recipients, suffix) and .msg. */
	expect(deliver("t_ms"), ADDR_OK, 0, NULL);
	char idbuf[MSG_ID_LEN + 1];
	spool_format_message_id(idbuf, 0, 0, (long)getpid(), -1);
	char *base = arena_printf(pool_perm, "%s/%s-%.6s", mail("ms"), msg->id, idbuf + 7);
	char *env = slurp(arena_printf(pool_perm, "%s.env", base), NULL);
	CHECK_STR(env, arena_printf(pool_perm, "PREFIX %s\nsender@x.example\nuser@test.example\nSUFFIX\n", base));
	char *msgtext = slurp(arena_printf(pool_perm, "%s.msg", base), NULL);
	CHECK(msgtext && strstr(msgtext, "\n\nFrom the start\n") != NULL);
	CHECK(access(arena_printf(pool_perm, "%s.tmp", base), F_OK) != 0);

	/* A directory from a redirection ("/path/") under a file transport's... address_file case. */
	expect(deliver_ex("t_md", "user", false, ADDR_DIRECTORY, mail("Maildir/")), ADDR_OK, 0, NULL);
	CHECK_INT(count_files(arena_printf(pool_perm, "%s/new", mail("Maildir"))), 2);
}

/* mbox "From " lines carry the delivery time: compare them as "From <address> DATE". */
static void normalize_from_lines(char *s, size_t *len)
{
	char *out = s, *p = s, *end = s + *len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
		if (ll > 5 && strncmp(p, "From ", 5) == 0) {
			char *sp = memchr(p + 5, ' ', ll - 5);
			if (sp) {
				size_t keep = (size_t)(sp + 1 - p);
				memmove(out, p, keep);
				out += keep;
				memcpy(out, "DATE", 4);
				out += 4;
				if (nl && nl > p && nl[-1] == '\r')
					*out++ = '\r';
				if (nl)
					*out++ = '\n';
				p += ll;
				continue;
			}
		}
		memmove(out, p, ll);
		out += ll;
		p += ll;
	}
	*len = (size_t)(out - s);
	s[*len] = '\0';
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Byte comparison with what Exim 4.96 wrote for the same spool files and transport options. */
static void test_goldens(void)
{
	static const char *const cases[] = { "mbox", "bounce", "crlf", "maildir", "bsmtp" };
	const char *gdir = "../../golden/appendfile";
	mkdir(arena_printf(pool_perm, "%s/golden", dir), 0755);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *c = cases[i];
		size_t hl, dl, ol;
		char *h = read_all(arena_printf(pool_perm, "%s/%s-H", gdir, c), &hl);
		char *d = read_all(arena_printf(pool_perm, "%s/%s-D", gdir, c), &dl);
		char *want = read_all(arena_printf(pool_perm, "%s/%s.out", gdir, c), &ol);
		CHECK(h && d && want && hl > MSG_ID_LEN);
		if (!h || !d || !want || hl <= MSG_ID_LEN)
			continue;
		char id[MSG_ID_LEN + 1];
		memcpy(id, h, MSG_ID_LEN);
		id[MSG_ID_LEN] = '\0';
		char *dpath = arena_printf(pool_perm, "%s/spool/input/%s-D", dir, id);
		FILE *f = fopen(arena_printf(pool_perm, "%s/spool/input/%s-H", dir, id), "wb");
		fwrite(h, 1, hl, f);
		fclose(f);
		f = fopen(dpath, "wb");
		fwrite(d, 1, dl, f);
		fclose(f);
		message *m = message_new(pool_perm);
		static msg_origin o;
		xbuf err;
		xbuf_init(&err, NULL);
		bool read = spool_read_header_ex(pool_perm, &sc, id, m, &o, NULL, &err);
		CHECK(read);
		if (!read) {
			fprintf(stderr, "%s: %s\n", c, xbuf_cstr(&err));
			continue;
		}
		m->origin = &o;
		message *saved = msg;
		int saved_fd = data_fd;
		msg = m;
		data_fd = open(dpath, O_RDONLY);
		expect(deliver_ex(arena_printf(pool_perm, "g_%s", c), c, false, ADDR_MAIL, NULL), ADDR_OK, 0, NULL);
		close(data_fd);
		msg = saved;
		data_fd = saved_fd;
		char *got_path = arena_printf(pool_perm, "%s/golden/%s", dir, c);
		if (strcmp(c, "maildir") == 0) {
			char *nd = arena_printf(pool_perm, "%s/golden/Maildir/new", dir);
			DIR *dd = opendir(nd);
			for (struct dirent *de; dd && (de = readdir(dd));)
				if (de->d_name[0] != '.')
					got_path = arena_printf(pool_perm, "%s/%s", nd, de->d_name);
			if (dd)
				closedir(dd);
		}
		size_t gl = 0;
		char *got = read_all(got_path, &gl);
		CHECK(got != NULL);
		if (got) {
			normalize_from_lines(got, &gl);
			normalize_from_lines(want, &ol);
			CHECK_INT(gl, ol);
			if (gl != ol || memcmp(got, want, gl) != 0) {
				fprintf(stderr, "golden %s differs:\n--- got\n%s--- want\n%s---\n", c, got, want);
				CHECK(false);
			}
		}
		free(got);
		free(h);
		free(d);
		free(want);
	}
}

/* Crossing quota_warn_threshold sends the warning once (as a new message from <>). */
static void test_quota_warning(void)
{
	char (*ids)[MSG_ID_LEN + 1] = NULL;
	xbuf err;
	xbuf_init(&err, NULL);
	size_t before = spool_list_ids(pool_perm, &sc, &ids, &err);
	char (*old)[MSG_ID_LEN + 1] = ids;
	expect(deliver("t_warn"), ADDR_OK, 0, NULL);
	expect(deliver("t_warn"), ADDR_OK, 0, NULL);  /* already above: no second warning */
	size_t after = spool_list_ids(pool_perm, &sc, &ids, &err);
	CHECK_INT(after, before + 1);
	int found = 0;
	for (size_t i = 0; i < after; i++) {
		bool seen = false;
		for (size_t k = 0; k < before; k++)
			seen = seen || strcmp(ids[i], old[k]) == 0;
		if (seen)
			continue;
		size_t hl;
		char *h = read_all(arena_printf(pool_perm, "%s/spool/input/%s-H", dir, ids[i]), &hl);
		if (!h)
			continue;
		found++;
		CHECK(strstr(h, "\n<>\n") != NULL);
		CHECK(strstr(h, "Auto-Submitted: auto-replied\n") != NULL);
		CHECK(strstr(h, "From: Mail Delivery System <Mailer-Daemon@test.example>\n") != NULL);
		CHECK(strstr(h, "To: user@test.example\n") != NULL);
		CHECK(strstr(h, "Subject: Your mailbox\n") != NULL);
		free(h);
	}
	CHECK_INT(found, 1);
}

#define PAR_PROCS 6
#define PAR_EACH 15

/* Parallel appenders: every message lands whole (no interleaving); parallel maildir deliveries
 * never share a name. */
static void test_parallel(void)
{
	for (int which = 0; which < 2; which++) {
		pid_t kids[PAR_PROCS];
		for (int i = 0; i < PAR_PROCS; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				int bad = 0;
				for (int k = 0; k < PAR_EACH; k++)
					bad += deliver(which ? "t_mdpar" : "t_par").r != ADDR_OK;
				_exit(bad ? 1 : 0);
			}
		}
		int failed = 0;
		for (int i = 0; i < PAR_PROCS; i++) {
			int st;
			waitpid(kids[i], &st, 0);
			failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		}
		CHECK_INT(failed, 0);
		if (which) {
			CHECK_INT(count_files(arena_printf(pool_perm, "%s/new", mail("mdpar"))), PAR_PROCS * PAR_EACH);
			continue;
		}
		size_t len;
		char *s = slurp(mail("par"), &len);
		CHECK(s != NULL);
		if (!s)
			continue;
		/* Each message is "From " line, headers, blank line, the 3 body lines, blank line. */
		int messages = 0, whole = 0;
		for (char *p = s; (p = strstr(p, "From sender@x.example ")) != NULL; p++) {
			if (p != s && p[-1] != '\n')
				continue;
			messages++;
			char *end = strstr(p, "\n\n>From the start\nline2\n.dot\n\n");
			char *next = strstr(p + 1, "\nFrom sender@x.example ");
			whole += end != NULL && (next == NULL || end < next);
		}
		CHECK_INT(messages, PAR_PROCS * PAR_EACH);
		CHECK_INT(whole, PAR_PROCS * PAR_EACH);
	}
}

/* A child holds a lock on path (flock or fcntl) for hold_ms milliseconds (0: until killed). */
static pid_t hold_lock(const char *path, bool use_flock, int hold_ms)
{
	int up[2];
	if (pipe(up) != 0)
		return -1;
	pid_t child = fork();
	if (child == 0) {
		int f = open(path, O_RDWR | O_CREAT, 0600);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (use_flock ? flock(f, LOCK_EX) != 0 : fcntl(f, F_SETLK, &fl) != 0)
			_exit(1);
		if (write(up[1], "x", 1) != 1)
			_exit(1);
		if (hold_ms > 0)
			usleep((useconds_t)hold_ms * 1000);
		else
			pause();
		_exit(0);
	}
	char c;
	if (read(up[0], &c, 1) != 1)
		child = -1;
	close(up[0]);
	close(up[1]);
	return child;
}

/* flock locks; a blocking fcntl lock (lock_fcntl_timeout) waits for the holder. */
static void test_lock_kinds(void)
{
	pid_t k = hold_lock(mail("flock"), true, 0);
	CHECK(k > 0);
	expect(deliver("t_flock"), ADDR_DEFER, -9,
		arena_printf(pool_perm, "failed to lock mailbox %s (fcntl/flock)", mail("flock")));
	kill(k, SIGTERM);
	waitpid(k, NULL, 0);
	expect(deliver("t_flock"), ADDR_OK, 0, NULL);

	k = hold_lock(mail("fwait"), false, 700);
	CHECK(k > 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect(deliver("t_fwait"), ADDR_OK, 0, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(waited > 0.3 && waited < 4.5);
	waitpid(k, NULL, 0);
}

/* Does the message writer work yet (core/tp_write.h lands separately)? */
static bool probe_writer(void)
{
	tp_write_opts o = { .m = msg, .data_fd = data_fd };
	int fd = open("/dev/null", O_WRONLY);
	xbuf err;
	xbuf_init(&err, NULL);
	int errnum;
	bool ok = tp_write_fd(&o, fd, 0, &err, &errnum);
	close(fd);
	return ok;
}

int main(void)
{
	arena_init_pools();
	if (!mkdtemp(dir))
		return 2;
	write_config();
	char *md = arena_printf(pool_perm, "%s/mail", dir);
	mkdir(md, 0755);
	mkdir(arena_printf(pool_perm, "%s/home", dir), 0755);
	log_config lc;
	log_config_default(&lc);
	lc.spool_directory = arena_printf(pool_perm, "%s/spool", dir);
	lc.echo = LOG_ECHO_NONE;
	xbuf lerr;
	xbuf_init(&lerr, NULL);
	if (!log_configure(&lc, &lerr))
		fprintf(stderr, "log: %s\n", xbuf_cstr(&lerr));
	spool_message();
	writer_ok = probe_writer();
	RUN(test_parse_size);
	RUN(test_file_checks);
	RUN(test_maildir_checks);
	if (writer_ok) {
		RUN(test_mbox_write);
		RUN(test_maildir_write);
		RUN(test_lock_kinds);
		RUN(test_parallel);
		RUN(test_goldens);
		RUN(test_quota_warning);
	} else {
		printf("test_appendfile: message writer not built yet: write tests skipped\n");
	}
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_report("test_appendfile");
}
