/* Continued delivery: the wait-<transport> records and the hand-over of a connection
 * (core/deliver_continue.h).
 *
 * A wait record is keyed by the host's name, as Exim's (observed with exim_dumpdb: the key is
 * the name even when the route gave a port), and holds the ids in the order they were added,
 * separated by spaces; prog/hints_format.c prints it as Exim's exim_dumpdb does. Exim takes the
 * most recently added id first (observed: -MC ran the last id of the record, then the one
 * before), and deletes the record when it has been emptied. */
#include "core/deliver_continue.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/hintsdb.h"
#include "lib/arena.h"
#include "lib/log.h"

int dcont_queue_pipe_fd = -1;
pid_t dcont_queue_pid = 0;

/* More ids than this in one record: the oldest go (Exim chains continuation records; a hint
 * this long is of no use to a connection that carries connection_max_messages anyway). */
enum { WAIT_IDS_MAX = 1000 };

static char *db_name(const char *transport)
{
	return arena_printf(pool_scratch, "wait-%s", transport);
}

/* The ids of a record, in order. */
static size_t split_ids(sv v, sv *ids, size_t max)
{
	size_t n = 0, i = 0;
	while (i < v.len && n < max) {
		while (i < v.len && v.p[i] == ' ')
			i++;
		size_t s = i;
		while (i < v.len && v.p[i] != ' ')
			i++;
		if (i > s)
			ids[n++] = sv_sub(v, s, i - s);
	}
	return n;
}

typedef struct add_ctx {
	sv id;
} add_ctx;

static bool add_fn(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	add_ctx *c = ctx;
	(void)remove;
	static sv ids[WAIT_IDS_MAX];
	size_t n = found ? split_ids(old, ids, WAIT_IDS_MAX) : 0;
	for (size_t i = 0; i < n; i++)
		if (sv_eq(ids[i], c->id))
			return false;           /* already waiting: leave the record as it is */
	size_t first = n + 1 > WAIT_IDS_MAX ? n + 1 - WAIT_IDS_MAX : 0;
	for (size_t i = first; i < n; i++) {
		xbuf_putsv(out, ids[i]);
		xbuf_putc(out, ' ');
	}
	xbuf_putsv(out, c->id);
	return true;
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
		add_ctx c = { .id = sv_cstr(id) };
		hintsdb_update(db, host_name, add_fn, &c);
		hintsdb_close(db);
	}
	arena_reset(pool_scratch, mk);
}

void dcont_wait_add_hosts(const spool_config *sc, const address_item *a, const char *id)
{
	for (const route_host *h = a->hosts; h; h = h->next)
		if (!h->unusable && h->name.len)
			dcont_wait_add(sc, a->transport, h->name, id);
}

typedef struct next_ctx {
	const spool_config *sc;
	const char *current;
	char *id_out;
	bool found;
} next_ctx;

static bool still_queued(const spool_config *sc, sv id)
{
	if (!spool_valid_id(id))
		return false;
	char buf[MSG_ID_LEN + 1];
	memcpy(buf, id.p, MSG_ID_LEN);
	buf[MSG_ID_LEN] = 0;
	return access(spool_path(pool_scratch, sc, "input", buf, "-H"), F_OK) == 0;
}

static bool next_fn(void *ctx, sv old, bool found, xbuf *out, bool *remove)
{
	next_ctx *c = ctx;
	if (!found)
		return false;
	static sv ids[WAIT_IDS_MAX];
	size_t n = split_ids(old, ids, WAIT_IDS_MAX);
	bool *keep = arena_calloc(pool_scratch, n ? n : 1, sizeof *keep);
	size_t kept = 0;
	for (size_t i = n; i-- > 0;) {
		if (sv_eq_cstr(ids[i], c->current)) {
			keep[i] = true;      /* still waiting for another host of its own, maybe */
			kept++;
			continue;
		}
		if (!c->found && still_queued(c->sc, ids[i])) {
			memcpy(c->id_out, ids[i].p, MSG_ID_LEN);
			c->id_out[MSG_ID_LEN] = 0;
			c->found = true;
			continue;           /* taken: off the record */
		}
		if (c->found) {
			keep[i] = true;      /* not looked at: kept as it is */
			kept++;
		}
	}
	if (kept == 0) {
		*remove = true;
		return true;
	}
	for (size_t i = 0; i < n; i++)
		if (keep[i]) {
			if (out->len)
				xbuf_putc(out, ' ');
			xbuf_putsv(out, ids[i]);
		}
	return true;
}

bool dcont_wait_next(const spool_config *sc, const char *transport, sv host_name,
	const char *current_id, char *id_out)
{
	if (!transport || host_name.len == 0)
		return false;
	arena_mark mk = arena_getmark(pool_scratch);
	xbuf err;
	xbuf_init(&err, pool_scratch);
	next_ctx c = { .sc = sc, .current = current_id ? current_id : "", .id_out = id_out };
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
		hintsdb_update(db, host_name, next_fn, &c);
		hintsdb_close(db);
	}
	arena_reset(pool_scratch, mk);
	return c.found;
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

bool dcont_pass(const char *const *argv_base, const char *transport, sv host_name, sv host_address,
	int sequence, const char *id, int fd, unsigned offered, bool authenticated,
	const dcont_conn *proxy)
{
	const char *argv[32];
	int n = 0;
	for (int i = 0; argv_base[i] && i < 3; i++)
		argv[n++] = argv_base[i];
	if (authenticated)
		argv[n++] = "-MCA";
	if (offered & DCONT_DSN)
		argv[n++] = "-MCD";
	if (offered & DCONT_CHUNKING)
		argv[n++] = "-MCK";
	if (offered & DCONT_PIPELINING)
		argv[n++] = "-MCP";
	if (offered & DCONT_SIZE)
		argv[n++] = "-MCS";
	char qpid[32], qfd[32], seq[32], pport[32];
	if (proxy && proxy->proxy_cipher) {
		snprintf(pport, sizeof pport, "%d", proxy->proxy_port);
		argv[n++] = "-MCt";
		argv[n++] = proxy->proxy_address ? proxy->proxy_address : "";
		argv[n++] = pport;
		argv[n++] = proxy->proxy_cipher;
	}
	if (dcont_queue_pipe_fd >= 0) {
		snprintf(qpid, sizeof qpid, "%ld", (long)dcont_queue_pid);
		snprintf(qfd, sizeof qfd, "%d", dcont_queue_pipe_fd);
		argv[n++] = "-MCQ";
		argv[n++] = qpid;
		argv[n++] = qfd;
	}
	snprintf(seq, sizeof seq, "%d", sequence);
	argv[n++] = "-MC";
	argv[n++] = transport;
	argv[n++] = sv_dup(pool_scratch, host_name);
	argv[n++] = sv_dup(pool_scratch, host_address);
	argv[n++] = seq;
	argv[n++] = id;
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
