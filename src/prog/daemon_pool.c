/* Pre-forked session processes. Forking, resetting signals and dropping privileges per
 * connection put about a millisecond (several under load) between a client's connect and our
 * banner; Postfix avoids it by keeping prepared processes. The daemon keeps a few processes that
 * have already done that set-up and wait on a socketpair; an accepted connection (after every
 * check the daemon makes before forking, and its "SMTP connection from" line) is passed to one
 * of them with SCM_RIGHTS. Each serves one connection at a time, up to
 * smtp_accept_process_reuse connections (daemon_reuse.c: what is reset between two, and the
 * configurations whose processes serve only one), then exits; the daemon forks replacements
 * after the batch of accepts, off the connection's path. How many are kept ready follows the
 * most sessions recently served at once (target(): 8 to 64).
 *
 * A process serving a connection counts as a session (smtp_accept_max and the rest) until it
 * says over its channel that the connection has ended ("done"); it is then idle again. One that
 * ends instead (its last connection, a failure, killed) is counted until it is reaped, as a
 * forked child always was; its channel's end of file only removes it from the pool.
 *
 * Processes that may hold outdated state are not used: those forked before the TLS context or
 * the ticket keys changed (tls_daemon_generation) and those older than POOL_MAX_AGE; a process
 * coming back in either state is retired instead. A SIGHUP re-exec discards the pool (the
 * channels close on exec: idle processes see the end of file and exit, busy ones exit after
 * their connection because nobody hears their "done"); so does SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/log.h"
#include "prog/daemon_internal.h"
#include "tls/tls.h"

#define POOL_IDLE 8        /* idle processes kept ready when connections are few */
#define POOL_IDLE_MAX 16   /* returning processes beyond this many idle ones are retired */
#define POOL_CEILING 64    /* the highest target: idle processes forked in advance */
#define DEMAND_WINDOW 5    /* seconds: demand is the peak of this window and the previous one */
#define POOL_TRACK 256     /* processes followed (idle and busy); beyond, one connection each */
#define POOL_MAX_AGE 60    /* seconds; older processes are replaced, not used */
#define POOL_YOUNG 2       /* seconds: an idle process that ends sooner "died young" */
#define POOL_BACKOFF_MAX 60

typedef struct pool_proc {
	pid_t pid;
	int chan;          /* the daemon's end of the socketpair */
	time_t born;
	unsigned long seq; /* order of forking or of coming back: see pick() */
	unsigned tls_gen;  /* tls_daemon_generation() when forked */
	bool busy;         /* serving a connection: a session for the daemon's counts */
	bool warm;         /* came back from a connection: fully prepared */
} pool_proc;

static struct {
	pool_proc v[POOL_TRACK];
	size_t n, idle;
	bool enabled;
	bool fork_failed;  /* the last fill could not fork: wait for the next connection */
	/* Idle processes that end as soon as they start (a log the exim user cannot open, say)
	 * would otherwise be replaced at once, hundreds of forks a second: after each such death
	 * no replacement is forked for 2, 4 ... 60 seconds (connections meanwhile get a process
	 * of their own, as without the pool). */
	unsigned young_deaths;
	time_t backoff_until;
	const listen_set *listeners;
	unsigned long forked;
	/* The most sessions served at once, as seen at each hand-over: see target(). */
	size_t peak, prev_peak;
	time_t window_start;
} pool;

/* What travels with the connection's descriptor. */
typedef struct handout_msg {
	uint32_t magic;
	int32_t others;    /* sessions running before this one (smtp_accept_reserve) */
	uint8_t queue_only_load, accept_queue;
} handout_msg;
#define POOL_MAGIC 0x706f6f6cu

static size_t idle_max(void);

/* What a process says when its connection has ended and it waits for the next one. */
typedef struct done_msg {
	uint32_t magic;
	uint32_t served;   /* connections served so far */
} done_msg;
#define DONE_MAGIC 0x646f6e65u

void daemon_pool_enable(const listen_set *listeners)
{
	pool.enabled = true;
	pool.listeners = listeners;
}

void daemon_pool_close_in_child(void)
{
	for (size_t i = 0; i < pool.n; i++)
		close(pool.v[i].chan);
	pool.n = pool.idle = 0;
	pool.enabled = false;
}

/* kill_it only for an idle process (waiting for a connection: nothing is lost); a busy one
 * whose channel is closed finishes its connection and exits. */
static void drop(size_t i, bool kill_it)
{
	close(pool.v[i].chan);
	if (kill_it && !pool.v[i].busy)
		kill(pool.v[i].pid, SIGTERM);
	if (!pool.v[i].busy)
		pool.idle--;
	pool.v[i] = pool.v[--pool.n];
}

bool daemon_pool_reaped(pid_t pid)
{
	for (size_t i = 0; i < pool.n; i++)
		if (pool.v[i].pid == pid) {
			if (pool.v[i].busy) {
				drop(i, false); /* died mid-connection: the caller uncounts the session */
				return false;
			}
			time_t now = time(NULL);
			if (!pool.v[i].warm && now - pool.v[i].born < POOL_YOUNG && now >= pool.v[i].born) {
				pool.young_deaths++;
				unsigned shift = pool.young_deaths < 6 ? pool.young_deaths : 6;
				time_t wait = (time_t)1 << shift;
				pool.backoff_until = now + (wait < POOL_BACKOFF_MAX ? wait : POOL_BACKOFF_MAX);
				if (pool.young_deaths == 3)
					log_write(LOG_MAIN | LOG_PANIC, "pre-forked session processes end as they start "
						"(last: pid %ld); forking fewer until one lives", (long)pid);
			} else {
				pool.young_deaths = 0;
			}
			drop(i, false);
			return true;
		}
	return false;
}

void daemon_pool_discard(void)
{
	while (pool.n)
		drop(pool.n - 1, true);
}

void daemon_pool_discard_wait(int max_ms)
{
	pid_t pids[POOL_TRACK];
	size_t n = 0;
	for (size_t i = 0; i < pool.n; i++)
		if (!pool.v[i].busy)
			pids[n++] = pool.v[i].pid;
	daemon_pool_discard();
	/* Idle processes leave at once, removing their spare spool files; waiting (bounded) means
	 * that when the daemon is gone, so are they and their files. */
	for (int waited = 0; n > 0 && waited < max_ms; waited += 5) {
		for (size_t i = 0; i < n;) {
			pid_t r = waitpid(pids[i], NULL, WNOHANG);
			if (r == pids[i] || (r < 0 && errno == ECHILD))
				pids[i] = pids[--n];
			else
				i++;
		}
		if (n > 0)
			nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
	}
}

static bool outdated(const pool_proc *p, time_t now, unsigned gen)
{
	return p->tls_gen != gen || now - p->born > POOL_MAX_AGE || now < p->born;
}

/* A busy process's channel is readable: its "done" (idle again, the session uncounted), or
 * the end of file of a process that is ending (counted until reaped). */
static void channel_ready(size_t i, daemon_children *c)
{
	pool_proc *p = &pool.v[i];
	done_msg m;
	ssize_t r;
	do
		r = recv(p->chan, &m, sizeof m, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r != (ssize_t)sizeof m || m.magic != DONE_MAGIC) {
		drop(i, false);
		return;
	}
	daemon_children_remove(c, p->pid);
	p->busy = false;
	p->warm = true;
	p->seq = ++pool.forked;
	pool.idle++;
	/* (A certificate changed since is noticed at the next hand-over.) */
	if (pool.idle > idle_max() || outdated(p, time(NULL), tls_daemon_generation()))
		drop(i, true);
}

/* The daemon is not woken by a "done": it looks at the channels of busy processes once per turn
 * of its loop (daemon.c, before any accept and before the pool is refilled), with one poll that
 * does not wait. A connection costs the daemon one wake-up (its accept) instead of two; the
 * counts an accept checks are as fresh as before, since a "done" that arrived while the daemon
 * slept is read before that accept. An ending process's end of file waits for the same turn;
 * its exit (SIGCHLD) wakes the daemon anyway. */
void daemon_pool_collect(daemon_children *c)
{
	struct pollfd fds[POOL_TRACK];
	size_t k = 0;
	for (size_t i = 0; i < pool.n; i++)
		if (pool.v[i].busy)
			fds[k++] = (struct pollfd){ .fd = pool.v[i].chan, .events = POLLIN };
	if (k == 0 || poll(fds, k, 0) <= 0)
		return;
	for (size_t j = 0; j < k; j++) {
		if (!(fds[j].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (size_t i = 0; i < pool.n; i++)
			if (pool.v[i].busy && pool.v[i].chan == fds[j].fd) {
				channel_ready(i, c);
				break;
			}
	}
}

/* SIGTERM while idle (the daemon retiring or discarding the process): leave through
 * daemon_session_exit, which removes the spare spool files made in advance. */
static volatile sig_atomic_t idle_term;

static void on_idle_term(int sig)
{
	(void)sig;
	idle_term = 1;
}

static void idle_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_idle_term; /* no SA_RESTART: recvmsg returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
}

/* Wait for the daemon's next connection: its descriptor, or -1 when the daemon went away (end
 * of file) or retired this process. */
static int next_connection(int chan, handout_msg *m)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { m, sizeof *m };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t r;
	do
		r = idle_term ? -1 : recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR && !idle_term);
	int fd = -1;
	struct cmsghdr *c = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	if (r != (ssize_t)sizeof *m || m->magic != POOL_MAGIC || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The process side: serve connections one at a time until the limit. Never returns. */
static _Noreturn void worker(int chan)
{
	daemon_child_setup(pool.listeners);
	idle_signals();
	daemon_worker_prepare(chan);
	/* Named apart while idle (ps, and tests counting sessions); a session once it serves. */
	char name[17] = "";
	prctl(PR_GET_NAME, name, 0, 0, 0);
	unsigned limit = daemon_reuse_limit();
	prctl(PR_SET_NAME, "postern-idle", 0, 0, 0);
	for (unsigned served = 0;;) {
		handout_msg m;
		int fd = next_connection(chan, &m);
		if (fd < 0)
			daemon_session_exit(0); /* the handler stays: its SIGTERM often follows the end of file */
		prctl(PR_SET_NAME, name, 0, 0, 0);
		signal(SIGTERM, SIG_DFL); /* a connection handed over is served whatever came meanwhile */
		bool last = ++served >= limit;
		if (last)
			close(chan); /* the daemon counts this session until it is reaped */
		int rc = daemon_worker_serve(fd, m.others, m.queue_only_load != 0, m.accept_queue != 0);
		if (last || rc != 0 || !daemon_reuse_reset())
			daemon_session_exit(rc);
		idle_signals();
		prctl(PR_SET_NAME, "postern-idle", 0, 0, 0); /* idle before the daemon hears it */
		done_msg d = { .magic = DONE_MAGIC, .served = served };
		ssize_t r;
		do
			r = send(chan, &d, sizeof d, MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR && !idle_term);
		if (r != (ssize_t)sizeof d)
			daemon_session_exit(0); /* the daemon went away or no longer follows us */
	}
}

/* Demand: the most sessions served at once in the current DEMAND_WINDOW seconds and the
 * previous ones. A window without connections leaves 0 behind, so two quiet windows bring the
 * pool back to its base size. */
static void roll_windows(time_t now)
{
	if (now >= pool.window_start && now - pool.window_start < DEMAND_WINDOW)
		return;
	bool adjacent = now >= pool.window_start && now - pool.window_start < 2 * DEMAND_WINDOW;
	pool.prev_peak = adjacent ? pool.peak : 0;
	pool.peak = 0;
	pool.window_start = now;
}

static void note_demand(size_t sessions)
{
	roll_windows(time(NULL));
	if (sessions > pool.peak)
		pool.peak = sessions;
}

/* Idle processes to keep ready: 8, or as many as the sessions recently served at once. With
 * clients that open a new connection per message, a connection arrives before the process that
 * served the same client's previous one has said it is done; a pool of 8 then left most
 * connections to a fork of their own, and the processes coming back were retired as surplus.
 * Never more than smtp_accept_max (no connection beyond it is handed out) nor POOL_CEILING. */
static size_t target(void)
{
	roll_windows(time(NULL));
	size_t t = pool.peak > pool.prev_peak ? pool.peak : pool.prev_peak;
	if (t < POOL_IDLE)
		t = POOL_IDLE;
	if (t > POOL_CEILING)
		t = POOL_CEILING;
	if (conf_main.smtp_accept_max > 0 && (size_t)conf_main.smtp_accept_max < t)
		t = (size_t)conf_main.smtp_accept_max;
	return t;
}

/* Returning processes beyond this many idle ones are retired (and the surplus of a busy spell
 * once it is over: trim()). Twice the target (at least 16, at most 128 idle processes of about
 * 194 kB each), as the processes of the connections being served come back while as many new
 * connections are handed out. Measured at 32 clients of a connection per message
 * (bench/accept/README.md, session 15): with the target alone, or with 64 at most, returns
 * beyond it were retired and hand-overs below it forked replacements, several times the forks. */
static size_t idle_max(void)
{
	size_t t = 2 * target();
	return t > POOL_IDLE_MAX ? t : POOL_IDLE_MAX;
}

/* After a busy spell: idle processes beyond idle_max() are retired, the least wanted first
 * (the last pick() would choose: cold, most recently forked). */
static void trim(void)
{
	size_t max = idle_max();
	while (pool.idle > max) {
		size_t worst = SIZE_MAX;
		for (size_t j = 0; j < pool.n; j++) {
			const pool_proc *q = &pool.v[j];
			if (q->busy)
				continue;
			if (worst == SIZE_MAX) {
				worst = j;
				continue;
			}
			const pool_proc *w = &pool.v[worst];
			if (q->warm != w->warm ? !q->warm : q->warm ? q->seq < w->seq : q->seq > w->seq)
				worst = j;
		}
		drop(worst, true);
	}
}

static bool backing_off(void)
{
	return pool.backoff_until && time(NULL) < pool.backoff_until;
}

static bool short_of_idle(void)
{
	return pool.idle < target() && pool.n < POOL_TRACK;
}

int daemon_pool_backoff_ms(void)
{
	/* More idle processes than a quiet daemon keeps: wake when the demand window ends, so
	 * that the surplus is retired (trim) even if no connection comes. */
	if (pool.enabled && pool.idle > POOL_IDLE_MAX) {
		time_t now = time(NULL);
		roll_windows(now);
		time_t left = pool.window_start + DEMAND_WINDOW - now;
		return left > 0 ? (int)left * 1000 : 1000;
	}
	if (!pool.enabled || !short_of_idle() || pool.fork_failed || !backing_off())
		return -1;
	time_t left = pool.backoff_until - time(NULL);
	return left > 0 ? (int)left * 1000 : 0;
}

bool daemon_pool_short(void)
{
	return pool.enabled && short_of_idle() && !pool.fork_failed && !backing_off();
}

void daemon_pool_fill(size_t max_forks)
{
	if (pool.enabled)
		trim();
	if (!pool.enabled || !short_of_idle() || backing_off())
		return;
	time_t now = time(NULL);
	tls_daemon_before_fork(now); /* the processes inherit the current TLS context and keys */
	unsigned gen = tls_daemon_generation();
	pool.fork_failed = false;
	for (size_t forks = 0; short_of_idle() && (max_forks == 0 || forks < max_forks); forks++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
			pool.fork_failed = true; /* not again before the next connection (no busy loop) */
			return;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(sv[0]);
			worker(sv[1]);
		}
		close(sv[1]);
		if (pid < 0) {
			close(sv[0]);
			pool.fork_failed = true; /* connections are forked for as before */
			return;
		}
		fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
		pool.v[pool.n++] = (pool_proc){ .pid = pid, .chan = sv[0], .born = now, .seq = ++pool.forked,
			.tls_gen = gen };
		pool.idle++;
	}
}

/* The idle process to hand a connection to: the one that came back last (warm: its memory
 * and caches in use, and certainly prepared), else the oldest forked (a replacement forked
 * after the last hand-over may still be preparing itself; a connection handed to it waits). */
static size_t pick(void)
{
	size_t best = SIZE_MAX;
	for (size_t j = 0; j < pool.n; j++) {
		const pool_proc *q = &pool.v[j];
		if (q->busy)
			continue;
		if (best == SIZE_MAX) {
			best = j;
			continue;
		}
		const pool_proc *b = &pool.v[best];
		if (q->warm != b->warm ? q->warm : q->warm ? q->seq > b->seq : q->seq < b->seq)
			best = j;
	}
	return best;
}

pid_t daemon_pool_handout(int fd, int others, bool queue_only_load, bool accept_queue)
{
	pool.fork_failed = false;
	if (!pool.enabled)
		return -1;
	note_demand((size_t)others + 1); /* whether or not a process is ready: see target() */
	if (pool.idle == 0)
		return -1;
	time_t now = time(NULL);
	tls_daemon_before_fork(now);
	unsigned gen = tls_daemon_generation();
	while (pool.idle) {
		size_t i = pick();
		pool_proc *p = &pool.v[i];
		if (outdated(p, now, gen)) {
			drop(i, true);
			continue;
		}
		handout_msg m = { .magic = POOL_MAGIC, .others = others, .queue_only_load = queue_only_load,
			.accept_queue = accept_queue };
		char cbuf[CMSG_SPACE(sizeof(int))];
		memset(cbuf, 0, sizeof cbuf);
		struct iovec iov = { &m, sizeof m };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
		ssize_t r;
		do
			r = sendmsg(p->chan, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		pid_t pid = p->pid;
		if (r != (ssize_t)sizeof m) {
			drop(i, true); /* unusable (died meanwhile) */
			continue;
		}
		pool.young_deaths = 0; /* it lived to take a connection */
		/* Followed until its "done" (or its end of file when this was its last connection). */
		p->busy = true;
		pool.idle--;
		return pid;
	}
	return -1;
}
