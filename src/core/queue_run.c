/* One queue run (Exim 4.96 "-q" family): choose the messages, then have each delivered as by a
 * delivery process of its own (queue_pool.c: worker processes, several messages in flight at
 * once where that cannot change what Exim's one-at-a-time runner would do).
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
#include "core/queue_commit.h"
#include "core/spool_tidy.h"
#include "core/queue_pool.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver.h"
#include "core/fast_ramp.h"
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
	/* Completed messages a killed runner left in its commit directory go back to input/ and
	 * into this pass (core/queue_commit.h); an empty directory read when there are none. */
	size_t dead_runners = qcommit_recover(sc, db);
	/* Files without -H that killed processes left (core/spool_tidy.h): a detached sweep when
	 * one is due, always after a dead runner; otherwise one stat(). After the recovery, so the
	 * -H files it moved back are where the sweep looks. */
	spool_tidy_start(sc, dead_runners > 0);
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

/* ---- which messages wait for a host ----
 * Messages listed in a wait-<transport> record (held back or deferred for a host) are delivered
 * one at a time (queue_pool.c): the first of them to reach the host carries the others over its
 * connection, as in Exim's serial runner. The set is read once per pass from every wait-*
 * database of the spool; it is a hint, so an unreadable database just makes no entries. */
typedef struct waiting_set {
	char (*v)[MSG_ID_LEN + 1];
	size_t n, cap;
} waiting_set;

static bool waiting_add_fn(void *ctx, sv key, sv value)
{
	(void)key;
	waiting_set *w = ctx;
	size_t i = 0;
	while (i < value.len) {
		while (i < value.len && value.p[i] == ' ')
			i++;
		size_t s = i;
		while (i < value.len && value.p[i] != ' ')
			i++;
		if (i - s != MSG_ID_LEN)
			continue;
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 256;
			void *v = realloc(w->v, cap * sizeof *w->v);
			if (!v)
				return false;
			w->v = v;
			w->cap = cap;
		}
		memcpy(w->v[w->n], value.p + s, MSG_ID_LEN);
		w->v[w->n++][MSG_ID_LEN] = 0;
	}
	return true;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, MSG_ID_LEN);
}

static void waiting_load(const spool_config *sc, waiting_set *w)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/db", sc->directory);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "wait-", 5) != 0 || len <= 10 || strcmp(e->d_name + len - 5, ".lmdb") != 0)
			continue;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(len - 5), e->d_name);
		xbuf err;
		xbuf_init(&err, NULL);
		hintsdb *db = hintsdb_open(sc->directory, name, true, &err);
		xbuf_free(&err);
		if (db) {
			hintsdb_iterate(db, waiting_add_fn, w);
			hintsdb_close(db);
		}
	}
	closedir(d);
	if (w->n > 1)
		qsort(w->v, w->n, sizeof *w->v, cmp_id);
}

static bool waiting_has(const waiting_set *w, const char *id)
{
	return w->n && bsearch(id, w->v, w->n, sizeof *w->v, cmp_id) != NULL;
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
	log_batch_begin();
	queue_index_not_due(idx, time(NULL), log_skipped_fn, NULL);
	log_batch_end();
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
	waiting_set waiting = { 0 };
	if (!ordered)
		waiting_load(sc, &waiting);
	bool first_selected = true;
	long tried = 0;
	qjob *jobs = calloc(l.n ? l.n : 1, sizeof *jobs);
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
		j->alone = ordered || waiting_has(&waiting, id);
		first_selected = false;
		tried++;
	}
	if (njobs && !qpool_deliver(sc, jobs, njobs, idx))
		*abandoned = true;
	free(jobs);
	free(waiting.v);
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
	if (o->two_stage) {
		/* queue_fast_ramp (core/fast_ramp.h): the first phase's deliveries may ask the daemon
		 * to start one early; Exim does so only when queue_run_in_order is unset. */
		fast_ramp_active = conf_main.queue_fast_ramp && !conf_main.queue_run_in_order;
		tried += one_pass(&q, o, true, &abandoned);
		fast_ramp_active = false;
	}
	if (!abandoned)
		tried += one_pass(&q, o, false, &abandoned);
	log_write(LOG_MAIN, "End %squeue run: pid=%d%s", named, pid, xbuf_cstr(&flags));
	xbuf_free(&flags);
	return tried;
}
