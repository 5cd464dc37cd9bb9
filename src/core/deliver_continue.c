/* Continued delivery: the wait-<transport> records and the hand-over of a connection
 * (core/deliver_continue.h).
 *
 * A wait record is keyed by the host's name, as Exim's (observed with exim_dumpdb: the key is
 * the name even when the route gave a port); its layout, the chained continuation records and
 * the order ids are taken in are in core/wait_records.h. */
#include "core/queue_named.h"
#include "core/deliver_continue.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/hintsdb.h"
#include "core/wait_records.h"
#include "core/fast_ramp.h"
#include "lib/initial_cwd.h"
#include "lib/arena.h"
#include "lib/log.h"

int dcont_queue_pipe_fd = -1;
pid_t dcont_queue_pid = 0;

int dcont_chain_begin(void)
{
	int chain[2];
	if (dcont_queue_pipe_fd >= 0 || pipe2(chain, O_CLOEXEC) != 0)
		return -1;
	dcont_queue_pipe_fd = chain[1];
	dcont_queue_pid = getpid();
	return chain[0];
}

void dcont_chain_wait(int read_end)
{
	if (read_end < 0)
		return;
	close(dcont_queue_pipe_fd);
	dcont_queue_pipe_fd = -1;
	char c;
	while (read(read_end, &c, 1) < 0 && errno == EINTR)
		;
	close(read_end);
}

/* The worker's read end of the pipe it made for this message; queue_pipe_wanted: it makes one
 * if a remote transport starts. */
static int queue_pipe_read = -1;
static bool queue_pipe_wanted;

void dcont_queue_pipe_defer(void)
{
	queue_pipe_wanted = true;
	dcont_queue_pid = getpid();
}

void dcont_queue_pipe_ensure(void)
{
	if (!queue_pipe_wanted || dcont_queue_pipe_fd >= 0 || dcont_queue_pid != getpid())
		return;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return;   /* as before: a chain without -MCQ, the run does not wait for it */
	queue_pipe_read = p[0];
	dcont_queue_pipe_fd = p[1];
}

void dcont_queue_pipe_wait(void)
{
	queue_pipe_wanted = false;
	int read_end = queue_pipe_read;
	queue_pipe_read = -1;
	dcont_chain_wait(read_end);
}

static char *db_name(const char *transport)
{
	return arena_printf(pool_scratch, "wait-%s", transport);
}

/* The records are read and written by transport processes running as the Exim user (as Exim
 * keeps its hints files): a database root creates here (-odqs, -qq's first phase) is given to
 * that user. */
static void give_to_exim_user(const spool_config *sc, const char *name)
{
	if (geteuid() != 0 || conf_main.exim_user == POSTERN_UNSET_ID || conf_main.exim_user == 0)
		return;
	static const char *const suffix[] = { ".lmdb", ".lmdb-lock" };
	for (size_t i = 0; i < 2; i++) {
		const char *p = arena_printf(pool_scratch, "%s/db/%s%s", sc->directory, name, suffix[i]);
		if (chown(p, conf_main.exim_user, conf_main.exim_group) != 0 && errno != ENOENT)
			log_write(LOG_MAIN | LOG_PANIC, "failed to give %s to the Exim user: %s", p, strerror(errno));
	}
}

void dcont_wait_add(const spool_config *sc, const char *transport, sv host_name, const char *id)
{
	if (!transport || host_name.len == 0 || !id)
		return;
	arena_mark mk = arena_getmark(pool_scratch);
	xbuf err;
	xbuf_init(&err, pool_scratch);
	hintsdb *db = hintsdb_open(sc->directory, db_name(transport), false, &err);
	if (db) {
		bool chained = false;
		wait_record_add(db, host_name, sv_cstr(id), time(NULL), &chained);
		hintsdb_close(db);
		give_to_exim_user(sc, db_name(transport));
		if (chained)
			fast_ramp_notify(id);
	}
	arena_reset(pool_scratch, mk);
}

void dcont_wait_add_hosts(const spool_config *sc, const address_item *a, const char *id)
{
	for (const route_host *h = a->hosts; h; h = h->next)
		if (!h->unusable && h->name.len)
			dcont_wait_add(sc, a->transport, h->name, id);
}

static bool still_queued(const spool_config *sc, sv id)
{
	if (!spool_valid_id(id))
		return false;
	char buf[MSG_ID_LEN + 1];
	memcpy(buf, id.p, MSG_ID_LEN);
	buf[MSG_ID_LEN] = 0;
	return access(spool_path(pool_scratch, sc, "input", buf, "-H"), F_OK) == 0;
}

static bool usable_fn(void *ctx, sv id)
{
	return still_queued(ctx, id);
}

bool dcont_wait_next(const spool_config *sc, const char *transport, sv host_name,
	const char *current_id, char *id_out)
{
	if (!transport || host_name.len == 0)
		return false;
	arena_mark mk = arena_getmark(pool_scratch);
	xbuf err;
	xbuf_init(&err, pool_scratch);
	bool found = false;
	hintsdb *db = hintsdb_open(sc->directory, db_name(transport), true, &err);
	if (db) {
		/* A cheap look first: most deliveries find no record and need no writer lock. */
		xbuf v;
		xbuf_init(&v, pool_scratch);
		int rc = hintsdb_get(db, host_name, &v);
		hintsdb_close(db);
		db = NULL;
		if (rc == 1)
			db = hintsdb_open(sc->directory, db_name(transport), false, &err);
	}
	if (db) {
		found = wait_record_take(db, host_name, sv_cstr(current_id ? current_id : ""), usable_fn, (void *)sc, id_out);
		hintsdb_close(db);
	}
	arena_reset(pool_scratch, mk);
	return found;
}

bool dcont_wait_any(const spool_config *sc, const char *transport, sv host_name)
{
	if (!transport || host_name.len == 0)
		return false;
	arena_mark mk = arena_getmark(pool_scratch);
	xbuf err, v;
	xbuf_init(&err, pool_scratch);
	xbuf_init(&v, pool_scratch);
	bool found = false;
	hintsdb *db = hintsdb_open(sc->directory, db_name(transport), true, &err);
	if (db) {
		found = hintsdb_get(db, host_name, &v) == 1;
		hintsdb_close(db);
	}
	arena_reset(pool_scratch, mk);
	return found;
}

/* Everything but the connection and the queue runner's pipe is closed before the exec: an
 * inherited result pipe would keep the delivery process that started us waiting. */
void dcont_close_fds_except(int keep_a, int keep_b)
{
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		if (fd != keep_a && fd != keep_b && fd != dcont_queue_pipe_fd)
			close(fd);
}

/* This binary and its -C, for the exec. */
static bool own_argv(xp_env *env, const char **argv)
{
	xbuf exe, conf, err;
	xbuf_init(&exe, pool_scratch);
	xbuf_init(&conf, pool_scratch);
	xbuf_init(&err, pool_scratch);
	if (xp_expand(env, SV_LIT("$exim_path"), &exe, &err) != XP_OK || exe.len == 0)
		return false;
	int n = 0;
	argv[n++] = xbuf_cstr(&exe);
	if (xp_expand(env, SV_LIT("$config_file"), &conf, &err) == XP_OK && conf.len) {
		argv[n++] = "-C";
		/* This process may work from the spool directory: a relative -C is the caller's. */
		argv[n++] = initial_cwd_resolve(pool_scratch, xbuf_cstr(&conf));
	}
	argv[n] = NULL;
	return true;
}

bool dcont_pass(xp_env *env, const dcont_handoff *h, int fd)
{
	const char *argv[40];
	if (!own_argv(env, argv))
		return false;
	int n = 0;
	while (argv[n])
		n++;
	if (h->authenticated)
		argv[n++] = "-MCA";
	if (h->offered & DCONT_DSN)
		argv[n++] = "-MCD";
	if (h->offered & DCONT_CHUNKING)
		argv[n++] = "-MCK";
	if (h->offered & DCONT_PIPELINING)
		argv[n++] = "-MCP";
	if (h->offered & DCONT_SIZE)
		argv[n++] = "-MCS";
	char qpid[32], qfd[32], seq[32], pport[32];
	if (h->proxy_cipher) {
		snprintf(pport, sizeof pport, "%d", h->proxy_port);
		argv[n++] = "-MCt";
		argv[n++] = h->proxy_address ? h->proxy_address : "";
		argv[n++] = pport;
		argv[n++] = h->proxy_cipher;
	}
	/* The message's named queue (core/queue_named.h): the next message is looked for there. */
	if (*queue_named_current()) {
		argv[n++] = "-MCG";
		argv[n++] = queue_named_current();
	}
	if (dcont_queue_pipe_fd >= 0) {
		snprintf(qpid, sizeof qpid, "%ld", (long)dcont_queue_pid);
		snprintf(qfd, sizeof qfd, "%d", dcont_queue_pipe_fd);
		argv[n++] = "-MCQ";
		argv[n++] = qpid;
		argv[n++] = qfd;
	}
	snprintf(seq, sizeof seq, "%d", h->sequence);
	argv[n++] = "-MC";
	argv[n++] = h->transport;
	argv[n++] = sv_dup(pool_scratch, h->host_name);
	argv[n++] = sv_dup(pool_scratch, h->host_address);
	argv[n++] = seq;
	argv[n++] = h->id;
	argv[n] = NULL;

	fflush(NULL);
	pid_t mid = fork();
	if (mid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "fork for continued delivery failed: %s", strerror(errno));
		return false;
	}
	if (mid == 0) {
		/* Detached from this process entirely: the middle process ends at once. */
		if (fork() != 0)
			_exit(0);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fd != 0 && dup2(fd, 0) < 0)
			_exit(1);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
		dcont_close_fds_except(0, -1);
		fcntl(0, F_SETFD, 0);
		if (dcont_queue_pipe_fd >= 0)
			fcntl(dcont_queue_pipe_fd, F_SETFD, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	return true;
}

/* ---- the hand-over from the transport process to the delivery process ----
 * One datagram-like record on a stream socket: the descriptor as SCM_RIGHTS with a payload of
 * NUL-terminated fields: transport, host name, host address, sequence, id, offered,
 * authenticated, proxy address, proxy port, proxy cipher (empty: none). */

int dcont_handoff_fd = -1;

static bool keep_pending(dcont_handoff *h, int fd, const char *buf, size_t n);

enum { HANDOFF_MAX = 4096, HANDOFF_FIELDS = 10 };

bool dcont_handoff_send(xp_env *env, const dcont_handoff *h, int fd)
{
	if (dcont_handoff_fd < 0)
		return dcont_pass(env, h, fd);
	xbuf p;
	xbuf_init(&p, pool_scratch);
	xbuf_printf(&p, "%s%c" SV_FMT "%c" SV_FMT "%c%d%c%s%c%u%c%d%c%s%c%d%c%s%c", h->transport, 0,
		SV_ARG(h->host_name), 0, SV_ARG(h->host_address), 0, h->sequence, 0, h->id, 0, h->offered, 0,
		h->authenticated ? 1 : 0, 0, h->proxy_address ? h->proxy_address : "", 0, h->proxy_port, 0,
		h->proxy_cipher ? h->proxy_cipher : "", 0);
	if (p.len > HANDOFF_MAX)
		return false;
	struct iovec iov = { .iov_base = p.p, .iov_len = p.len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	ssize_t n;
	while ((n = sendmsg(dcont_handoff_fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)p.len;
}

void dcont_handoff_collect(int sock, xp_env *env)
{
	if (sock < 0)
		return;
	dcont_handoff_collect_keep(sock, env, true);
}

void dcont_handoff_collect_keep(int sock, xp_env *env, bool close_sock)
{
	if (sock < 0)
		return;
	char buf[HANDOFF_MAX + 1];
	struct iovec iov = { .iov_base = buf, .iov_len = HANDOFF_MAX };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
	ssize_t n;
	while ((n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (close_sock)
		close(sock);
	if (n <= 0)
		return;
	int fd = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	if (fd < 0)
		return;
	/* The fields, each NUL-terminated and all present, or nothing is done. */
	const char *f[HANDOFF_FIELDS];
	size_t k = 0, start = 0;
	for (size_t i = 0; i < (size_t)n && k < HANDOFF_FIELDS; i++)
		if (buf[i] == 0) {
			f[k++] = buf + start;
			start = i + 1;
		}
	dcont_handoff h = { 0 };
	char *e1, *e2, *e3;
	if (k == HANDOFF_FIELDS && !(mh.msg_flags & MSG_TRUNC)) {
		h.transport = f[0];
		h.host_name = sv_cstr(f[1]);
		h.host_address = sv_cstr(f[2]);
		h.sequence = (int)strtol(f[3], &e1, 10);
		h.id = f[4];
		h.offered = (unsigned)strtoul(f[5], &e2, 10);
		h.authenticated = f[6][0] == '1';
		h.proxy_address = f[9][0] ? f[7] : NULL;
		h.proxy_port = (int)strtol(f[8], &e3, 10);
		h.proxy_cipher = f[9][0] ? f[9] : NULL;
		if (!*e1 && !*e2 && !*e3 && h.sequence > 0 && spool_valid_id(sv_cstr(h.id)) && h.transport[0]) {
			if (dcont_inprocess && keep_pending(&h, fd, buf, (size_t)n))
				return;
			dcont_pass(env, &h, fd);
		}
	}
	close(fd);
}

/* ---- continuing in this process ---- */

bool dcont_inprocess;
static struct {
	bool have;
	int fd;
	dcont_handoff h;
	char strings[HANDOFF_MAX + 1];
} pending;

/* Keep h (its strings point into buf[0..n)) for dcont_run_pending. */
static bool keep_pending(dcont_handoff *h, int fd, const char *buf, size_t n)
{
	if (pending.have)
		return false;
	memcpy(pending.strings, buf, n);
	pending.strings[n] = 0;
	pending.h = *h;
#define REBASE(f) (f) = (f) ? pending.strings + ((f) - buf) : NULL
	REBASE(pending.h.transport);
	REBASE(pending.h.id);
	REBASE(pending.h.proxy_address);
	REBASE(pending.h.proxy_cipher);
#undef REBASE
	pending.h.host_name = sv_cstr(pending.strings + (h->host_name.p - buf));
	pending.h.host_address = sv_cstr(pending.strings + (h->host_address.p - buf));
	pending.fd = fd;
	pending.have = true;
	return true;
}


void dcont_run_pending(const spool_config *sc)
{
	/* Each delivery may leave the next hand-over in pending; the chain ends at the sequence
	 * limit or when nothing is waiting for the host. */
	while (pending.have) {
		char strings[HANDOFF_MAX + 1];
		dcont_handoff h = pending.h;
		int fd = pending.fd;
		memcpy(strings, pending.strings, sizeof strings);
#define REBASE(f) (f) = (f) ? strings + ((f) - pending.strings) : NULL
		REBASE(h.transport);
		REBASE(h.id);
		REBASE(h.proxy_address);
		REBASE(h.proxy_cipher);
#undef REBASE
		h.host_name = sv_cstr(strings + (pending.h.host_name.p - pending.strings));
		h.host_address = sv_cstr(strings + (pending.h.host_address.p - pending.strings));
		pending.have = false;
		dcont_deliver(sc, &h, fd);
	}
}
