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

#include "core/deliver.h"
#include "core/deliver_continue.h"
#include "lib/log.h"

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

/* The candidate list for one pass. */
static void candidates(const spool_config *sc, const queue_run_opts *o, queue_list *out)
{
	time_t now = time(NULL);
	if (!needs_full_scan(o)) {
		hintsdb *db = queue_index_open_valid(sc, now);
		if (db) {
			bool ok = queue_index_due(db, now, out);
			hintsdb_close(db);
			if (ok)
				return;
			out->n = 0;
		}
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

/* After an attempt (in the delivery process): note when the message is next due. */
static void note_after(const spool_config *sc, const char *id, deliver_rc rc)
{
	arena_mark mk = arena_getmark(pool_msg);
	message m;
	msg_origin origin;
	xbuf err;
	xbuf_init(&err, pool_msg);
	const char *h = spool_path(pool_msg, sc, "input", id, "-H");
	if (access(h, F_OK) != 0 && errno == ENOENT) {
		queue_schedule_forget(sc, id);
	} else if (spool_read_header(pool_msg, sc, id, &m, &origin, &err)) {
		time_t due = deliver_next_due();
		if (rc != DELIVER_NOT_ATTEMPTED || m.frozen || due > 0)
			queue_schedule_note(sc, id, due, m.frozen != 0);
	}
	arena_reset(pool_msg, mk);
}

/* One delivery process for id; waits for it, and for the continued deliveries (-MC) it may
 * have started over its connections: they hold the write end of a pipe (Exim's -MCQ) that
 * reaches end of file when the last of them is done, so the run goes on in Exim's order and
 * does not race them for the messages they carry. */
static void deliver_in_child(const spool_config *sc, const char *id, const deliver_opts *d)
{
	fflush(NULL);
	int chain[2] = { -1, -1 };
	if (pipe2(chain, O_CLOEXEC) != 0)
		chain[0] = chain[1] = -1;
	pid_t runner = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "%s: queue run: fork failed: %s", id, strerror(errno));
		if (chain[0] >= 0) {
			close(chain[0]);
			close(chain[1]);
		}
		return;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		if (chain[0] >= 0) {
			close(chain[0]);
			dcont_queue_pipe_fd = chain[1];
			dcont_queue_pid = runner;
		}
		dcont_inprocess = true;
		deliver_rc rc = deliver_message(sc, id, d);
		note_after(sc, id, rc);
		/* A connection handed back for the next waiting message: go on with it here. */
		dcont_run_pending(sc);
		fflush(NULL);
		_exit(0);
	}
	int status;
	if (chain[1] >= 0)
		close(chain[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (chain[0] >= 0) {
		char c;
		while (read(chain[0], &c, 1) < 0 && errno == EINTR)
			;
		close(chain[0]);
	}
}

static long one_pass(const spool_config *sc, const queue_run_opts *o, bool queue_smtp)
{
	matcher rm = { 0 }, smatch = { 0 };
	if (!matcher_init(&rm, o->select_recipient, o->select_regex)
		|| !matcher_init(&smatch, o->select_sender, o->select_regex)) {
		matcher_free(&rm);
		matcher_free(&smatch);
		return 0;
	}
	queue_list l = { 0 };
	candidates(sc, o, &l);
	bool ordered = o->in_order || o->start_id || o->stop_id;
	if (ordered && l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, cmp_arrival);
	else
		shuffle(&l);
	bool first_selected = true;
	long tried = 0;
	for (size_t i = 0; i < l.n; i++) {
		const char *id = l.v[i];
		if (o->start_id && cmp_arrival(id, o->start_id) < 0)
			continue;
		if (o->stop_id && cmp_arrival(id, o->stop_id) > 0)
			break;
		if (!selected(sc, id, o, &rm, &smatch))
			continue;
		bool selecting = o->select_recipient || o->select_sender;
		deliver_opts d = {
			.forced = o->force || (selecting && first_selected),
			.thaw = o->force_frozen || o->select_force_frozen,
			.local_only = o->local_only,
			.queue_smtp = queue_smtp,
			.queue_run = true,
		};
		first_selected = false;
		deliver_in_child(sc, id, &d);
		tried++;
	}
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
	if (o->two_stage)
		tried += one_pass(&q, o, true);
	tried += one_pass(&q, o, false);
	log_write(LOG_MAIN, "End %squeue run: pid=%d%s", named, pid, xbuf_cstr(&flags));
	xbuf_free(&flags);
	return tried;
}
