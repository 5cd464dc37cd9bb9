/* The delivery workers of a queue-run pass.
 *
 * A worker is a child of the runner that delivers messages one after another, each with its own
 * lock, journal and log lines, exactly as a delivery process of its own would (one fork per
 * QUEUE_WORKER_MESSAGES messages instead of one per message). The runner hands it messages over a
 * pipe and reads back what became of each; the runner holds the schedule index open for the
 * whole pass and records each outcome there.
 *
 * Once every worker has a message, each is handed its next one in advance (WORKER_DEPTH): the
 * worker reads it right after writing its report, instead of waiting for the runner to be
 * scheduled, read the report and write the next job (at queue_run_parallel 1 that wait was one
 * of the three hand-offs of every message). A worker reads a message only after reporting the
 * one before, so a worker that dies has started at most its first; the others it held were never
 * read, and go to another worker in the same run.
 *
 * Up to queue_run_parallel workers have a message in flight at once. Why: on a file system
 * without a journal every delivery waits for device cache flushes (the mailbox file, its
 * directory: docs/architecture.md, "Delivery durability"; the directory is synced by the
 * committer, queue_commit.c), and flushes issued at the
 * same time are served together by the block layer, so overlapping deliveries share the waits
 * without weakening any of them (group commit by concurrency). Nothing about one message's
 * delivery changes: its lock, journal, syncs, log lines and their order are its own.
 *
 * What stays serial, as in Exim's one-message-at-a-time runner (a job marked `alone` starts only
 * when nothing else is in flight, and nothing starts beside it):
 * - queue_run_in_order and start/stop ids (the order is the point);
 * - messages waiting for a host (listed in a wait-<transport> record: deferred for it, or held
 *   back by -odqs, queue_smtp_domains or -qq's first phase); delivered one at a time, the first
 *   of them carries the others over its connection (connection reuse), as Exim does. Side by
 *   side each would open its own. A message not listed cannot be carried by another delivery,
 *   so delivering it beside others changes nothing but the timing.
 * The load check (deliver_queue_load_max) is made here before each message starts, so a run is
 * abandoned once, with Exim's one line. */
#include "core/queue_pool.h"
#include "core/fast_ramp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver_continue.h"
#include "core/deliver_internal.h"
#include "core/dns.h"
#include "core/queue_commit.h"
#include "core/queue_internal.h"
#include "core/spool_tidy.h"
#include "lib/fdio.h"
#include "lib/log.h"

/* One message's outcome: this header and log_len bytes of deliver_outcome.skip_log, written in
 * one write() (under PIPE_BUF, so it arrives whole). */
typedef struct worker_report {
	char id[MSG_ID_LEN];
	uint8_t kind;                 /* deliver_outcome_kind */
	uint8_t frozen;
	uint8_t remove_rest;          /* gone: the runner removes its -D, -J and msglog */
	uint8_t committing;           /* and its -H from the commit directory, after syncing the
	                               * directories the text lists (instead of skip log lines) */
	uint16_t log_len;
	int64_t next_due;
} worker_report;
#define REPORT_LOG_MAX 3900

/* Messages a worker may hold at once: the one it delivers and the next, handed in advance. */
#define WORKER_DEPTH 2

typedef struct worker {
	pid_t pid;
	int jobfd;                    /* runner -> worker: one qjob per message */
	int repfd;                    /* worker -> runner: one report per message */
	const qjob *job[WORKER_DEPTH]; /* handed and not reported yet, in order; nq of them */
	size_t nq;
	size_t given;
	bool shut;                    /* its job pipe failed (it died): nothing more is handed to it */
} worker;

/* The runner's commit directory, for its workers (queue_commit.h); "" when it has none. */
static char commit_dir[1024];
/* The runner's end of the committer's pipe: a worker holding it would keep the committer from
 * seeing its end of file. */
static int committer_fd = -1;

/* ---- in the worker ---- */

static void worker_main(const spool_config *sc, int jobfd, int wfd)
{
	signal(SIGCHLD, SIG_DFL);
	/* A connection handed back for the next waiting message is carried on in this process. */
	dcont_inprocess = true;
	qjob j;
	while (fd_read_all(jobfd, &j, sizeof j)) {
		j.id[MSG_ID_LEN] = 0;
		arena_mark mm = arena_getmark(pool_msg), ms = arena_getmark(pool_scratch);
		/* Continued deliveries started by exec (-MC, e.g. behind a TLS proxy) hold the write end
		 * of a pipe (Exim's -MCQ), made when the message's first remote transport starts; end of
		 * file says the last of them is done, so the worker goes on in Exim's order and does
		 * not race them for the messages they carry. */
		dcont_queue_pipe_defer();
		j.o.caller_removes_rest = true;
		j.o.commit_dir = commit_dir[0] ? commit_dir : NULL;
		deliver_message(sc, j.id, &j.o);
		fast_ramp_flush();   /* the message is unlocked now */
		deliver_outcome out = deliver_last_outcome();
		const char *text = out.commit_dirs ? out.commit_dirs : out.skip_log;
		size_t ll = text ? strlen(text) : 0;
		if (ll > REPORT_LOG_MAX)
			ll = 0;   /* (commit_dirs: at most DIRSYNC_MAX paths, checked by its maker) */
		worker_report r = { .kind = (uint8_t)out.kind, .frozen = out.frozen, .remove_rest = out.remove_rest,
			.committing = out.commit_dirs != NULL,
			.log_len = (uint16_t)ll,
			.next_due = (int64_t)out.next_due };
		memcpy(r.id, j.id, MSG_ID_LEN);
		char buf[sizeof r + REPORT_LOG_MAX];
		memcpy(buf, &r, sizeof r);
		if (ll)
			memcpy(buf + sizeof r, text, ll);
		dcont_run_pending(sc);
		dcont_queue_pipe_wait();
		fflush(NULL);
		if (write(wfd, buf, sizeof r + ll) != (ssize_t)(sizeof r + ll))
			_exit(1);
		arena_reset(pool_msg, mm);
		arena_reset(pool_scratch, ms);
		/* Each message starts as in a delivery process of its own (Exim forks one per message):
		 * no DNS answers carried over (lookups are tidied by deliver_message itself). */
		dns_cache_flush();
	}
	dinproc_release();   /* its kept transport child, if any */
	_exit(0);
}

/* ---- in the runner ---- */

/* deliver_queue_load_max: checked before each message, as Exim does; a forced run (-qf, -qff)
 * ignores it. true: the run ends here (logged as Exim logs it). */
static bool load_too_high(const qjob *j)
{
	if (conf_main.deliver_queue_load_max < 0 || j->o.forced || j->o.thaw)
		return false;
	double l;
	if (getloadavg(&l, 1) != 1)
		return false;
	int load = (int)(l * 1000.0);
	if (load <= conf_main.deliver_queue_load_max)
		return false;
	log_write(LOG_MAIN, "Abandon queue run: pid=%d (load %.2f, max %.2f)", (int)getpid(), (double)load / 1000.0,
		(double)conf_main.deliver_queue_load_max / 1000.0);
	return true;
}

static void apply_report(const spool_config *sc, hintsdb *idx, qcommit *rest, const worker_report *r, sv text)
{
	char id[MSG_ID_LEN + 1];
	memcpy(id, r->id, MSG_ID_LEN);
	id[MSG_ID_LEN] = 0;
	if (r->kind == DELIVER_OUTCOME_GONE && r->remove_rest)
		qcommit_add(sc, rest, id, r->committing, r->committing ? text : SV_NULL);
	sv skip_log = r->committing ? SV_NULL : text;
	if (!idx)
		return;
	if (r->kind == DELIVER_OUTCOME_GONE)
		queue_index_forget(idx, id);
	else if (r->kind == DELIVER_OUTCOME_QUEUED)
		queue_index_note(idx, id, (time_t)r->next_due, r->frozen != 0, skip_log);
}

/* Reports read by collect() and applied after the next messages have been handed out: the
 * schedule index's write transaction (a few page writes) and the committer's record then
 * overlap the next delivery instead of delaying its start (with queue_run_parallel 1 the
 * worker waited for them). At most one per worker in flight. */
static struct {
	worker_report r;
	char text[REPORT_LOG_MAX];
} pending[QUEUE_RUN_PARALLEL_MAX];
static size_t npending;

static void apply_pending(const spool_config *sc, hintsdb *idx, qcommit *rest)
{
	for (size_t i = 0; i < npending; i++)
		apply_report(sc, idx, rest, &pending[i].r, sv_make(pending[i].text, pending[i].r.log_len));
	npending = 0;
}

/* The runner's SIGPIPE disposition before qpool_deliver ignored it; workers get it back. */
static void (*runner_sigpipe)(int) = SIG_DFL;

/* Fork a worker into w[*nw]; NULL when that fails (logged against the message it was for). */
static worker *spawn(const spool_config *sc, worker *w, size_t *nw, const qjob *for_job)
{
	int jp[2], rp[2];
	if (pipe2(jp, O_CLOEXEC) != 0) {
		log_write(LOG_MAIN | LOG_PANIC, "queue run: pipe failed: %s", strerror(errno));
		return NULL;
	}
	if (pipe2(rp, O_CLOEXEC) != 0) {
		log_write(LOG_MAIN | LOG_PANIC, "queue run: pipe failed: %s", strerror(errno));
		close(jp[0]);
		close(jp[1]);
		return NULL;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "%s: queue run: fork failed: %s", for_job->id, strerror(errno));
		close(jp[0]);
		close(jp[1]);
		close(rp[0]);
		close(rp[1]);
		return NULL;
	}
	if (pid == 0) {
		/* Only its own ends: a sibling's job pipe held open here would never give that
		 * sibling its end of file. */
		for (size_t i = 0; i < *nw; i++) {
			close(w[i].jobfd);
			close(w[i].repfd);
		}
		close(jp[1]);
		close(rp[0]);
		if (committer_fd >= 0)
			close(committer_fd);
		signal(SIGPIPE, runner_sigpipe);
		worker_main(sc, jp[0], rp[1]);
	}
	close(jp[0]);
	close(rp[1]);
	worker *k = &w[(*nw)++];
	*k = (worker){ .pid = pid, .jobfd = jp[1], .repfd = rp[0] };
	return k;
}

/* Close a worker's job pipe (it exits after its last report), reap it and drop it from w.
 * Returns its wait status. */
static int retire(worker *w, size_t *nw, size_t i)
{
	worker k = w[i];
	w[i] = w[--*nw];
	close(k.jobfd);
	char sink[256];
	for (;;) {
		ssize_t r = read(k.repfd, sink, sizeof sink);
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	close(k.repfd);
	int status = 0;
	while (waitpid(k.pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* Messages handed to a worker that died before reading them, to be handed out again ahead of
 * the rest (a worker reads its next message only after reporting the one before: every message
 * of a dead worker's but the first it holds was never read, nor locked). */
static const qjob *again[QUEUE_RUN_PARALLEL_MAX * WORKER_DEPTH];
static size_t nagain;

/* Wait until at least one worker in flight has reported or died. Returns how many jobs
 * finished (reported, or lost with their worker: the jobs it had not read are put back in
 * again[] and count as finished here, not started); (size_t)-1 when it cannot wait. */
static size_t collect(const spool_config *sc, worker *w, size_t *nw)
{
	struct pollfd pf[QUEUE_RUN_PARALLEL_MAX];
	size_t map[QUEUE_RUN_PARALLEL_MAX], np = 0;
	for (size_t i = 0; i < *nw; i++)
		if (w[i].nq) {
			pf[np] = (struct pollfd){ .fd = w[i].repfd, .events = POLLIN };
			map[np++] = i;
		}
	if (!np)
		return 0;
	while (poll(pf, np, -1) < 0)
		if (errno != EINTR) {
			log_write(LOG_MAIN | LOG_PANIC, "queue run: poll failed: %s", strerror(errno));
			return (size_t)-1;
		}
	size_t finished = 0;
	/* From the highest slot down: retire() moves the last slot into the one it frees. */
	for (size_t k = np; k-- > 0;) {
		if (!pf[k].revents)
			continue;
		worker *wk = &w[map[k]];
		worker_report *r = &pending[npending].r;
		char *text = pending[npending].text;
		if (fd_read_all(wk->repfd, r, sizeof *r) && r->log_len <= REPORT_LOG_MAX
			&& fd_read_all(wk->repfd, text, r->log_len)) {
			if (memcmp(r->id, wk->job[0]->id, MSG_ID_LEN) == 0)
				npending++; /* applied by the caller (apply_pending) */
			memmove(&wk->job[0], &wk->job[1], (WORKER_DEPTH - 1) * sizeof wk->job[0]);
			wk->nq--;
			finished++;
			if (!wk->nq && (wk->given >= QUEUE_WORKER_MESSAGES || wk->shut))
				(void)retire(w, nw, map[k]);
			continue;
		}
		/* The worker died delivering its first message: the run goes on without it, as Exim's
		 * runner goes on after a delivery process that crashed. The ones behind it were never
		 * read: another worker delivers them. */
		const qjob *j = wk->job[0];
		for (size_t q = 1; q < wk->nq; q++)
			again[nagain++] = wk->job[q];
		finished += wk->nq;
		int status = retire(w, nw, map[k]);
		/* (A delivery whose cloned transport child died has logged Exim's lines for it already.) */
		if (!WIFEXITED(status) || WEXITSTATUS(status) != DELIVER_EXIT_TRANSPORT_DIED)
			log_write(LOG_MAIN | LOG_PANIC, "%s: queue run: delivery process ended abnormally (status 0x%04x)",
				j->id, (unsigned)status);
		/* Killed after removing the -H, it left the rest: the next run sweeps (core/spool_tidy.h). */
		spool_tidy_request(sc);
	}
	return finished;
}

/* queue_run_parallel, within 1..QUEUE_RUN_PARALLEL_MAX (0 or less: 1, as Exim). */
static size_t run_parallel(void)
{
	int p = conf_main.queue_run_parallel;
	if (p < 1)
		return 1;
	return p > QUEUE_RUN_PARALLEL_MAX ? QUEUE_RUN_PARALLEL_MAX : (size_t)p;
}

/* The worker to hand j to: an idle one, else a new one (while fewer than par), else, for a
 * message that may overlap others, one already delivering with room for the next (handed in
 * advance, so that it goes on without waiting for the runner after its report). NULL: none now. */
static worker *pick(const spool_config *sc, worker *w, size_t *nw, size_t par, const qjob *j)
{
	for (size_t i = 0; i < *nw; i++)
		if (!w[i].nq && !w[i].shut && w[i].given < QUEUE_WORKER_MESSAGES)
			return &w[i];
	if (*nw < par)
		return spawn(sc, w, nw, j);
	if (j->alone)
		return NULL;
	for (size_t i = 0; i < *nw; i++)
		if (w[i].nq < WORKER_DEPTH && !w[i].shut && w[i].given < QUEUE_WORKER_MESSAGES)
			return &w[i];
	return NULL;
}

bool qpool_deliver(const spool_config *sc, const qjob *jobs, size_t n, hintsdb *idx)
{
	worker w[QUEUE_RUN_PARALLEL_MAX];
	size_t par = run_parallel();
	size_t nw = 0, next = 0, inflight = 0;
	bool alone_inflight = false, abandoned = false;
	nagain = 0;
	/* This runner's commit directory (queue_commit.h; a killed runner's were recovered when
	 * the pass chose its messages). */
	qcommit rest;
	qcommit_open(sc, &rest);
	memcpy(commit_dir, rest.dir, sizeof commit_dir);
	committer_fd = rest.pipe_fd;
	/* A worker that died makes writes to its job pipe fail instead of killing the runner. */
	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
	runner_sigpipe = old_pipe == SIG_ERR ? SIG_DFL : old_pipe;
	for (;;) {
		while ((nagain || next < n) && !abandoned && !alone_inflight) {
			const qjob *j = nagain ? again[0] : &jobs[next];
			if (j->alone && inflight)
				break;
			worker *wk = pick(sc, w, &nw, par, j);
			if (!wk) {
				if (inflight)
					break; /* try again when one finishes */
				next = n;  /* cannot start any: the run ends (logged) */
				nagain = 0;
				break;
			}
			if (load_too_high(j)) {
				abandoned = true;
				break;
			}
			ssize_t wr = write(wk->jobfd, j, sizeof *j);
			if (wr != (ssize_t)sizeof *j) {
				/* It died: drop it if idle (else collect() finds its end) and hand this
				 * message to another. */
				if (wk->nq)
					wk->shut = true;
				else
					(void)retire(w, &nw, (size_t)(wk - w));
				continue;
			}
			wk->job[wk->nq++] = j;
			wk->given++;
			inflight++;
			alone_inflight = j->alone;
			if (nagain)
				memmove(&again[0], &again[1], --nagain * sizeof again[0]);
			else
				next++;
		}
		/* After handing out the next message, so the index writes, syncs and unlinks overlap
		 * its delivery; one sync of a directory covers every delivery reported since
		 * (queue_commit.h). */
		apply_pending(sc, idx, &rest);
		qcommit_flush(sc, &rest);
		if (!inflight)
			break;
		size_t done = collect(sc, w, &nw);
		if (done == (size_t)-1)
			break; /* the workers are retired below, finishing what they have */
		inflight -= done <= inflight ? done : inflight;
		if (!inflight)
			alone_inflight = false;
	}
	apply_pending(sc, idx, &rest); /* (collected just before a failed poll) */
	while (nw)
		(void)retire(w, &nw, nw - 1);
	qcommit_close(sc, &rest);
	commit_dir[0] = 0;
	committer_fd = -1;
	signal(SIGPIPE, old_pipe);
	return !abandoned;
}
