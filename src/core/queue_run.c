/* One queue run (Exim 4.96 "-q" family): choose the messages, then give each its own delivery
 * process, one after another, as Exim's queue runner does.
 *
 * Which messages: a plain run (-q, -qq, -qi, -ql, -qG) takes the due part of the schedule index
 * (queue_index.c); runs that must consider every message anyway (-qf, -qff, -R, -S, start/stop
 * ids) or that find no usable index list the spool directory. Order: random (Exim's default),
 * arrival order with queue_run_in_order or start/stop ids. -R/-S/-qi read each candidate's -H
 * file here, in the runner, so that "the first selected message is forced" (-R/-S without f)
 * holds as in Exim.
 */
#include "core/queue.h"
#include "core/queue_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver.h"
#include "core/deliver_continue.h"
#include "core/dns.h"
#include "lib/log.h"
#include "lib/logsel.h"

/* Arrival order: time, then sub-second part, then pid (the id's fields are base 62 with
 * digits < upper < lower, so byte order within a field is numeric order). */
static int cmp_arrival(const void *a, const void *b)
{
	const char *x = a, *y = b;
	int c = memcmp(x, y, 6);
	if (!c)
		c = memcmp(x + 14, y + 14, 2);
	if (!c)
		c = memcmp(x + 7, y + 7, 6);
	return c;
}

static void shuffle(queue_list *l)
{
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() << 16;
	for (size_t i = l->n; i > 1; i--) {
		size_t j = (size_t)rand_r(&seed) % i;
		char t[MSG_ID_LEN + 1];
		memcpy(t, l->v[i - 1], sizeof t);
		memcpy(l->v[i - 1], l->v[j], sizeof t);
		memcpy(l->v[j], t, sizeof t);
	}
}

/* " -qqff", " -qf -R u1", " -Rr u.@" as Exim appends them to Start/End lines. */
static void run_flags(const queue_run_opts *o, xbuf *out)
{
	char q[8];
	size_t k = 0;
	if (o->two_stage) q[k++] = 'q';
	if (o->initial_only) q[k++] = 'i';
	if (o->force || o->force_frozen) q[k++] = 'f';
	if (o->force_frozen) q[k++] = 'f';
	if (o->local_only) q[k++] = 'l';
	q[k] = 0;
	if (k)
		xbuf_printf(out, " -q%s", q);
	if (o->select_recipient)
		xbuf_printf(out, " -R%s %s", o->select_regex ? "r" : "", o->select_recipient);
	if (o->select_sender)
		xbuf_printf(out, " -S%s %s", o->select_regex ? "r" : "", o->select_sender);
}

static bool needs_full_scan(const queue_run_opts *o)
{
	return !o->use_index || o->force || o->force_frozen || o->select_recipient || o->select_sender
		|| o->start_id || o->stop_id;
}

/* The candidate list for one pass. *idx: the schedule index, open for the whole pass (NULL
 * when there is none: each delivery then notes its message itself). */
static void candidates(const spool_config *sc, const queue_run_opts *o, queue_list *out, hintsdb **idx)
{
	time_t now = time(NULL);
	hintsdb *db = queue_index_open_valid(sc, now);
	*idx = db;
	if (db && !needs_full_scan(o)) {
		if (queue_index_due(db, now, out))
			return;
		out->n = 0;
	}
	char (*ids)[MSG_ID_LEN + 1] = NULL;
	xbuf err;
	xbuf_init(&err, NULL);
	arena_mark mk = arena_getmark(pool_scratch);
	size_t n = spool_list_ids_ordered(pool_scratch, sc, false, &ids, &err);
	for (size_t i = 0; i < n; i++)
		queue_list_add(out, ids[i]);
	arena_reset(pool_scratch, mk);
	xbuf_free(&err);
}

typedef struct matcher {
	const char *s;
	bool regex;
	pcre2_code *re;               /* -Rr/-Sr: a PCRE, case-independent, as in Exim */
	pcre2_match_data *md;
} matcher;

static bool matcher_init(matcher *m, const char *s, bool regex)
{
	*m = (matcher){ .s = s, .regex = regex };
	if (!s || !regex)
		return true;
	int code;
	PCRE2_SIZE off;
	m->re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &code, &off, NULL);
	if (!m->re) {
		PCRE2_UCHAR msg[200];
		pcre2_get_error_message(code, msg, sizeof msg);
		log_write(LOG_MAIN | LOG_PANIC, "queue run: bad regular expression \"%s\" at offset %zu: %s",
			s, (size_t)off, (const char *)msg);
		return false;
	}
	m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
	return m->md != NULL;
}

static void matcher_free(matcher *m)
{
	pcre2_match_data_free(m->md);
	pcre2_code_free(m->re);
}

static bool matcher_match(const matcher *m, sv text)
{
	if (m->regex)
		return pcre2_match(m->re, (PCRE2_SPTR)(text.p ? text.p : ""), text.len, 0, 0, m->md, NULL) >= 0;
	char buf[2048];
	size_t n = text.len < sizeof buf - 1 ? text.len : sizeof buf - 1;
	memcpy(buf, text.p, n);
	buf[n] = 0;
	/* case-independent substring, as Exim checks -R/-S strings */
	size_t sl = strlen(m->s);
	for (size_t i = 0; i + sl <= n; i++)
		if (strncasecmp(buf + i, m->s, sl) == 0)
			return true;
	return false;
}

/* Whether the runner's selection (-qi, -R, -S) takes this message. Missing or unreadable
 * messages are skipped (a delivery process would find nothing either). */
static bool selected(const spool_config *sc, const char *id, const queue_run_opts *o,
	const matcher *rm, const matcher *smatch)
{
	if (!o->initial_only && !o->select_recipient && !o->select_sender)
		return true;
	arena_mark mk = arena_getmark(pool_msg);
	message m;
	msg_origin origin;
	xbuf err;
	xbuf_init(&err, pool_msg);
	bool ok = spool_read_header(pool_msg, sc, id, &m, &origin, &err);
	if (ok) {
		spool_read_journal(pool_msg, sc, id, &m);
		if (o->initial_only && !m.deliver_firsttime)
			ok = false;
		if (ok && o->select_sender && !matcher_match(smatch, m.sender))
			ok = false;
		if (ok && o->select_recipient) {
			bool any = false;
			for (size_t i = 0; i < m.nrcpt && !any; i++)
				any = !message_is_nonrecipient(&m, m.rcpt[i].address) && matcher_match(rm, m.rcpt[i].address);
			ok = any;
		}
	}
	arena_reset(pool_msg, mk);
	return ok;
}

/* ---- delivery workers ----
 * A worker is a child of the runner that delivers a list of messages one after another (each
 * with its own lock, as before), so a run pays one fork per QUEUE_WORKER_MESSAGES messages
 * instead of one per message. After each message it reports what became of it over a pipe;
 * the runner, which holds the schedule index open for the whole pass, records it. A worker that
 * dies is replaced for the messages it did not report, less the one it died on. */
#define QUEUE_WORKER_MESSAGES 64

typedef struct qjob {
	char id[MSG_ID_LEN + 1];
	deliver_opts o;
} qjob;

/* One message's outcome: this header and log_len bytes of deliver_outcome.skip_log, written in
 * one write() (under PIPE_BUF). */
typedef struct worker_report {
	char id[MSG_ID_LEN];
	uint8_t kind;                 /* deliver_outcome_kind */
	uint8_t frozen;
	uint16_t log_len;
	int64_t next_due;
} worker_report;
#define REPORT_LOG_MAX 3900

/* The worker's exit status when deliver_queue_load_max ended the run. */
#define WORKER_EXIT_ABANDONED 75

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
	log_write(LOG_MAIN, "Abandon queue run: pid=%d (load %.2f, max %.2f)", (int)getppid(), (double)load / 1000.0,
		(double)conf_main.deliver_queue_load_max / 1000.0);
	return true;
}

static void worker_run(const spool_config *sc, const qjob *jobs, size_t n, int wfd)
{
	signal(SIGCHLD, SIG_DFL);
	/* A connection handed back for the next waiting message is carried on in this process. */
	dcont_inprocess = true;
	for (size_t i = 0; i < n; i++) {
		if (load_too_high(&jobs[i]))
			_exit(WORKER_EXIT_ABANDONED);
		arena_mark mm = arena_getmark(pool_msg), ms = arena_getmark(pool_scratch);
		/* Continued deliveries started by exec (-MC, e.g. behind a TLS proxy) hold the write end
		 * of this pipe (Exim's -MCQ); end of file says the last of them is done, so the worker
		 * goes on in Exim's order and does not race them for the messages they carry. */
		int chain[2] = { -1, -1 };
		if (pipe2(chain, O_CLOEXEC) == 0) {
			dcont_queue_pipe_fd = chain[1];
			dcont_queue_pid = getpid();
		}
		deliver_message(sc, jobs[i].id, &jobs[i].o);
		deliver_outcome out = deliver_last_outcome();
		size_t ll = out.skip_log ? strlen(out.skip_log) : 0;
		if (ll > REPORT_LOG_MAX)
			ll = 0;
		worker_report r = { .kind = (uint8_t)out.kind, .frozen = out.frozen, .log_len = (uint16_t)ll,
			.next_due = (int64_t)out.next_due };
		memcpy(r.id, jobs[i].id, MSG_ID_LEN);
		char buf[sizeof r + REPORT_LOG_MAX];
		memcpy(buf, &r, sizeof r);
		if (ll)
			memcpy(buf + sizeof r, out.skip_log, ll);
		dcont_run_pending(sc);
		if (chain[0] >= 0) {
			close(chain[1]);
			dcont_queue_pipe_fd = -1;
			char c;
			while (read(chain[0], &c, 1) < 0 && errno == EINTR)
				;
			close(chain[0]);
		}
		fflush(NULL);
		if (write(wfd, buf, sizeof r + ll) != (ssize_t)(sizeof r + ll))
			_exit(1);
		arena_reset(pool_msg, mm);
		arena_reset(pool_scratch, ms);
		/* Each message starts as in a delivery process of its own (Exim forks one per message):
		 * no DNS answers carried over (lookups are tidied by deliver_message itself). */
		dns_cache_flush();
	}
	_exit(0);
}

static void apply_report(hintsdb *idx, const worker_report *r, sv skip_log)
{
	char id[MSG_ID_LEN + 1];
	memcpy(id, r->id, MSG_ID_LEN);
	id[MSG_ID_LEN] = 0;
	if (r->kind == DELIVER_OUTCOME_GONE)
		queue_index_forget(idx, id);
	else if (r->kind == DELIVER_OUTCOME_QUEUED)
		queue_index_note(idx, id, (time_t)r->next_due, r->frozen != 0, skip_log);
}

static bool read_full(int fd, void *p, size_t n)
{
	char *b = p;
	while (n) {
		ssize_t k = read(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		b += k;
		n -= (size_t)k;
	}
	return true;
}

/* Deliver jobs[0..n-1] in worker processes, one worker at a time. false: the run was
 * abandoned (deliver_queue_load_max). */
static bool deliver_jobs(const spool_config *sc, qjob *jobs, size_t n, hintsdb *idx)
{
	size_t next = 0;
	while (next < n) {
		size_t count = n - next;
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) != 0) {
			log_write(LOG_MAIN | LOG_PANIC, "queue run: pipe failed: %s", strerror(errno));
			return true;
		}
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			log_write(LOG_MAIN | LOG_PANIC, "%s: queue run: fork failed: %s", jobs[next].id, strerror(errno));
			close(pfd[0]);
			close(pfd[1]);
			return true;
		}
		if (pid == 0) {
			close(pfd[0]);
			worker_run(sc, jobs + next, count, pfd[1]);
		}
		close(pfd[1]);
		size_t done = 0;
		worker_report r;
		char text[REPORT_LOG_MAX];
		while (read_full(pfd[0], &r, sizeof r) && r.log_len <= REPORT_LOG_MAX && read_full(pfd[0], text, r.log_len)) {
			if (done < count && memcmp(r.id, jobs[next + done].id, MSG_ID_LEN) == 0) {
				if (idx)
					apply_report(idx, &r, sv_make(text, r.log_len));
				done++;
			}
		}
		close(pfd[0]);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (done < count && WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_ABANDONED)
			return false;
		if (done < count) {
			/* The worker died on jobs[next + done]: go on after it, as Exim's runner goes on
			 * after a delivery process that crashed. */
			log_write(LOG_MAIN | LOG_PANIC, "%s: queue run: delivery process ended abnormally (status 0x%04x)",
				jobs[next + done].id, (unsigned)status);
			done++;
		}
		next += done;
	}
	return true;
}

static void log_skipped_fn(void *ctx, const char *id, sv lines)
{
	(void)ctx;
	const log_config *lc = log_current_config();
	bool retry_defer = lc && logsel_has(&lc->selector, LS_RETRY_DEFER);
	bool skip_delivery = lc && logsel_has(&lc->selector, LS_SKIP_DELIVERY);
	log_set_id(id);
	while (lines.len) {
		const char *nl = memchr(lines.p, '\n', lines.len);
		size_t n = nl ? (size_t)(nl - lines.p) : lines.len;
		bool defer_line = n >= 3 && memcmp(lines.p, "== ", 3) == 0;
		if (n && (defer_line ? retry_defer : skip_delivery))
			log_write(LOG_MAIN, "%.*s", (int)n, lines.p);
		lines = sv_sub(lines, nl ? n + 1 : n, lines.len);
	}
	log_set_id(NULL);
}

/* A plain run skips the messages the index says are not due without starting a delivery for
 * them; Exim's delivery process would have logged its "retry time not reached" (and "Message is
 * frozen") lines for each, so the run logs the lines the last attempt left in the index. */
static void log_skipped(hintsdb *idx, const queue_run_opts *o)
{
	if (!idx || needs_full_scan(o) || o->initial_only)
		return;
	queue_index_not_due(idx, time(NULL), log_skipped_fn, NULL);
}

static long one_pass(const spool_config *sc, const queue_run_opts *o, bool queue_smtp, bool *abandoned)
{
	matcher rm = { 0 }, smatch = { 0 };
	if (!matcher_init(&rm, o->select_recipient, o->select_regex)
		|| !matcher_init(&smatch, o->select_sender, o->select_regex)) {
		matcher_free(&rm);
		matcher_free(&smatch);
		return 0;
	}
	queue_list l = { 0 };
	hintsdb *idx = NULL;
	candidates(sc, o, &l, &idx);
	log_skipped(idx, o);
	bool ordered = o->in_order || o->start_id || o->stop_id;
	if (ordered && l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, cmp_arrival);
	else
		shuffle(&l);
	bool first_selected = true;
	long tried = 0;
	qjob *jobs = calloc(QUEUE_WORKER_MESSAGES, sizeof *jobs);
	if (!jobs)
		abort();
	size_t njobs = 0;
	for (size_t i = 0; i < l.n; i++) {
		const char *id = l.v[i];
		if (o->start_id && cmp_arrival(id, o->start_id) < 0)
			continue;
		if (o->stop_id && cmp_arrival(id, o->stop_id) > 0)
			break;
		if (!selected(sc, id, o, &rm, &smatch))
			continue;
		bool selecting = o->select_recipient || o->select_sender;
		qjob *j = &jobs[njobs++];
		memcpy(j->id, id, MSG_ID_LEN + 1);
		j->o = (deliver_opts){
			.forced = o->force || (selecting && first_selected),
			.thaw = o->force_frozen || o->select_force_frozen,
			.local_only = o->local_only,
			.queue_smtp = queue_smtp,
			.queue_run = true,
			.caller_keeps_schedule = idx != NULL,
		};
		first_selected = false;
		tried++;
		if (njobs == QUEUE_WORKER_MESSAGES) {
			bool go_on = deliver_jobs(sc, jobs, njobs, idx);
			njobs = 0;
			if (!go_on) {
				*abandoned = true;
				break;
			}
		}
	}
	if (njobs && !deliver_jobs(sc, jobs, njobs, idx))
		*abandoned = true;
	free(jobs);
	if (idx)
		hintsdb_close(idx);
	queue_list_free(&l);
	matcher_free(&rm);
	matcher_free(&smatch);
	return tried;
}

long queue_run(const spool_config *sc, const queue_run_opts *o)
{
	xbuf flags;
	xbuf_init(&flags, NULL);
	run_flags(o, &flags);
	const char *qn = o->queue_name && *o->queue_name ? o->queue_name : NULL;
	spool_config q = *sc;
	if (qn)
		q.queue_name = qn;
	char named[300] = "";
	if (qn)
		snprintf(named, sizeof named, "'%s' ", qn);
	int pid = (int)getpid();
	log_write(LOG_MAIN, "Start %squeue run: pid=%d%s", named, pid, xbuf_cstr(&flags));
	long tried = 0;
	bool abandoned = false;
	if (o->two_stage)
		tried += one_pass(&q, o, true, &abandoned);
	if (!abandoned)
		tried += one_pass(&q, o, false, &abandoned);
	log_write(LOG_MAIN, "End %squeue run: pid=%d%s", named, pid, xbuf_cstr(&flags));
	xbuf_free(&flags);
	return tried;
}
