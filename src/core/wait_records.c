/* The wait-<transport> hints records (layout and why: wait_records.h). Every change that
 * touches more than one key (a continuation started or pulled back) is one transaction, so two
 * transport processes adding for the same host never lose each other's ids. */
#include "core/wait_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/message.h"

static bool metadata_token(sv tok, char mark, long long *value)
{
	if (tok.len < 2 || tok.len > 19 || tok.p[0] != mark)   /* at most 18 digits: no overflow */
		return false;
	long long v = 0;
	for (size_t i = 1; i < tok.len; i++) {
		if (tok.p[i] < '0' || tok.p[i] > '9')
			return false;
		v = v * 10 + (tok.p[i] - '0');
	}
	*value = v;
	return true;
}

void wait_record_decode(sv value, wait_record *r)
{
	r->stamp = 0;
	r->sequence = 0;
	r->n = 0;
	size_t i = 0;
	bool leading = true;
	while (i < value.len && r->n < WAIT_RECORD_IDS_MAX) {
		while (i < value.len && value.p[i] == ' ')
			i++;
		size_t s = i;
		while (i < value.len && value.p[i] != ' ')
			i++;
		sv tok = sv_sub(value, s, i - s);
		if (tok.len == 0)
			break;
		long long v;
		if (leading && metadata_token(tok, '@', &v)) {
			r->stamp = (time_t)v;
			continue;
		}
		if (leading && metadata_token(tok, '+', &v) && v < 1000000) {
			r->sequence = (int)v;
			continue;
		}
		leading = false;
		/* Not a message id, and it would read back as metadata once written first. */
		if (tok.p[0] == '@' || tok.p[0] == '+')
			continue;
		/* Ids back to back (as Exim stores them): one id per MSG_ID_LEN characters. */
		while (tok.len >= MSG_ID_LEN && tok.len % MSG_ID_LEN == 0 && r->n < WAIT_RECORD_IDS_MAX) {
			r->ids[r->n++] = sv_sub(tok, 0, MSG_ID_LEN);
			tok = sv_sub(tok, MSG_ID_LEN, tok.len - MSG_ID_LEN);
		}
		if (tok.len && r->n < WAIT_RECORD_IDS_MAX)
			r->ids[r->n++] = tok;
	}
}

void wait_record_encode(const wait_record *r, xbuf *out)
{
	if (r->stamp > 0)
		xbuf_printf(out, "@%lld ", (long long)r->stamp);
	if (r->sequence > 0)
		xbuf_printf(out, "+%d ", r->sequence);
	for (size_t i = 0; i < r->n; i++) {
		if (i)
			xbuf_putc(out, ' ');
		xbuf_putsv(out, r->ids[i]);
	}
}

sv wait_record_cont_key(arena *a, sv host, int n)
{
	char *k = arena_printf(a, SV_FMT ":%d", SV_ARG(host), n);
	return sv_cstr(k);
}

bool wait_record_is_cont_key(sv key, size_t *host_len)
{
	size_t i = key.len;
	while (i > 0 && key.p[i - 1] >= '0' && key.p[i - 1] <= '9')
		i--;
	if (i == key.len || i < 2 || key.p[i - 1] != ':')
		return false;
	*host_len = i - 1;
	return true;
}

static bool has_id(const wait_record *r, sv id)
{
	for (size_t i = 0; i < r->n; i++)
		if (sv_eq(r->ids[i], id))
			return true;
	return false;
}

static bool put_record(hintsdb_txn *t, sv key, const wait_record *r, arena *a)
{
	xbuf v;
	xbuf_init(&v, a);
	wait_record_encode(r, &v);
	return hintsdb_txn_put(t, key, xbuf_sv(&v));
}

/* Read key into r (its ids point into a copy in a). 1 found, 0 not, -1 error. */
static int get_record(hintsdb_txn *t, sv key, wait_record *r, arena *a)
{
	xbuf v;
	xbuf_init(&v, a);
	int rc = hintsdb_txn_get(t, key, &v);
	if (rc == 1)
		wait_record_decode(xbuf_sv(&v), r);
	else
		r->n = 0, r->sequence = 0, r->stamp = 0;
	return rc;
}

typedef struct add_ctx {
	sv host, id;
	time_t now;
	arena *a;
	wait_record *main, *cont;
	bool chained;
} add_ctx;

static bool add_txn(void *vctx, hintsdb_txn *t)
{
	add_ctx *c = vctx;
	wait_record *m = c->main;
	if (get_record(t, c->host, m, c->a) < 0)
		return false;
	if (has_id(m, c->id))
		return false;
	for (int s = 0; s < m->sequence; s++) {
		int rc = get_record(t, wait_record_cont_key(c->a, c->host, s), c->cont, c->a);
		if (rc < 0 || (rc == 1 && has_id(c->cont, c->id)))
			return false;
	}
	if (m->n >= WAIT_NAME_MAX) {
		/* Full: its ids become continuation <sequence> (the next free number). */
		int s = m->sequence;
		for (;; s++) {
			xbuf probe;
			xbuf_init(&probe, c->a);
			int rc = hintsdb_txn_get(t, wait_record_cont_key(c->a, c->host, s), &probe);
			if (rc < 0)
				return false;
			if (rc == 0)
				break;
		}
		wait_record full = { 0 };
		wait_record *cr = c->cont;
		*cr = full;
		cr->stamp = c->now;
		cr->n = m->n;
		memcpy(cr->ids, m->ids, m->n * sizeof m->ids[0]);
		if (!put_record(t, wait_record_cont_key(c->a, c->host, s), cr, c->a))
			return false;
		m->sequence = s + 1;
		m->n = 0;
		c->chained = true;
	}
	if (m->n >= WAIT_RECORD_IDS_MAX)
		return false;
	m->ids[m->n++] = c->id;
	m->stamp = c->now;
	return put_record(t, c->host, m, c->a);
}

bool wait_record_add(hintsdb *db, sv host, sv id, time_t now, bool *chained)
{
	arena *a = arena_new("wait records");
	add_ctx c = { .host = host, .id = id, .now = now, .a = a };
	c.main = arena_calloc(a, 1, sizeof *c.main);
	c.cont = arena_calloc(a, 1, sizeof *c.cont);
	bool ok = hintsdb_transact(db, add_txn, &c);
	if (chained)
		*chained = ok && c.chained;
	arena_free(a);
	return ok;
}

typedef struct take_ctx {
	sv host, current;
	wait_usable_fn usable;
	void *uctx;
	char *id_out;
	bool found;
	arena *a;
	wait_record *main, *cont;
} take_ctx;

/* One pass over the main record's ids, newest first: the first usable one is taken, unusable
 * ones before it are dropped, the current message and everything after the taken one stay. */
static void take_from(take_ctx *c, wait_record *m)
{
	bool *keep = arena_calloc(c->a, m->n ? m->n : 1, sizeof *keep);
	for (size_t i = m->n; i-- > 0;) {
		if (sv_eq(m->ids[i], c->current) || c->found) {
			keep[i] = true;
			continue;
		}
		if (m->ids[i].len == MSG_ID_LEN && c->usable(c->uctx, m->ids[i])) {
			memcpy(c->id_out, m->ids[i].p, MSG_ID_LEN);
			c->id_out[MSG_ID_LEN] = 0;
			c->found = true;
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++)
		if (keep[i])
			m->ids[k++] = m->ids[i];
	m->n = k;
}

static bool only_current(const take_ctx *c, const wait_record *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (!sv_eq(m->ids[i], c->current))
			return false;
	return true;
}

static bool take_txn(void *vctx, hintsdb_txn *t)
{
	take_ctx *c = vctx;
	wait_record *m = c->main;
	int rc = get_record(t, c->host, m, c->a);
	if (rc != 1)
		return false;
	take_from(c, m);
	/* Used up: the highest continuation comes back into the main record (missing numbers,
	 * left by a crash or exim_tidydb, are skipped). */
	while (!c->found && only_current(c, m) && m->sequence > 0) {
		m->sequence--;
		sv ck = wait_record_cont_key(c->a, c->host, m->sequence);
		rc = get_record(t, ck, c->cont, c->a);
		if (rc < 0)
			return false;
		if (rc == 0)
			continue;
		if (!hintsdb_txn_delete(t, ck))
			return false;
		/* The continuation's ids are older than what the main record still holds. */
		wait_record *cr = c->cont;
		for (size_t i = 0; i < m->n && cr->n < WAIT_RECORD_IDS_MAX; i++)
			if (!has_id(cr, m->ids[i]))
				cr->ids[cr->n++] = m->ids[i];
		memcpy(m->ids, cr->ids, cr->n * sizeof cr->ids[0]);
		m->n = cr->n;
		take_from(c, m);
	}
	if (m->n == 0 && m->sequence == 0)
		return hintsdb_txn_delete(t, c->host);
	return put_record(t, c->host, m, c->a);
}

bool wait_record_take(hintsdb *db, sv host, sv current, wait_usable_fn usable, void *ctx, char *id_out)
{
	arena *a = arena_new("wait records");
	take_ctx c = { .host = host, .current = current, .usable = usable, .uctx = ctx, .id_out = id_out, .a = a };
	c.main = arena_calloc(a, 1, sizeof *c.main);
	c.cont = arena_calloc(a, 1, sizeof *c.cont);
	hintsdb_transact(db, take_txn, &c);
	arena_free(a);
	return c.found;
}
