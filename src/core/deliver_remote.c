/* Remote deliveries: addresses routed to the same transport with the same host list (and the
 * same errors address, which the bounce needs) go in one batch, one child per batch, as Exim
 * groups them for one SMTP transaction. At most remote_max_parallel children run at once;
 * when that many are running, the oldest is waited for before the next starts. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "conf/option.h"
#include "core/deliver_conn_cache.h"
#include "core/deliver_continue.h"
#include "core/deliver_internal.h"
#include "core/transport.h"

static bool same_hosts(const route_host *a, const route_host *b)
{
	for (; a && b; a = a->next, b = b->next)
		if (!sv_eq(a->name, b->name) || !sv_eq(a->address, b->address) || a->port != b->port || a->mx != b->mx)
			return false;
	return !a && !b;
}

/* A transport's multi_domain (smtp, default true): false keeps each domain in a batch of its
 * own. Read through the driver's option table (this layer cannot see the smtp transport's
 * option block) and expanded in the message's context; a failed expansion counts as true. */
static bool multi_domain(dctx *d, const driver_instance *t)
{
	if (!t || !t->info || !t->priv)
		return true;
	const opt_row *row = opt_find(t->info->options, t->info->noptions, "multi_domain");
	if (!row || (row->type != OPT_EXPAND_BOOL && row->type != OPT_STRING))
		return true;
	const char *v;
	memcpy(&v, (const char *)t->priv + row->offset, sizeof v);
	if (!v)
		return true;
	bool r = true;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (xp_expand_bool(d->env, sv_cstr(v), &r, &err) != XP_OK)
		return true;
	return r;
}

/* A transport's max_rcpt (smtp; 0: none or not an smtp-like transport). Read through the
 * option table as multi_domain is. */
static int max_rcpt(const driver_instance *t)
{
	if (!t || !t->info || !t->priv)
		return 0;
	const opt_row *row = opt_find(t->info->options, t->info->noptions, "max_rcpt");
	if (!row || row->type != OPT_INT)
		return 0;
	int v;
	memcpy(&v, (const char *)t->priv + row->offset, sizeof v);
	return v > 0 ? v : 0;
}

static bool same_group(const address_item *x, const address_item *y, bool one_domain)
{
	return x->transport && y->transport && strcmp(x->transport, y->transport) == 0
		&& same_hosts(x->hosts, y->hosts) && sv_eq(x->errors_address, y->errors_address)
		&& sv_eq(x->fallback_hosts, y->fallback_hosts) && (!one_domain || sv_eq(x->domain, y->domain));
}

/* A continued delivery (-MC): does batch b go to the connection's transport and host? A batch
 * with no hosts of its own (the transport's hosts option) is let try: the transport decides. */
static bool fits_continue(const deliver_continue *c, const dbatch *b)
{
	if (!b->t || strcmp(b->t->name, c->transport) != 0)
		return false;
	const address_item *a = b->addrs;
	if (!a->hosts)
		return true;
	for (const route_host *h = a->hosts; h; h = h->next)
		if (sv_eq(h->name, c->host_name) || (h->name.len == 0 && sv_eq(h->address, c->host_address)))
			return true;
	return false;
}

/* In a continued delivery, Exim delivers only what fits the passed connection; the rest waits
 * for the next queue run, deferred without a log line (as for a host not yet due). */
static void defer_unfit(dbatch *b)
{
	for (address_item *a = b->addrs; a; a = a->next) {
		a->result = ADDR_DEFER;
		a->retry_skipped = true;
		a->basic_errno = 0;
		a->message = SV_LIT("not for the continued connection");
	}
}

/* Each remote batch's transport process gets a socket to hand an open connection back over
 * (core/deliver_continue.h): it runs as the Exim user, and the next message's delivery is
 * started from here, as root, once it has finished and its outcome is logged and its retry
 * records are updated (so the next delivery does not find the host's old record). */
/* A launcher's delivery worker (dccache_enabled) runs one alone batch after another: for those
 * the socket is made once and kept for the worker's life (both ends close-on-exec), instead of
 * a socketpair and two closes per message. Alone, nothing else writes to it meanwhile, and what
 * the transport sent (at most one record) is read before the next batch starts. */
static int kept_sp[2] = { -1, -1 };

static int start_with_handoff(dctx *d, dbatch *b, bool *started)
{
	int sp[2] = { -1, -1 };
	bool keep = b->alone && dccache_enabled;
	if (keep && kept_sp[0] < 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kept_sp) != 0)
		kept_sp[0] = kept_sp[1] = -1;
	if (keep && kept_sp[0] >= 0) {
		sp[0] = kept_sp[0];
		sp[1] = kept_sp[1];
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		sp[0] = sp[1] = -1;
	}
	/* A queue run's -MCQ pipe, before the transport process (it may pass its connection on). */
	dcont_queue_pipe_ensure();
	dcont_handoff_fd = sp[1];
	*started = dbatch_start(d, b, true);
	dcont_handoff_fd = -1;
	if (sp[1] >= 0 && sp[1] != kept_sp[1])
		close(sp[1]);
	return sp[0];
}

static void handoff_collect(int h, xp_env *env)
{
	dcont_handoff_collect_keep(h, env, h != kept_sp[0]);
}

void dremote_run(dctx *d, address_item *list)
{
	dbatch *batches = NULL, **btail = &batches;
	address_item *next;
	/* Observed from Exim 4.96: with remote_max_parallel above 1 the recipients beyond the
	 * transport's max_rcpt go in batches of their own, one process and connection each; with
	 * 1, one process sends them all, in max_rcpt transactions over one connection, except
	 * with max_rcpt = 1: a process and connection for each recipient then too ("=>" lines
	 * without "*", a QUIT after each). */
	bool split = conf_main.remote_max_parallel > 1 && !d->o->cont;
	for (address_item *a = list; a; a = next) {
		next = a->next;
		a->next = NULL;
		dbatch *b;
		for (b = batches; b; b = b->next) {
			int full = split || (!d->o->cont && max_rcpt(b->t) == 1) ? max_rcpt(b->t) : 0;
			if ((full == 0 || b->n < (size_t)full) && same_group(b->addrs, a, !multi_domain(d, b->t)))
				break;
		}
		if (!b) {
			b = arena_calloc(pool_msg, 1, sizeof *b);
			b->t = tp_find(a->transport);
			b->fd = -1;
			*btail = b;
			btail = &b->next;
		}
		address_item **t = &b->addrs;
		while (*t)
			t = &(*t)->next;
		*t = a;
		b->n++;
	}
	int max = conf_main.remote_max_parallel > 0 ? conf_main.remote_max_parallel : 1;
	dbatch *running[max];
	int handoff[max];
	int nrunning = 0;
	deliver_continue *cont = d->o->cont;
	if (cont) {
		/* One connection: the batch that fits gets it, alone; the others wait. */
		dcont_conn *cc = cont->conn;
		for (dbatch *b = batches; b; b = b->next) {
			if (cc->used || !fits_continue(cont, b)) {
				defer_unfit(b);
				dpost_batch(d, b, true);
				continue;
			}
			cc->used = true;        /* the transport's process owns it from here */
			bool started;
			int hs = start_with_handoff(d, b, &started);
			close(cc->fd);
			cc->fd = -1;
			if (started)
				dbatch_finish(d, b);
			dpost_batch(d, b, true);
			handoff_collect(hs, d->env);
		}
		return;
	}
	for (dbatch *b = batches; b; b = b->next) {
		if (nrunning == max) {
			dbatch_finish(d, running[0]);
			dpost_batch(d, running[0], true);
			handoff_collect(handoff[0], d->env);
			for (int i = 1; i < nrunning; i++) {
				running[i - 1] = running[i];
				handoff[i - 1] = handoff[i];
			}
			nrunning--;
		}
		/* Alone: nothing else runs while it does and nothing would run beside it (the last
		 * batch, or one at a time anyway), so it may run in a child sharing this process's
		 * memory (deliver_inproc.c), which this process waits for. */
		b->alone = nrunning == 0 && (!b->next || max == 1);
		bool started;
		int h = start_with_handoff(d, b, &started);
		if (started) {
			handoff[nrunning] = h;
			running[nrunning++] = b;
		} else {
			if (h >= 0 && h != kept_sp[0])
				close(h);
			dpost_batch(d, b, true);
		}
	}
	for (int i = 0; i < nrunning; i++) {
		dbatch_finish(d, running[i]);
		dpost_batch(d, running[i], true);
		handoff_collect(handoff[i], d->env);
	}
}
