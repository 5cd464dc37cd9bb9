/* The delivery launcher's workers (deliver_launch_pool.h).
 *
 * A worker is a child of the launcher that delivers messages one after another, each exactly as
 * a delivery process of its own would (its own -D lock, journal, log lines; deliver_message()),
 * as the queue runner's workers do (queue_pool.c). Why: a fork and an exit of the launcher's
 * image per message were most of the CPU time of a relayed message's delivery (page tables,
 * mappings, copy-on-write faults; bench/relay/README.md); a worker pays them once per
 * LPOOL_MESSAGES messages.
 *
 * The launcher hands a message to an idle worker at once, forks a new worker when none is idle,
 * and when LPOOL_MAX workers are busy keeps the message for LPOOL_WAIT_MS for the first
 * worker that becomes idle, then starts a delivery process of its own for it, as before. Why the
 * wait: with every worker busy the machine is usually busy too (on 2 CPUs a relay at full speed
 * had 32 workers waiting for the CPU), and a fork, its copy-on-write faults and its exit per
 * message then took more CPU than the deliveries (bench/relay/README.md, session 13); a message
 * that waits goes out in the order it came. The wait goes on while the workers keep finishing
 * messages (one became idle within the last LPOOL_WAIT_MS): then the queue is moving and a
 * process per message would only take the CPU from them (at 32 clients hundreds of such
 * processes at once: bench/relay/README.md, session 13 round 2); one whose workers are all held
 * up by slow servers still starts within LPOOL_WAIT_MS of the last one that finished and
 * LPOOL_WAIT_MAX_MS of its arrival, and at most LPOOL_PENDING messages wait. Only the launcher
 * ends idle workers (closing their job pipe), so a job never goes to a worker that is leaving:
 * - a worker reports on the shared report pipe once each message has ended (before it removes
 *   the message's -D, -J and msglog: worker_main); it is idle from then on;
 * - a worker that must not deliver again (its credentials changed: deliver_drop_privilege;
 *   LPOOL_MESSAGES delivered) says so in that report and exits;
 * - a worker that ends otherwise (killed, or it became a -MC process by exec) is seen through its
 *   pidfd; a message it was delivering is as after a killed delivery process (still queued,
 *   locked until its transport children are done);
 * - a worker that ends before it has read the job it was handed (killed just then: the job is
 *   still in its pipe) started nothing: the message goes to another worker or a process of its
 *   own at once, instead of waiting for the next queue run (worker_ended);
 * - idle for LPOOL_IDLE_SECS: its job pipe is closed and it exits;
 * - when the launcher ends, every job pipe closes and the workers exit after their message.
 * Between messages a worker may hold one idle SMTP connection its smtp transport kept
 * (deliver_conn_cache.h); it watches it while it waits for a job, and says QUIT when it leaves.
 * The launcher hands a message to the worker that became idle last, the one most likely to
 * hold a connection to where the message goes. */
#include "core/deliver_launch_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/deliver_conn_cache.h"
#include "core/dns.h"
#include "core/queue.h"
#include "core/queue_named.h"
#include "lib/clock.h"
#include "lib/fdio.h"
#include "lib/log.h"

#define LPOOL_MAX 32              /* workers at most; beyond, a process per message */
#define LPOOL_MESSAGES 64         /* then a worker exits (as queue workers do) */
#define LPOOL_IDLE_SECS 30
#define LPOOL_WAIT_MS 200         /* a message waits this long for a busy worker, then a process */
#define LPOOL_WAIT_MAX_MS 2000    /* ... unless workers keep becoming idle, up to this long */
#define LPOOL_PENDING 4096        /* messages waiting at most; beyond, a process at once */

/* One message for a worker: one write, under PIPE_BUF. */
typedef struct lp_job {
	char id[MSG_ID_LEN + 1];
	char queue[QUEUE_NAME_MAX + 1];   /* "" for the default queue */
	bool queue_smtp;
} lp_job;

typedef struct lp_report {
	int slot;
	pid_t pid;
	bool leaving;
} lp_report;

typedef struct lp_worker {
	pid_t pid;                    /* 0: free slot */
	int jobfd;                    /* launcher -> worker */
	int pidfd;
	bool busy;
	int64_t idle_since;           /* monotonic ms */
	lp_job job;                   /* while busy: the message it was handed */
} lp_worker;

static lp_worker workers[LPOOL_MAX];
/* Messages waiting for a worker (all LPOOL_MAX busy), oldest first: a ring. */
static struct {
	lp_job job;
	int64_t deadline; /* monotonic ms: then a delivery process of its own */
} pending[LPOOL_PENDING];
static int pending_first, pending_n;
/* When a worker last became idle (monotonic ms): while that is recent the waiting messages are
 * moving, and they keep waiting past their deadline (run_pending). */
static int64_t last_idle_report;
static int report_rd = -1, report_wr = -1;
/* The launcher's spool (without its queue name, which each job carries), for a job handed again. */
static spool_config launcher_sc;
static bool have_launcher_sc;

/* Descriptors of the pool a process forked from the launcher must not keep. */
static void close_pool_fds(int keep_slot)
{
	for (int i = 0; i < LPOOL_MAX; i++) {
		if (!workers[i].pid)
			continue;
		if (i != keep_slot)
			close(workers[i].jobfd);
		close(workers[i].pidfd);
	}
	if (report_rd >= 0)
		close(report_rd);
}

static void drop(int i)
{
	close(workers[i].jobfd);
	close(workers[i].pidfd);
	workers[i] = (lp_worker){ 0 };
}

/* ---- in a worker ---- */

/* The next job, watching the cached connection meanwhile (deliver_conn_cache.h): anything the
 * server says unasked (EOF, a 421 before it closes) ends it at once, and so does the end of its
 * idle time (with QUIT). false: the launcher closed the job pipe. */
static bool next_job(int jobfd, lp_job *j)
{
	for (;;) {
		int fd = dccache_fd();
		if (fd < 0)
			return fd_read_all(jobfd, j, sizeof *j);
		int left = dccache_left_ms();
		if (left <= 0) {
			dccache_close(true, jobfd);
			continue;
		}
		struct pollfd p[2] = { { .fd = jobfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
		int r = poll(p, 2, left);
		if (r < 0 && errno != EINTR)
			dccache_close(true, jobfd);
		if (r <= 0)
			continue;
		if (p[1].revents)
			dccache_close(false, -1);
		if (p[0].revents)
			return fd_read_all(jobfd, j, sizeof *j);
	}
}

static void worker_main(const spool_config *sc, int slot, int jobfd)
{
	prctl(PR_SET_NAME, "postern-deliver", 0, 0, 0);
	signal(SIGCHLD, SIG_DFL); /* the delivery waits for its transport processes */
	setsid();
	deliver_stdio_to_null();
	/* The schedule index stays open for the worker's life: forgetting each delivered message
	 * is then one write transaction, not an open and a close of the environment as well. */
	queue_schedule_keep_open();
	dccache_enabled = true;
	pid_t me = getpid();
	/* Credentials as the worker started: a delivery that changed them (deliver_drop_privilege)
	 * ends the worker. Real, effective and saved ids in two calls. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	lp_job j;
	for (int n = 1; next_job(jobfd, &j); n++) {
		j.id[MSG_ID_LEN] = 0;
		j.queue[QUEUE_NAME_MAX] = 0;
		arena_mark mm = arena_getmark(pool_msg), ms = arena_getmark(pool_scratch);
		spool_config msc = *sc;
		msc.queue_name = j.queue[0] ? j.queue : NULL;
		/* What follows a completed message's "Completed" (its -D, -J and msglog removed, its
		 * schedule index entry forgotten) is done here after the report, as a queue runner
		 * does it for its workers: the launcher sees the worker idle as soon as the message
		 * has ended, instead of starting another worker (and another connection) meanwhile.
		 * A job handed over in between waits in the pipe for those few calls. */
		deliver_opts o = { .queue_smtp = j.queue_smtp, .caller_removes_rest = true, .caller_keeps_schedule = true };
		deliver_rc rc = deliver_message(&msc, j.id, &o);
		deliver_outcome out = deliver_last_outcome();
		fflush(NULL);
		uid_t ru2, eu2, su2;
		gid_t rg2, eg2, sg2;
		bool same = getresuid(&ru2, &eu2, &su2) == 0 && getresgid(&rg2, &eg2, &sg2) == 0 && ru2 == ru && eu2 == eu
			&& su2 == su && rg2 == rg && eg2 == eg && sg2 == sg;
		lp_report r = { .slot = slot, .pid = me, .leaving = n >= LPOOL_MESSAGES || !same };
		bool reported = fd_write_all(report_wr, &r, sizeof r);
		/* The schedule index as deliver_message would have left it (it records only what an
		 * attempt ended with: "Completed" or still queued). */
		if (out.kind == DELIVER_OUTCOME_GONE && out.remove_rest)
			deliver_remove_rest(&msc, j.id);
		if (rc == DELIVER_ATTEMPTED && out.kind == DELIVER_OUTCOME_GONE)
			queue_schedule_forget(&msc, j.id);
		else if (rc == DELIVER_ATTEMPTED && out.kind == DELIVER_OUTCOME_QUEUED)
			queue_schedule_note_skip(&msc, j.id, out.next_due, out.frozen, out.skip_log);
		arena_reset(pool_msg, mm);
		arena_reset(pool_scratch, ms);
		/* Each message starts as in a delivery process of its own: no DNS answers carried
		 * over (lookups are tidied by deliver_message itself). */
		dns_cache_flush();
		if (!reported || r.leaving) {
			dccache_close(true, -1);
			_exit(0);
		}
	}
	dccache_close(true, -1);
	_exit(0);
}

/* ---- in the launcher ---- */

static int spawn(int input_fd, const spool_config *sc)
{
	int slot = -1;
	for (int i = 0; i < LPOOL_MAX && slot < 0; i++)
		if (!workers[i].pid)
			slot = i;
	if (slot < 0)
		return -1;
	if (report_rd < 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0)
			return -1;
		/* Read until empty after each poll (take_reports). */
		fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
		report_rd = p[0];
		report_wr = p[1];
	}
	int jp[2];
	if (pipe2(jp, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(jp[0]);
		close(jp[1]);
		return -1;
	}
	if (pid == 0) {
		close(jp[1]);
		close(input_fd);
		close_pool_fds(-1);
		worker_main(sc, slot, jp[0]);
	}
	close(jp[0]);
	int pidfd = -1;
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	if (pidfd < 0) {
		/* No way to see it end: it gets no job and leaves at the end of its pipe. */
		close(jp[1]);
		return -1;
	}
	workers[slot] = (lp_worker){ .pid = pid, .jobfd = jp[1], .pidfd = pidfd };
	return slot;
}

static void launch_one(int input_fd, const spool_config *sc, const char *id, const deliver_opts *o);
static void run_pending(int input_fd, bool all);

/* Every report waiting, before any worker's end is looked at: a report left in the pipe would
 * otherwise be read later against a new worker in the same slot (the pid guards that too). */
static void take_reports(void)
{
	lp_report r;
	for (;;) {
		ssize_t got = read(report_rd, &r, sizeof r);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof r)
			return;   /* empty (EAGAIN); reports are written whole, far below PIPE_BUF */
		if (r.slot < 0 || r.slot >= LPOOL_MAX || !workers[r.slot].pid || workers[r.slot].pid != r.pid)
			continue;
		if (r.leaving) {
			drop(r.slot);
			continue;
		}
		workers[r.slot].busy = false;
		workers[r.slot].idle_since = last_idle_report = monotonic_ms();
	}
}

/* A busy worker that ended: if the job it was handed is still unread in its pipe, it had not
 * begun the message (no lock taken, nothing logged or delivered), so handing the message to
 * another process now cannot deliver anything twice. One it had read is left as after a killed
 * delivery process. FIONREAD on the pipe's write end counts the bytes nobody has read. */
static void worker_ended(int input_fd, int i)
{
	int unread = 0;
	bool lost = workers[i].busy && have_launcher_sc && ioctl(workers[i].jobfd, FIONREAD, &unread) == 0
		&& unread >= (int)sizeof(lp_job);
	lp_job j = workers[i].job;
	pid_t pid = workers[i].pid;
	drop(i);
	if (!lost)
		return;
	log_write(LOG_MAIN, "%s delivery worker %ld ended before it took the message: delivering it in another process",
		j.id, (long)pid);
	spool_config msc = launcher_sc;
	msc.queue_name = j.queue[0] ? j.queue : NULL;
	deliver_opts o = { .queue_smtp = j.queue_smtp };
	lpool_deliver(input_fd, &msc, j.id, &o);
}

/* When the oldest waiting message gets a process of its own: LPOOL_WAIT_MS after it came, or
 * after the last worker became idle if that is later (the workers are getting through the queue),
 * but LPOOL_WAIT_MAX_MS after it came at the latest (one worker getting through while the others
 * are held up by slow servers would otherwise set the pace for every message). */
static int64_t pending_deadline(void)
{
	int64_t d = pending[pending_first].deadline, moving = last_idle_report + LPOOL_WAIT_MS;
	int64_t latest = d - LPOOL_WAIT_MS + LPOOL_WAIT_MAX_MS;
	if (moving > d)
		d = moving;
	return d < latest ? d : latest;
}

bool lpool_wait_input(int input_fd)
{
	for (;;) {
		struct pollfd p[2 + LPOOL_MAX];
		int slot_of[2 + LPOOL_MAX];
		nfds_t n = 0;
		p[n++] = (struct pollfd){ .fd = input_fd, .events = POLLIN };
		if (report_rd >= 0)
			p[n++] = (struct pollfd){ .fd = report_rd, .events = POLLIN };
		int64_t now = monotonic_ms(), next_idle_end = -1;
		for (int i = 0; i < LPOOL_MAX; i++) {
			if (!workers[i].pid)
				continue;
			if (!workers[i].busy) {
				int64_t end = workers[i].idle_since + LPOOL_IDLE_SECS * 1000;
				if (end <= now) {
					drop(i);   /* end of its job pipe: it exits */
					continue;
				}
				if (next_idle_end < 0 || end < next_idle_end)
					next_idle_end = end;
			}
			slot_of[n] = i;
			p[n++] = (struct pollfd){ .fd = workers[i].pidfd, .events = POLLIN };
		}
		int64_t wake = next_idle_end;
		if (pending_n && (wake < 0 || pending_deadline() < wake))
			wake = pending_deadline();
		int timeout = wake < 0 ? -1 : wake <= now ? 0 : (int)(wake - now);
		int r = poll(p, n, timeout);
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0) {
			nfds_t k = 1;
			if (report_rd >= 0 && (p[k++].revents & POLLIN))
				take_reports();
			/* An ended worker, after its report (if any) was taken. */
			for (; k < n; k++)
				if ((p[k].revents & (POLLIN | POLLHUP | POLLERR)) && workers[slot_of[k]].pid)
					worker_ended(input_fd, slot_of[k]);
		}
		run_pending(input_fd, false);
		if (r > 0 && p[0].revents)
			return true;
	}
}

/* A delivery process of its own for one message, a direct child of the launcher (which ignores
 * SIGCHLD, so the kernel reaps it). */
static void launch_one(int input_fd, const spool_config *sc, const char *id, const deliver_opts *o)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "fork failed for the delivery process: %s", strerror(errno));
		return; /* the message waits for a queue runner */
	}
	if (pid > 0)
		return;
	signal(SIGCHLD, SIG_DFL); /* the delivery waits for its transport processes */
	setsid();
	close(input_fd);
	close_pool_fds(-1);
	if (report_wr >= 0)
		close(report_wr);
	deliver_stdio_to_null();
	deliver_message(sc, id, o);
	_exit(0);
}

/* The worker that became idle last: the one most likely to hold a connection still
 * (deliver_conn_cache.h), and the others age out of the pool. -1: none idle. */
static int idle_worker(void)
{
	int slot = -1;
	for (int i = 0; i < LPOOL_MAX; i++)
		if (workers[i].pid && !workers[i].busy && (slot < 0 || workers[i].idle_since > workers[slot].idle_since))
			slot = i;
	return slot;
}

static int busy_workers(void)
{
	int n = 0;
	for (int i = 0; i < LPOOL_MAX; i++)
		n += workers[i].pid && workers[i].busy;
	return n;
}

/* The job to an idle worker. False: its pipe failed (it is dropped). */
static bool hand_to(int slot, const lp_job *j)
{
	/* An idle worker is blocked reading an empty pipe: the write neither blocks nor splits. */
	if (fd_write_all(workers[slot].jobfd, j, sizeof *j)) {
		workers[slot].busy = true;
		workers[slot].job = *j;
		return true;
	}
	drop(slot);
	return false;
}

void lpool_deliver(int input_fd, const spool_config *sc, const char *id, const deliver_opts *o)
{
	if (!have_launcher_sc) {
		launcher_sc = *sc;
		launcher_sc.queue_name = NULL;
		have_launcher_sc = true;
	}
	lp_job j = { .queue_smtp = o->queue_smtp };
	memcpy(j.id, id, MSG_ID_LEN);
	if (sc->queue_name)
		strncpy(j.queue, sc->queue_name, QUEUE_NAME_MAX);
	/* Behind the messages already waiting, in the order they came. */
	if (pending_n && pending_n < LPOOL_PENDING) {
		int at = (pending_first + pending_n++) % LPOOL_PENDING;
		pending[at].job = j;
		pending[at].deadline = monotonic_ms() + LPOOL_WAIT_MS;
		return;
	}
	int slot = idle_worker();
	bool all_busy = false;
	if (slot < 0) {
		all_busy = busy_workers() == LPOOL_MAX;
		if (!all_busy)
			slot = spawn(input_fd, sc);
	}
	if (all_busy && pending_n < LPOOL_PENDING) {
		int at = (pending_first + pending_n++) % LPOOL_PENDING;
		pending[at].job = j;
		pending[at].deadline = monotonic_ms() + LPOOL_WAIT_MS;
		return;
	}
	if (slot >= 0 && hand_to(slot, &j))
		return;
	launch_one(input_fd, sc, id, o);
}

/* The waiting messages: each to the next idle worker, oldest first, or to a new one where a
 * worker has left (its 64 messages done, or killed); one that has waited LPOOL_WAIT_MS, and as
 * long since a worker last became idle (or every one, with all: the launcher is ending), to a
 * process of its own. */
static void run_pending(int input_fd, bool all)
{
	int64_t now = pending_n ? monotonic_ms() : 0;
	while (pending_n) {
		lp_job *j = &pending[pending_first].job;
		int slot = all ? -1 : idle_worker();
		if (slot < 0 && !all && busy_workers() < LPOOL_MAX)
			slot = spawn(input_fd, &launcher_sc);
		if (slot < 0 && !all && pending_deadline() > now)
			return;
		if (slot < 0 || !hand_to(slot, j)) {
			spool_config msc = launcher_sc;
			msc.queue_name = j->queue[0] ? j->queue : NULL;
			deliver_opts o = { .queue_smtp = j->queue_smtp };
			launch_one(input_fd, &msc, j->id, &o);
		}
		pending_first = (pending_first + 1) % LPOOL_PENDING;
		pending_n--;
	}
}

void lpool_launch_pending(int input_fd)
{
	run_pending(input_fd, true);
}
