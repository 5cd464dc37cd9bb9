/* Refusing wrappers for file, process and network calls; see fuzz_sandbox.h. Each __wrap_X is
 * what the code's call to X reaches when linked with -Wl,--wrap=X; __real_X is the C library's. */
#include "fuzz_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <pwd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

static char dir[64];
static size_t dirlen;
static unsigned long refusals;
static bool active;

void fuzz_sandbox_enter(void) { (void)fuzz_sandbox_dir(); active = true; }
void fuzz_sandbox_leave(void) { active = false; }

DIR *__real_opendir(const char *path);
int __real_unlink(const char *path);

static void remove_dir(void)
{
	/* Only files we wrote live there, one level deep. */
	DIR *d = __real_opendir(dir);
	if (d) {
		struct dirent *e;
		char path[512];
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			__real_unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

const char *fuzz_sandbox_dir(void)
{
	if (!dirlen) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/postern-fuzz-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
		if (!mkdtemp(dir)) {
			perror("fuzz sandbox: mkdtemp");
			abort();
		}
		dirlen = strlen(dir);
		atexit(remove_dir);
	}
	return dir;
}

unsigned long fuzz_sandbox_refusals(void) { return refusals; }

/* Inside the private directory, with no way back out of it. */
static bool allowed(const char *path)
{
	if (!active)
		return true;
	if (!path || !dirlen || strncmp(path, dir, dirlen) != 0 || path[dirlen] != '/')
		return false;
	return strstr(path + dirlen, "/..") == NULL;
}

static int refuse(int err)
{
	refusals++;
	errno = err;
	return -1;
}

/* libFuzzer writes a crash, timeout or out-of-memory input with fopen(path, "wb") from its
 * signal and death handlers, which may run while the sandbox is active: let those through. */
static bool is_artifact(const char *path, const char *mode)
{
	static const char *const kinds[] = { "crash-", "timeout-", "oom-", "leak-", "slow-unit-" };
	if (!path || strcmp(mode, "wb") != 0)
		return false;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strstr(base, kinds[i]))
			return true;
	return false;
}

FILE *__real_fopen64(const char *path, const char *mode);
FILE *__wrap_fopen64(const char *path, const char *mode)
{
	if (!allowed(path) && !is_artifact(path, mode)) {
		refuse(EACCES);
		return NULL;
	}
	return __real_fopen64(path, mode);
}

const char *fuzz_sandbox_write(const char *name, const void *data, size_t size)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", fuzz_sandbox_dir(), name);
	FILE *f = __real_fopen64(path, "w");
	if (!f)
		return NULL;
	bool ok = fwrite(data, 1, size, f) == size;
	ok = fclose(f) == 0 && ok;
	return ok ? path : NULL;
}

int __real_open64(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (!allowed(path))
		return refuse(EACCES);
	return __real_open64(path, flags, mode);
}

DIR *__wrap_opendir(const char *path)
{
	if (!allowed(path)) {
		refuse(EACCES);
		return NULL;
	}
	return __real_opendir(path);
}

int __real_stat64(const char *path, struct stat64 *st);
int __wrap_stat64(const char *path, struct stat64 *st)
{
	return allowed(path) ? __real_stat64(path, st) : refuse(EACCES);
}

int __real_lstat64(const char *path, struct stat64 *st);
int __wrap_lstat64(const char *path, struct stat64 *st)
{
	return allowed(path) ? __real_lstat64(path, st) : refuse(EACCES);
}

int __real_access(const char *path, int mode);
int __wrap_access(const char *path, int mode)
{
	return allowed(path) ? __real_access(path, mode) : refuse(EACCES);
}

/* The rest refuse everything while the sandbox is active, and pass through otherwise (libFuzzer
 * itself reaches some of them: it reads the corpus directory and writes artifacts). */
int __real_statvfs64(const char *path, struct statvfs64 *st);
int __wrap_statvfs64(const char *path, struct statvfs64 *st)
{
	return allowed(path) ? __real_statvfs64(path, st) : refuse(EACCES);
}
int __real_mkdir(const char *path, mode_t mode);
int __wrap_mkdir(const char *path, mode_t mode)
{
	return allowed(path) ? __real_mkdir(path, mode) : refuse(EACCES);
}
int __wrap_unlink(const char *path)
{
	return allowed(path) ? __real_unlink(path) : refuse(EACCES);
}
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to)
{
	return allowed(from) && allowed(to) ? __real_rename(from, to) : refuse(EACCES);
}
int __real_fchmod(int fd, mode_t mode);
int __wrap_fchmod(int fd, mode_t mode)
{
	return active ? refuse(EPERM) : __real_fchmod(fd, mode);
}

/* Processes. */
pid_t __real_fork(void);
pid_t __wrap_fork(void)
{
	return active ? refuse(EAGAIN) : __real_fork();
}
int __real_execv(const char *path, char *const argv[]);
int __wrap_execv(const char *path, char *const argv[])
{
	return active ? refuse(EACCES) : __real_execv(path, argv);
}
int __real_pipe2(int fds[2], int flags);
int __wrap_pipe2(int fds[2], int flags)
{
	return active ? refuse(EMFILE) : __real_pipe2(fds, flags);
}
int __real_kill(pid_t pid, int sig);
int __wrap_kill(pid_t pid, int sig)
{
	return active ? refuse(EPERM) : __real_kill(pid, sig);
}

/* Network. */
int __real_socket(int domain, int type, int protocol);
int __wrap_socket(int domain, int type, int protocol)
{
	return active ? refuse(EACCES) : __real_socket(domain, type, protocol);
}
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return active ? refuse(ECONNREFUSED) : __real_connect(fd, sa, len);
}
int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
	struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
	struct addrinfo **res)
{
	if (!active)
		return __real_getaddrinfo(node, service, hints, res);
	*res = NULL;
	refusals++;
	return EAI_FAIL;
}

/* The user and group databases (files or NSS services): while active, a small fixed table
 * stands in, so that configurations naming the usual users load the same on every machine. */
static struct passwd fake_users[] = {
	{ "root", "x", 0, 0, "root", "/root", "/bin/sh" },
	{ "mail", "x", 8, 8, "mail", "/var/mail", "/usr/sbin/nologin" },
	{ "Debian-exim", "x", 101, 101, "", "/var/spool/exim4", "/usr/sbin/nologin" },
	{ "exim", "x", 102, 102, "", "/var/spool/exim", "/usr/sbin/nologin" },
	{ "nobody", "x", 65534, 65534, "nobody", "/nonexistent", "/usr/sbin/nologin" },
};
static char *no_members[] = { NULL };
static struct group fake_groups[] = {
	{ "root", "x", 0, no_members },
	{ "mail", "x", 8, no_members },
	{ "Debian-exim", "x", 101, no_members },
	{ "exim", "x", 102, no_members },
	{ "nogroup", "x", 65534, no_members },
};
#define NFAKE (sizeof fake_users / sizeof fake_users[0])

struct passwd *__real_getpwnam(const char *name);
struct passwd *__wrap_getpwnam(const char *name)
{
	if (!active)
		return __real_getpwnam(name);
	for (size_t i = 0; i < NFAKE; i++)
		if (strcmp(fake_users[i].pw_name, name) == 0)
			return &fake_users[i];
	errno = 0;
	return NULL;
}
struct passwd *__real_getpwuid(uid_t uid);
struct passwd *__wrap_getpwuid(uid_t uid)
{
	if (!active)
		return __real_getpwuid(uid);
	for (size_t i = 0; i < NFAKE; i++)
		if (fake_users[i].pw_uid == uid)
			return &fake_users[i];
	errno = 0;
	return NULL;
}
struct group *__real_getgrnam(const char *name);
struct group *__wrap_getgrnam(const char *name)
{
	if (!active)
		return __real_getgrnam(name);
	for (size_t i = 0; i < NFAKE; i++)
		if (strcmp(fake_groups[i].gr_name, name) == 0)
			return &fake_groups[i];
	errno = 0;
	return NULL;
}
struct group *__real_getgrgid(gid_t gid);
struct group *__wrap_getgrgid(gid_t gid)
{
	if (!active)
		return __real_getgrgid(gid);
	for (size_t i = 0; i < NFAKE; i++)
		if (fake_groups[i].gr_gid == gid)
			return &fake_groups[i];
	errno = 0;
	return NULL;
}

/* The interface list (a netlink socket). */
int __real_getifaddrs(struct ifaddrs **ifap);
int __wrap_getifaddrs(struct ifaddrs **ifap)
{
	if (!active)
		return __real_getifaddrs(ifap);
	*ifap = NULL;
	return refuse(EACCES);
}

/* Logging to syslog goes nowhere, and the client libraries below are refused always: only
 * project code calls them. */
void __wrap_openlog(const char *ident, int option, int facility) { (void)ident; (void)option; (void)facility; }
void __wrap_syslog(int pri, const char *fmt, ...) { (void)pri; (void)fmt; }

/* Client libraries that open files or connections themselves (declared here without their
 * headers; only the pointer and int shapes matter). */
int __wrap_sqlite3_open_v2(const char *file, void **db, int flags, const char *vfs)
{
	(void)file; (void)flags; (void)vfs;
	*db = NULL;
	refusals++;
	return 14; /* SQLITE_CANTOPEN */
}
void *__wrap_PQconnectdb(const char *conninfo) { (void)conninfo; refusals++; return NULL; }
void *__wrap_redisConnectWithTimeout(const char *ip, int port, long tv_sec, long tv_usec)
{
	(void)ip; (void)port; (void)tv_sec; (void)tv_usec;
	refusals++;
	return NULL;
}
void *__wrap_redisConnectUnixWithTimeout(const char *path, long tv_sec, long tv_usec)
{
	(void)path; (void)tv_sec; (void)tv_usec;
	refusals++;
	return NULL;
}
int __wrap_mdb_env_open(void *env, const char *path, unsigned flags, int mode)
{
	(void)env; (void)path; (void)flags; (void)mode;
	refusals++;
	return EACCES;
}
int __wrap_db_create(void **dbp, void *env, unsigned flags)
{
	(void)env; (void)flags;
	*dbp = NULL;
	refusals++;
	return EACCES;
}
