/* The delivery process's driver loop (deliver.h): lock and load the message, decide about
 * frozen messages, route every recipient not yet delivered, run the transports (local batches
 * here, remote in deliver_remote.c, the children in deliver_local.c), and after each batch log,
 * journal, update retry records and raise events; at the end send bounces and warnings, then
 * either remove the message ("Completed") or rewrite -H and note when it is due again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/queue_named.h"
#include "core/bounce.h"
#include "core/bounce_syntax.h"
#include "core/deliver_continue.h"
#include "core/deliver_internal.h"
#include "core/dirsync.h"
#include "core/event.h"
#include "core/priv.h"
#include "core/queue.h"
#include "core/retry.h"
#include "core/route_opts.h"
#include "core/spool_integrity.h"
#include "core/tp_output.h"
#include "core/transport.h"
#include "lib/hashtab.h"
#include "lib/log.h"
#include "search/match.h"
#include "search/search.h"

static time_t last_next_due;
static deliver_outcome last_outcome;

time_t deliver_next_due(void)
{
	return last_next_due;
}

deliver_outcome deliver_last_outcome(void)
{
	return last_outcome;
}

void deliver_note_schedule(const spool_config *sc, const char *id)
{
	if (last_outcome.kind == DELIVER_OUTCOME_QUEUED)
		queue_schedule_note_skip(sc, id, last_outcome.next_due, last_outcome.frozen, last_outcome.skip_log);
	else
		queue_schedule_note(sc, id, last_next_due, false);
}

static void push(address_item ***arr, size_t *n, size_t *cap, address_item *a)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		address_item **x = arena_alloc(pool_msg, nc * sizeof *x);
		if (*n)
			memcpy(x, *arr, *n * sizeof *x);
		*arr = x;
		*cap = nc;
	}
	(*arr)[(*n)++] = a;
}

static const address_item *top_of(const address_item *a)
{
	while (a->parent)
		a = a->parent;
	return a;
}

/* The ancestor a one_time redirect router handled, if any (the router that generated a, or one
 * further up). */
static bool under_one_time(const address_item *a)
{
	for (const address_item *p = a->parent; p; p = p->parent)
		if (p->router && route_opt_private_bool(p->router, "one_time"))
			return true;
	return false;
}

static void mark_pending(dctx *d, const address_item *a)
{
	/* one_time: an address the redirection generated that is not finished becomes a recipient
	 * of its own (finish() adds it), so the redirection is not expanded again; its original
	 * top-level address then counts as delivered. */
	if (!d->dont_deliver && a->kind == ADDR_MAIL && under_one_time(a)) {
		push(&d->onetime, &d->nonetime, &d->cap_onetime, (address_item *)a);
		return;
	}
	int i = top_of(a)->rcpt_index;
	if (i >= 0 && (size_t)i < d->m->nrcpt)
		d->top_pending[i] = true;
	else
		d->extra_pending = true; /* set up by the system filter: it sets it up again next time */
}

static bool transport_is_local(const driver_instance *t)
{
	const transport_ops *ops = t ? t->info->ops : NULL;
	return !ops || !ops->remote;
}

/* ---- events ---- */

static void raise_event(dctx *d, const driver_instance *t, const char *name, sv data, const address_item *a)
{
	event_vars v = { .m = d->m, .addr = a, .transport_name = t ? t->name : NULL };
	if (a) {
		v.host = a->host_used_name;
		v.host_address = a->host_used_address;
		v.host_port = a->host_used_port > 0 ? a->host_used_port : 0;
		v.sending_ip = a->sending_address;
		v.sending_port = a->sending_port;
		v.defer_errno = a->basic_errno;
		v.defer_errstr = a->message;
	}
	xbuf res;
	xbuf_init(&res, pool_scratch);
	if (t)
		event_raise_for(t, name, data, &v, d->env, &res);
	else
		event_raise(event_action_for(NULL, name), "main", name, data, &v, d->env, &res);
}

/* ---- after a batch ---- */

static void note_finished(dctx *d, address_item *a, sv **done, size_t *ndone, size_t *cap)
{
	if (*ndone == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		sv *x = arena_alloc(pool_msg, nc * sizeof *x);
		if (*ndone)
			memcpy(x, *done, *ndone * sizeof *x);
		*done = x;
		*cap = nc;
	}
	(*done)[(*ndone)++] = a->unique.len ? a->unique : a->address;
	(void)d;
}

void dpost_batch(dctx *d, dbatch *b, bool remote)
{
	time_t now = time(NULL);
	const driver_instance *t = b->t;
	/* Retry records first: a deferral past the rules' cutoff becomes a failure. */
	if (!remote)
		dlocal_retry_items(d, b);
	if (!d->dont_deliver) {
		time_t due = retry_update(d->sc->directory, b->addrs, d->m->id, d->m->sender, now);
		if (due && (!d->next_due || due < d->next_due))
			d->next_due = due;
	}
	sv *done = NULL;
	size_t ndone = 0, cap = 0;
	bool first = true;
	for (address_item *a = b->addrs; a; a = a->next) {
		/* A later max_rcpt transaction on the same connection starts with "=>" again. */
		if (a->txn_first)
			first = true;
		/* a->freeze counts when the address stays deferred (see the end of deliver_message). */
		switch (a->result) {
		case ADDR_OK: {
			bool local = !remote && a->kind == ADDR_MAIL;
			dlog_success(&d->log, a, t, local, first);
			first = false;
			raise_event(d, t, "msg:delivery", a->confirmation, a);
			note_finished(d, a, &done, &ndone, &cap);
			push(&d->succeeded, &d->nsucceeded, &d->cap_succeeded, a);
			break;
		}
		case ADDR_FAIL:
			raise_event(d, t, "msg:fail:delivery", a->message, a);
			dlog_fail(&d->log, a);
			push(&d->failed, &d->nfailed, &d->cap_failed, a);
			break;
		default:
			if (a->result == ADDR_PANIC)
				log_write(LOG_PANIC, "%.*s: %.*s", SV_ARG(a->address), SV_ARG(a->message));
			a->result = ADDR_DEFER;
			/* "retry time not reached" deferrals are logged only with +retry_defer, and
			 * to the message log only in the message's first delivery attempt (observed
			 * with Exim 4.96: a -q that finds the host's retry time not reached writes its
			 * "defer (-54)" line there for a message never tried before, not for others). */
			const log_config *lc = log_current_config();
			if (!a->retry_skipped || (d->m->deliver_firsttime && lc && logsel_has(&lc->selector, LS_RETRY_DEFER)))
				dlog_defer(&d->log, a);
			else if (lc && logsel_has(&lc->selector, LS_RETRY_DEFER))
				dlog_defer_main(a);
			if (a->retry_timedout) {
				/* Past the rules' cutoff: fails once every transport has run (below). */
				dretry_timedout_add(d, a);
				break;
			}
			/* No event here: Exim's smtp transport raises msg:rcpt:defer (4xx to RCPT) and
			 * msg:defer (host and message errors) itself; other deferrals raise none. */
			push(&d->deferred, &d->ndeferred, &d->cap_deferred, a);
			mark_pending(d, a);
			break;
		}
	}
	/* The child journaled its deliveries before reporting them; write them here
	 * only when it could not. */
	if (ndone && !d->dont_deliver && !b->journaled) {
		xbuf err;
		xbuf_init(&err, pool_scratch);
		if (!djournal_append(d->sc, d->m->id, done, ndone, &err))
			log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
	}
	for (size_t i = 0; i < ndone; i++)
		message_add_nonrecipient(d->m, done[i]);
}

/* Deferrals past their retry rules' cutoff fail after every transport has run, each with
 * Exim's "** <address>: retry timeout exceeded" (no router, transport or host), the newest
 * deferral first (core/deliver_local_retry.c). */
static void fail_timedout(dctx *d)
{
	for (size_t i = d->ntimedout; i-- > 0;) {
		address_item *a = d->timedout[i];
		a->result = ADDR_FAIL;
		a->message = a->user_message = SV_LIT("retry timeout exceeded");
		const driver_instance *t = a->transport ? tp_find(a->transport) : NULL;
		raise_event(d, t, "msg:fail:delivery", a->message, a);
		address_item shown = *a;
		shown.router = NULL;
		shown.transport = NULL;
		shown.host_used_address = shown.host_used_name = SV_NULL;
		shown.tls_used = false;
		dlog_fail(&d->log, &shown);
		push(&d->failed, &d->nfailed, &d->cap_failed, a);
	}
	d->ntimedout = 0;
}

/* ---- local batches ---- */

static int batch_max_for(dctx *d, const driver_instance *t, const address_item *a, const char **id)
{
	const transport_ops *ops = t && t->info->ops ? t->info->ops : NULL;
	*id = NULL;
	if (!ops || !ops->batch_max || a->kind != ADDR_MAIL)
		return 1;
	xp_provider p;
	route_vars_push(d->env, &p, a);
	int max = ops->batch_max(t, d->env);
	if (max > 1 && ops->batch_id)
		*id = ops->batch_id(t, d->env);
	d->env->providers = p.next;
	return max > 1 ? max : 1;
}

void dlocal_run(dctx *d, address_item *list)
{
	dbatch *batches = NULL, **btail = &batches;
	address_item *next;
	for (address_item *a = list; a; a = next) {
		next = a->next;
		a->next = NULL;
		if (dlocal_retry_skip(d, a))
			continue;
		const driver_instance *t = a->transport ? tp_find(a->transport) : NULL;
		const char *bid;
		int max = batch_max_for(d, t, a, &bid);
		dbatch *b = NULL;
		if (max > 1) {
			for (b = batches; b; b = b->next) {
				const address_item *f = b->addrs;
				if (b->t == t && (int)b->n < max && f->uid == a->uid && f->gid == a->gid
					&& f->uid_set == a->uid_set && sv_eq(f->errors_address, a->errors_address)
					&& ((!bid && !b->buf.a) || (bid && b->buf.a && strcmp(bid, (const char *)b->buf.p) == 0)))
					break;
			}
		}
		if (!b) {
			b = arena_calloc(pool_msg, 1, sizeof *b);
			b->t = t;
			b->fd = -1;
			if (bid) { /* keep the batch id until the batch starts (buf is reset then) */
				xbuf_init(&b->buf, pool_msg);
				xbuf_puts(&b->buf, bid);
				xbuf_putc(&b->buf, 0);
			}
			*btail = b;
			btail = &b->next;
		}
		address_item **tl = &b->addrs;
		while (*tl)
			tl = &(*tl)->next;
		*tl = a;
		b->n++;
	}
	for (dbatch *b = batches; b; b = b->next) {
		/* -N runs the transports too: each says OK without delivering (Exim's smtp transport
		 * reports "delivery bypassed by -N option"), so the lines show where mail would go. */
		if (dbatch_start(d, b, false)) {
			dbatch_finish(d, b);
		}
		dpost_batch(d, b, false);
	}
}

/* ---- routing ---- */

/* Routing results are logged as Exim decides them. */
static void route_report(void *ctx, route_rc kind, const address_item *ca)
{
	dctx *d = ctx;
	address_item *a = (address_item *)ca;
	if (kind == ROUTE_OK)
		return; /* pipe/file items are delivered later */
	if (message_is_nonrecipient(d->m, a->unique.len ? a->unique : a->address))
		return; /* handled by an earlier delivery attempt */
	switch (kind) {
	case ROUTE_DISCARD:
		dlog_discard(&d->log, a);
		/* Nothing to deliver, and nothing to do again. */
		message_add_nonrecipient(d->m, a->unique.len ? a->unique : a->address);
		break;
	case ROUTE_FAIL:
		a->result = ADDR_FAIL;
		raise_event(d, NULL, "msg:fail:internal", a->message, a);
		dlog_fail(&d->log, a);
		push(&d->failed, &d->nfailed, &d->cap_failed, a);
		break;
	default:
		a->result = ADDR_DEFER;
		if (!a->basic_errno)
			a->basic_errno = ADDR_ERRNO_UNKNOWN;
		droute_retry_defer(d, a);
		dlog_defer(&d->log, a);   /* Exim raises no event for a routing deferral */
		if (a->retry_timedout) {
			/* The routing retry record is past its rule's cutoff: as Exim, the deferral is
			 * logged, then the address fails with a "**" line that names no router. */
			a->result = ADDR_FAIL;
			a->message = a->user_message = SV_LIT("retry timeout exceeded");
			raise_event(d, NULL, "msg:fail:internal", a->message, a);
			address_item shown = *a;
			shown.router = NULL;
			dlog_fail(&d->log, &shown);
			push(&d->failed, &d->nfailed, &d->cap_failed, a);
			break;
		}
		push(&d->deferred, &d->ndeferred, &d->cap_deferred, a);
		mark_pending(d, a);
		break;
	}
}

/* A redirect router skipped syntax errors and has a syntax_errors_to: report them (Exim sends
 * the report at each routing of the address). */
static void syntax_errors_report(void *ctx, const char *router, sv to, sv intro, sv errors)
{
	dctx *d = ctx;
	if (d->dont_deliver)
		return;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!bounce_send_syntax_errors(d->sc, d->m, router, to, intro, errors, &err))
		log_write(LOG_MAIN | LOG_PANIC, "failed to send the %s router's report of syntax errors: %s", router,
			xbuf_cstr(&err));
}

/* Drop addresses an earlier attempt finished (children of a redirection delivered before the
 * rest of the message deferred); keep order. */
static address_item *drop_finished(dctx *d, address_item *list)
{
	address_item *out = NULL, **tail = &out;
	for (address_item *a = list, *next; a; a = next) {
		next = a->next;
		a->next = NULL;
		if (message_is_nonrecipient(d->m, a->unique.len ? a->unique : a->address))
			continue;
		*tail = a;
		tail = &a->next;
	}
	return out;
}

/* Exim routes redirected addresses a generation after their parents, so on its (prepended)
 * delivery lists the deepest generation comes first, then the next, then the top-level
 * addresses (observed with 4.96: RCPT order m, n, x, y, a when "list" gave x, l2, y and l2 gave
 * m, n); within a generation in the order of their recipients, then of their creation
 * (recipients l1, b, l2: l1's children, l2's children, b). Our router runs depth first, newest
 * recipient first, and prepends its results: sort them into that order. Within one
 * generation and recipient, pipe, file and reply items come after the addresses, newest first
 * (observed with 4.96: "a, |p1, b, |p2, |p3" is delivered a, b, |p3, |p2, |p1). */
typedef struct gen_key {
	address_item *a;
	int depth;                    /* 0 for top-level addresses, which come last */
	int rcpt;                     /* the top-level recipient's index */
	bool pfr;                     /* a pipe, file or reply item */
	size_t seq;                   /* creation order */
} gen_key;

static int gen_cmp(const void *x, const void *y)
{
	const gen_key *p = x, *q = y;
	if (p->depth != q->depth)
		return p->depth > q->depth ? -1 : 1;
	if (p->rcpt != q->rcpt)
		return p->rcpt < q->rcpt ? -1 : 1;
	if (p->pfr != q->pfr)
		return p->pfr ? 1 : -1;
	if (p->pfr)
		return p->seq > q->seq ? -1 : p->seq < q->seq;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* The same, but the pipe, file and reply items of one generation go by recipient from the last
 * to the first: Exim puts them on its delivery list straight from the list of new addresses
 * (the addresses take a routing pass more, which reverses them once more). Observed with 4.96:
 * recipients one, two redirecting to pipes at the same depth deliver two's items (newest first),
 * then one's. */
static int pfr_gen_cmp(const void *x, const void *y)
{
	const gen_key *p = x, *q = y;
	if (p->depth == q->depth && p->pfr && q->pfr && p->rcpt != q->rcpt)
		return p->rcpt > q->rcpt ? -1 : 1;
	return gen_cmp(x, y);
}

static address_item *generations_first(address_item *list)
{
	size_t n = 0;
	for (address_item *a = list; a; a = a->next)
		n++;
	if (n == 0)
		return NULL;
	gen_key *v = arena_alloc(pool_msg, n * sizeof *v);
	size_t i = 0;
	for (address_item *a = list; a; a = a->next, i++)
		v[i] = (gen_key){ .a = a, .depth = a->parent ? a->redirect_depth : 0, .rcpt = top_of(a)->rcpt_index,
.seq = n - 1 - i /* prepended: newest first */ };
	qsort(v, n, sizeof *v, gen_cmp);
	for (i = 0; i + 1 < n; i++)
		v[i].a->next = v[i + 1].a;
	v[n - 1].a->next = NULL;
	return v[0].a;
}

/* The local deliveries in Exim's order: the addresses (already in generations_first order) and
 * the pipe, file and reply items of redirections and filters, by generation; within one
 * generation the addresses, then the items, by recipient from the last (pfr_gen_cmp), each
 * recipient's newest first (observed with 4.96: "|p1, |p2, |p3" gives "** |p3", "** |p2",
 * "=> |p1"). The system filter's items are not in pfr: the caller puts them after everything. */
static address_item *with_pfr_items(address_item *local, address_item *pfr)
{
	size_t n = 0;
	for (address_item *a = local; a; a = a->next)
		n++;
	for (address_item *a = pfr; a; a = a->next)
		n += a->parent != NULL;
	address_item *filter = NULL, **ft = &filter;
	if (n == 0)
		return pfr;
	gen_key *v = arena_alloc(pool_msg, n * sizeof *v);
	size_t i = 0, k = 0;
	for (address_item *a = local; a; a = a->next)
		v[i++] = (gen_key){ .a = a, .depth = a->parent ? a->redirect_depth : 0, .rcpt = top_of(a)->rcpt_index,
			.seq = k++ };
	/* the items: by creation (a filter's "save A, save B, pipe P" logs P, B, A) */
	for (address_item *a = pfr, *next; a; a = next) {
		next = a->next;
		if (!a->parent) {
			*ft = a;
			ft = &a->next;
			continue;
		}
		v[i++] = (gen_key){ .a = a, .depth = a->redirect_depth, .rcpt = top_of(a)->rcpt_index, .pfr = true,
			.seq = a->child_seq };
	}
	*ft = NULL;
	qsort(v, n, sizeof *v, pfr_gen_cmp);
	for (i = 0; i + 1 < n; i++)
		v[i].a->next = v[i + 1].a;
	v[n - 1].a->next = filter;
	return v[0].a;
}

/* Routing lists are newest first; deliveries go in the order the addresses were routed. */
static address_item *reversed(address_item *list)
{
	address_item *out = NULL;
	for (address_item *a = list, *next; a; a = next) {
		next = a->next;
		a->next = out;
		out = a;
	}
	return out;
}

static bool domain_in(xp_env *env, const char *list, sv domain)
{
	if (!list || !*list)
		return false;
	xbuf err, exp;
	xbuf_init(&err, pool_scratch);
	xbuf_init(&exp, pool_scratch);
	if (xp_expand(env, sv_cstr(list), &exp, &err) != XP_OK)
		return false;
	return match_isinlist(domain, xbuf_sv(&exp), ':', MATCH_DOMAIN, true, NULL, &err) == SEARCH_OK;
}

/* Exim drops an address whose unique key an earlier one on the delivery lists has (local list,
 * then remote; pipe, file and reply items are never duplicates) and gives it the first one's
 * fate without a log line of its own. Observed with 4.96: recipients "u1@VM u1@vm" deliver
 * once, as u1@VM (the domain is caseless in the key, the local part is not: "U1@vm" is
 * another address); two redirections to the same address deliver it once, under the first in
 * delivery order; a system filter's "deliver one@vm" beside the recipient one@vm too. */
typedef struct dup_seen {
	hashtab *first;               /* key -> the address delivered for it */
	address_item **dups;          /* dropped: dups[i] shares the fate of origs[i] */
	address_item **origs;
	size_t n, cap;
} dup_seen;

static sv dup_key(const address_item *a)
{
	size_t at = a->address.len;
	while (at > 0 && a->address.p[at - 1] != '@')
		at--;
	if (at == 0)
		return a->address;
	return sv_cstr(arena_printf(pool_msg, "%.*s" SV_FMT, (int)at, a->address.p, SV_ARG(a->domain)));
}

static address_item *drop_duplicates(dup_seen *ds, address_item *list)
{
	address_item *out = NULL, **tail = &out;
	for (address_item *a = list, *next; a; a = next) {
		next = a->next;
		a->next = NULL;
		if (a->kind == ADDR_MAIL) {
			if (!ds->first)
				ds->first = hashtab_new(pool_msg, HASHTAB_CASE);
			sv key = dup_key(a);
			address_item *orig = hashtab_get(ds->first, key);
			if (orig) {
				if (ds->n == ds->cap) {
					size_t nc = ds->cap ? ds->cap * 2 : 8;
					address_item **x = arena_alloc(pool_msg, nc * sizeof *x), **y = arena_alloc(pool_msg, nc * sizeof *y);
					if (ds->n) {
						memcpy(x, ds->dups, ds->n * sizeof *x);
						memcpy(y, ds->origs, ds->n * sizeof *y);
					}
					ds->dups = x;
					ds->origs = y;
					ds->cap = nc;
				}
				ds->dups[ds->n] = a;
				ds->origs[ds->n++] = orig;
				continue;
			}
			hashtab_put(ds->first, key, a);
		}
		*tail = a;
		tail = &a->next;
	}
	return out;
}

/* A duplicate whose first is not finished keeps its own recipient for the next attempt. */
static void duplicates_settle(dctx *d, const dup_seen *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		if (ds->origs[i]->result != ADDR_OK && ds->origs[i]->result != ADDR_FAIL)
			mark_pending(d, ds->dups[i]);
}

/* Addresses that wait in the queue this time (-odqs / queue_smtp_domains / -ql): deferred
 * without a log line, as Exim leaves them for the queue runner. */
static address_item *hold_back(dctx *d, address_item *list)
{
	address_item *out = NULL, **tail = &out;
	for (address_item *a = list, *next; a; a = next) {
		next = a->next;
		a->next = NULL;
		if (d->o->queue_smtp || d->o->local_only || domain_in(d->env, conf_main.queue_smtp_domains, a->domain)) {
			a->result = ADDR_DEFER;
			mark_pending(d, a);
			/* Observed: Exim lists the message in wait-<transport> for the address's hosts, so
			 * the connection of the second phase of -qq (or a later run) can carry it. */
			if (!d->o->local_only && !d->dont_deliver)
				dcont_wait_add_hosts(d->sc, a, d->m->id);
			continue;
		}
		*tail = a;
		tail = &a->next;
	}
	return out;
}

/* ---- the end of an attempt ---- */

/* Where a failed address's report goes: its errors address, the recipient's errors_to, or the
 * sender. Empty: nobody (a bounce of a bounce). */
static sv report_to(const dctx *d, const address_item *a)
{
	for (const address_item *p = a; p; p = p->parent)
		if (p->errors_address.len)
			return p->errors_address;
	int i = top_of(a)->rcpt_index;
	if (i >= 0 && (size_t)i < d->m->nrcpt && d->m->rcpt[i].errors_to.len)
		return d->m->rcpt[i].errors_to;
	return d->m->sender;
}

/* Observed from Exim 4.96: a Sieve vacation reply's failure, and a failure report's failure by
 * retry timeout or past ignore_bounce_errors_after, are logged as ignored and dropped (no
 * report, no freezing). */
static bool error_ignored(const dctx *d, const address_item *f, sv to, time_t now)
{
	return f->ignore_error || (!to.len && (f->retry_timedout
		|| now - d->m->received_time >= conf_main.ignore_bounce_errors_after));
}

/* A failure whose error is ignored (error_ignored): logged so, and journalled as done so that
 * it is neither reported nor tried again. */
static void finish_error_ignored(dctx *d, address_item *f)
{
	dlog_error_ignored(f);
	sv fin = f->unique.len ? f->unique : f->address;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!djournal_append(d->sc, d->m->id, &fin, 1, &err))
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
	message_add_nonrecipient(d->m, fin);
	tp_output_remove(pool_scratch, d->sc, d->m->id, f);
}

static void send_bounces(dctx *d)
{
	time_t now = time(NULL);
	bool *sent = arena_calloc(pool_msg, d->nfailed ? d->nfailed : 1, sizeof *sent);
	/* A failure report's own failures: the ignored ones first, newest first, then the others
	 * freeze it (observed with 4.96: "** s@vm: retry timeout exceeded", "** a1@vm ...", then
	 * "a1@vm <system-filter>: error ignored", "s@vm: error ignored", "Frozen (delivery error
	 * message)" for the unrouteable third). */
	for (size_t i = d->m->sender.len ? 0 : d->nfailed; i-- > 0;) {
		address_item *f = d->failed[i];
		if (!error_ignored(d, f, report_to(d, f), now))
			continue;
		sent[i] = true;
		finish_error_ignored(d, f);
	}
	for (size_t i = 0; i < d->nfailed; i++) {
		if (sent[i])
			continue;
		sv to = report_to(d, d->failed[i]);
		address_item *f = d->failed[i];
		if (error_ignored(d, f, to, now)) {
			sent[i] = true;
			finish_error_ignored(d, f);
			continue;
		}
		/* Everything failing to the same place goes in one report. */
		address_item *list = NULL, **tail = &list;
		for (size_t k = i; k < d->nfailed; k++) {
			if (sent[k] || !sv_eq(report_to(d, d->failed[k]), to) || error_ignored(d, d->failed[k], to, now))
				continue;
			sent[k] = true;
			d->failed[k]->next = NULL;
			*tail = d->failed[k];
			tail = &d->failed[k]->next;
		}
		bool done;
		if (!to.len) {
			/* A failure report about a failure report goes nowhere: Exim freezes the message
			 * until ignore_bounce_errors_after has passed, then lets it go. */
			if (now - d->m->received_time >= conf_main.ignore_bounce_errors_after) {
				done = true;
			} else {
				done = false;
				d->freeze = true;
				d->freeze_reason = "delivery error message";
			}
		} else {
			xbuf err;
			xbuf_init(&err, pool_scratch);
			char new_id[MSG_ID_LEN + 1] = "";
			done = bounce_send_failure(d->sc, d->m, d->data_fd, list, to, new_id, &err);
			if (!done) {
				log_write(LOG_MAIN, "Process failed (%s) when writing error message to %.*s%s",
					err.len ? xbuf_cstr(&err) : "unknown error", SV_ARG(to),
					" - message frozen");
				d->freeze = true;
				d->freeze_reason = NULL;
			}
		}
		sv *fin = NULL;
		size_t nfin = 0;
		if (done) {
			for (address_item *a = list; a; a = a->next)
				nfin++;
			fin = arena_alloc(pool_msg, (nfin ? nfin : 1) * sizeof *fin);
			nfin = 0;
			for (address_item *a = list; a; a = a->next)
				fin[nfin++] = a->unique.len ? a->unique : a->address;
			xbuf err;
			xbuf_init(&err, pool_scratch);
			if (!djournal_append(d->sc, d->m->id, fin, nfin, &err))
				log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
			for (size_t k = 0; k < nfin; k++)
				message_add_nonrecipient(d->m, fin[k]);
			/* The returned command output is in the report now. */
			for (address_item *a = list; a; a = a->next)
				tp_output_remove(pool_scratch, d->sc, d->m->id, a);
		} else {
			for (address_item *a = list; a; a = a->next)
				mark_pending(d, a);
		}
	}
}

static address_item *relink(address_item **arr, size_t n, bool (*keep)(const address_item *))
{
	address_item *list = NULL, **tail = &list;
	for (size_t i = 0; i < n; i++) {
		if (keep && !keep(arr[i]))
			continue;
		arr[i]->next = NULL;
		*tail = arr[i];
		tail = &arr[i]->next;
	}
	return list;
}

static bool wants_success_dsn(const address_item *a)
{
	/* Only local deliveries here: a remote server that takes DSN passes NOTIFY on. */
	return (a->dsn_flags & MSG_DSN_SUCCESS) && !a->host_used_address.len;
}

static bool transport_is_remote(const address_item *a)
{
	const driver_instance *t = a->transport ? tp_find(a->transport) : NULL;
	return t && !transport_is_local(t);
}

/* The lines a later queue run logs for this message while it is not due (deliver.h). Only the
 * deferrals Exim checks again in such a run are named: routing deferrals, remote ones whose
 * hosts have retry records and local ones (their "T:" records); per-address deferrals are
 * retried when due. The routing ones come first, in recipient order, as Exim 4.96 logs them
 * (routing_not_due); the others in the order they deferred. */
#define SKIP_LOG_MAX 3900   /* under QUEUE_SKIP_LOG_MAX, which the index keeps */
typedef struct skip_item {
	const address_item *a;
	size_t i;                     /* position before sorting: the sort is stable */
} skip_item;

static int cmp_rcpt_index(const void *x, const void *y)
{
	const skip_item *p = x, *q = y;
	if (p->a->rcpt_index != q->a->rcpt_index)
		return p->a->rcpt_index < q->a->rcpt_index ? -1 : 1;
	return (p->i > q->i) - (p->i < q->i);
}

static const char *skip_log_for(dctx *d)
{
	xbuf out;
	xbuf_init(&out, pool_msg);
	if (d->freeze) {
		xbuf_puts(&out, "Message is frozen\n");
		return xbuf_cstr(&out);
	}
	size_t n = 0;
	skip_item *order = arena_alloc(pool_msg, (d->nrskipped + d->ndeferred + 1) * sizeof *order);
	for (size_t i = 0; i < d->nrskipped; i++, n++)
		order[n] = (skip_item){ d->rskipped[i], n };
	for (size_t i = 0; i < d->ndeferred; i++)
		if (!d->deferred[i]->transport) {
			order[n] = (skip_item){ d->deferred[i], n };
			n++;
		}
	qsort(order, n, sizeof *order, cmp_rcpt_index);
	for (size_t i = 0; i < d->ndeferred; i++)
		if (d->deferred[i]->transport) {
			order[n] = (skip_item){ d->deferred[i], n };
			n++;
		}
	for (size_t i = 0; i < n; i++) {
		const address_item *a = order[i].a;
		bool routing = !a->transport;
		/* host errors (connection refused, timeouts: a positive errno) or all hosts waiting */
		bool host_wait = !routing && transport_is_remote(a) && (a->basic_errno > 0 || a->basic_errno == -54);
		/* a local delivery waiting for its "T:" record (core/deliver_local_retry.c) */
		bool local_wait = !routing && !transport_is_remote(a) && a->kind != ADDR_REPLY;
		if (!routing && !host_wait && !local_wait)
			continue;
		size_t before = out.len;
		xbuf_puts(&out, "== ");
		if (local_wait)
			dlog_format_local_retry_skip(a, &out);
		else
			dlog_format_retry_skip(a, routing, &out);
		xbuf_putc(&out, '\n');
		if (out.len > SKIP_LOG_MAX) {
			out.len = before;
			break;
		}
	}
	return out.len ? xbuf_cstr(&out) : NULL;
}

/* The Maildir directories this delivery left for the queue runner to sync, synced here instead
 * (before anything else records the delivery: a rewritten -H, a removal outside the runner). */
static void sync_pending_dirs(void)
{
	if (!dirsync_pending.n)
		return;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!dirsync_flush(&dirsync_pending, &err))
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
}

/* A completed message whose Maildir directories are not synced yet: its -H goes into the queue
 * runner's commit directory, which syncs them and then removes it (core/dirsync.h). Once moved
 * the message no longer exists for any reader; if the runner dies first, the next queue run
 * moves it back and its journal says what was delivered. false: not moved (nothing pending, or
 * the rename failed: the caller syncs and removes as usual). */
static bool hand_to_commit(dctx *d, const char *id)
{
	if (!dirsync_pending.n || !d->o->commit_dir)
		return false;
	const char *from = spool_path(pool_scratch, d->sc, "input", id, "-H");
	const char *to = arena_printf(pool_scratch, "%s/%s-H", d->o->commit_dir, id);
	if (rename(from, to) != 0)
		return false;
	xbuf dirs;
	xbuf_init(&dirs, pool_msg);
	for (size_t i = 0; i < dirsync_pending.n; i++) {
		xbuf_puts(&dirs, dirsync_pending.path[i]);
		xbuf_putc(&dirs, '\n');
	}
	dirsync_pending.n = 0;
	last_outcome.commit_dirs = xbuf_cstr(&dirs);
	return true;
}

/* Finish: remove the message, or record what is left. */
static void finish(dctx *d, const char *id)
{
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (d->nsucceeded && !d->dont_deliver) {
		address_item *ok = relink(d->succeeded, d->nsucceeded, wants_success_dsn);
		if (ok && !bounce_send_success_dsn(d->sc, d->m, d->data_fd, ok, &err))
			log_write(LOG_MAIN, "failed to send a delivery status notification: %s", xbuf_cstr(&err));
	}
	/* Every top-level recipient with nothing pending under it is finished. */
	bool left = d->extra_pending;
	for (size_t i = 0; i < d->m->nrcpt; i++) {
		sv r = d->m->rcpt[i].address;
		if (message_is_nonrecipient(d->m, r))
			continue;
		if (d->top_pending[i]) {
			left = true;
			continue;
		}
		message_add_nonrecipient(d->m, r);
	}
	/* Deferred children of one_time routers join the recipients, remembering the original
	 * top-level recipient (Exim's "pno") for the log lines of later attempts. */
	for (size_t k = 0; k < d->nonetime; k++) {
		const address_item *a = d->onetime[k], *top = top_of(a);
		message_add_recipient(d->m, sv_copy(pool_msg, a->address));
		msg_recipient *r = &d->m->rcpt[d->m->nrcpt - 1];
		int pno = top->rcpt_index;
		if (top->onetime_parent.len && pno >= 0 && (size_t)pno < d->m->nrcpt && d->m->rcpt[pno].pno >= 0)
			pno = d->m->rcpt[pno].pno;
		r->pno = pno;
		r->dsn_flags = top->dsn_flags;
		left = true;
	}
	/* A transport's freeze request (freeze_exec_fail, a child that ended without a result)
	 * freezes the message only for an address still deferred: one that failed on ("retry
	 * timeout exceeded") is bounced instead, as in Exim. */
	for (size_t i = 0; i < d->ndeferred; i++)
		if (d->deferred[i]->freeze && d->deferred[i]->result == ADDR_DEFER && !d->freeze) {
			d->freeze = true;
			d->freeze_reason = NULL;
		}
	if (!left && !d->freeze) {
		xbuf_reset(&err);
		last_outcome.commit_dirs = NULL;
		bool committing = hand_to_commit(d, id);
		if (!committing)
			sync_pending_dirs();
		bool gone = committing || spool_remove_header(d->sc, id, &err);
		bool rest_to_caller = false;
		if (gone) {
			log_write(LOG_MAIN, "Completed");
			/* The rest: -D, -J, msglog (no directory sync: see dspool_remove_rest). A queue
			 * worker leaves them to its runner: each unlink of a file with data waits for the
			 * device here (discard), and the message ended with its -H. */
			if (d->o->caller_removes_rest)
				rest_to_caller = true;
			else
				dspool_remove_rest(d->sc, id);
		} else {
			log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
			xbuf_reset(&err);
			if (!spool_remove_message(d->sc, id, &err))
				log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
			log_write(LOG_MAIN, "Completed");
		}
		if (!d->o->caller_keeps_schedule)
			queue_schedule_forget(d->sc, id);
		raise_event(d, NULL, "msg:complete", SV_NULL, NULL);
		last_next_due = 0;
		last_outcome = (deliver_outcome){ .kind = DELIVER_OUTCOME_GONE, .remove_rest = rest_to_caller || committing,
			.commit_dirs = last_outcome.commit_dirs };
		return;
	}
	if (d->ndeferred && d->m->sender.len && !d->dont_deliver) {
		address_item *def = relink(d->deferred, d->ndeferred, NULL);
		xbuf_reset(&err);
		if (!bounce_maybe_warn(d->sc, d->m, d->data_fd, def, time(NULL), &err))
			log_write(LOG_MAIN, "failed to send a delay warning: %s", xbuf_cstr(&err));
	}
	if (d->freeze && !d->m->frozen)
		d->m->frozen = time(NULL);
	d->m->deliver_firsttime = false;
	/* The rewritten -H records the deliveries: their directories first. */
	sync_pending_dirs();
	xbuf_reset(&err);
	if (d->child_died)
		(void)spool_read_journal(pool_msg, d->sc, id, d->m);
	if (!spool_rewrite_header(d->sc, d->m, &err)) {
		/* The journal stays: the next attempt reads it, so nothing is delivered twice. */
		log_write(LOG_MAIN | LOG_PANIC, "failed to update the spool header: %s", xbuf_cstr(&err));
	} else {
		djournal_remove(d->sc, id);
	}
	if (d->freeze && d->freeze_logged) {
		spool_msglog(d->sc, id, "*** Frozen by the system filter");
	} else if (d->freeze) {
		if (d->freeze_reason)
			log_write(LOG_MAIN, "Frozen (%s)", d->freeze_reason);
		else
			log_write(LOG_MAIN, "Frozen");
		spool_msglog(d->sc, id, "*** Frozen%s%s%s", d->freeze_reason ? " (" : "",
			d->freeze_reason ? d->freeze_reason : "", d->freeze_reason ? ")" : "");
	}
	last_next_due = d->next_due;
	last_outcome = (deliver_outcome){ .kind = DELIVER_OUTCOME_QUEUED, .next_due = d->next_due, .frozen = d->freeze,
		.skip_log = skip_log_for(d) };
	if (!d->o->caller_keeps_schedule)
		queue_schedule_note_skip(d->sc, id, d->next_due, d->freeze, last_outcome.skip_log);
}

/* A queue run (not forced) leaves an address alone while its domain's or its own routing
 * retry record says it is not due; Exim logs that only with +retry_defer. Records that are due
 * go to found (at most 2) to be removed when the address routes. Only queue runs and manual
 * deliveries look: an immediate delivery of a new message does not pay for the lookups. */
enum { ERRNO_ROUTING_RETRY = -52 };     /* Exim's "routing defer (-52)" */

static bool routing_not_due(dctx *d, address_item *a, sv *found, size_t *nfound)
{
	*nfound = 0;
	if (!d->o->queue_run && !d->o->manual)
		return false;
	bool respect = d->o->queue_run && !d->o->forced;
	time_t now = time(NULL);
	retry_record rec;
	sv keys[2] = { retry_domain_key(pool_msg, a->domain), retry_address_key(pool_msg, a, true) };
	retry_reads_begin(); /* one open (or one look for an absent database) for both keys */
	for (int i = 0; i < 2; i++) {
		if (!keys[i].len)
			continue;
		retry_due due = retry_check(d->sc->directory, keys[i], now, !respect, &rec, pool_msg);
		if (due == RETRY_NOT_DUE) {
			retry_reads_end();
			a->result = ADDR_DEFER;
			a->retry_skipped = true;
			a->basic_errno = ERRNO_ROUTING_RETRY;
			a->message = SV_LIT("retry time not reached");
			const log_config *lc = log_current_config();
			if (lc && logsel_has(&lc->selector, LS_RETRY_DEFER))
				dlog_routing_retry_skip(a);
			push(&d->rskipped, &d->nrskipped, &d->cap_rskipped, a);
			mark_pending(d, a);
			if (rec.next_try && (!d->next_due || rec.next_try < d->next_due))
				d->next_due = rec.next_try;
			return true;
		}
		if (rec.last_try || rec.first_failed)
			found[(*nfound)++] = keys[i];
	}
	retry_reads_end();
	return false;
}

/* ---- frozen messages ---- */

/* true: go on delivering. May fail every address (timeout_frozen_after). */
static bool frozen_check(dctx *d, bool *cancel)
{
	message *m = d->m;
	time_t now = time(NULL);
	*cancel = false;
	if (!m->frozen)
		return true;
	if (conf_main.timeout_frozen_after > 0 && now - m->received_time >= conf_main.timeout_frozen_after) {
		*cancel = true;
		m->frozen = 0;
		return true;
	}
	if (d->o->thaw) {
		log_write(LOG_MAIN, "Unfrozen by forced delivery");
		m->frozen = 0;
		return true;
	}
	if (!m->sender.len && conf_main.ignore_bounce_errors_after >= 0
		&& now - m->received_time >= conf_main.ignore_bounce_errors_after) {
		log_write(LOG_MAIN, "Unfrozen by errmsg timer");
		m->frozen = 0;
		return true;
	}
	if (conf_main.auto_thaw > 0 && now - m->frozen >= conf_main.auto_thaw) {
		log_write(LOG_MAIN, "Unfrozen by auto-thaw");
		m->frozen = 0;
		return true;
	}
	if (d->o->manual)
		log_write(LOG_MAIN, "Message is frozen");
	return false;
}

/* A second lock on -D, an open-file-description lock on a range the spool's own lock does not
 * use: transport children inherit it, so if this process dies while a child is still
 * delivering, the next attempt waits until that child has finished (and journaled). It is
 * taken on the spool lock's own descriptor (the two ranges never meet, and the open file
 * description it belongs to is the one the children inherit): a second open of -D for it cost
 * an open and a close per message. False when it is held elsewhere. */
#define DELIVER_CHILD_LOCK_OFFSET ((off_t)1 << 40)
static bool lock_children(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = DELIVER_CHILD_LOCK_OFFSET, .l_len = 1 };
	return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

/* The first message_body_visible bytes of the body, for $message_body in expansions. */
static sv visible_body(int fd)
{
	int max = conf_main.message_body_visible > 0 ? conf_main.message_body_visible : 0;
	if (fd < 0 || !max)
		return SV_NULL;
	char *buf = arena_alloc(pool_msg, (size_t)max + 1);
	ssize_t n = pread(fd, buf, (size_t)max, MSG_ID_LEN + 3);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	return sv_tainted(sv_make(buf, (size_t)n));
}

/* A -D that is gone with its -H: the message is finished (for the caller's schedule index). */
static void note_missing(const spool_config *sc, const char *id)
{
	if (errno != ENOENT)
		return;
	const char *h = spool_path(pool_scratch, sc, "input", id, "-H");
	if (access(h, F_OK) != 0 && errno == ENOENT)
		last_outcome = (deliver_outcome){ .kind = DELIVER_OUTCOME_GONE };
}

/* A message whose -H was named before its files were durable, read after a restart: if its
 * files are not what was written, the crash came before its 250 (core/spool_integrity.h). It
 * is not delivered; it is moved out of the queue and logged. True: so refused. */
static bool integrity_refused(const spool_config *sc, const char *id, const spool_parse_info *info, int dfd)
{
	xbuf why;
	xbuf_init(&why, pool_msg);
	if (spool_integrity_check(info, dfd, &why) != SPOOL_INTEGRITY_BAD)
		return false;
	xbuf err;
	xbuf_init(&err, pool_msg);
	if (spool_integrity_quarantine(sc, id, &err)) {
		queue_schedule_forget(sc, id);
		log_write(LOG_MAIN | LOG_PANIC, "Spool error: %s-H failed its integrity check after a restart (%s): "
			"the message was never acknowledged; moved to %s", id, xbuf_cstr(&why),
			spool_path(pool_scratch, sc, "unacked", id, "-H"));
	} else {
		log_write(LOG_MAIN | LOG_PANIC, "Spool error: %s-H failed its integrity check after a restart (%s): "
			"the message was never acknowledged; not delivered: %s", id, xbuf_cstr(&why), xbuf_cstr(&err));
	}
	return true;
}

deliver_rc deliver_message(const spool_config *sc, const char *id, const deliver_opts *o)
{
	/* The message's queue is this process's while it is delivered: Q= on its lines,
	 * $queue_name, and the queue a bounce or a filter's reply is spooled in (core/queue_named.h). */
	queue_named_set(sc->queue_name);
	log_set_id(id);
	last_outcome = (deliver_outcome){ .kind = DELIVER_OUTCOME_NONE };
	last_next_due = 0;
	dirsync_pending.n = 0;
	xbuf err;
	xbuf_init(&err, pool_msg);
	int fd = spool_open_locked(sc, id, &err);
	if (fd < 0) {
		note_missing(sc, id);
		/* Another process has it, or it is gone: nothing to do here. -M says so. */
		if (o->manual)
			log_write(LOG_MAIN, "%s", xbuf_cstr(&err));
		log_set_id(NULL);
		return DELIVER_NOT_ATTEMPTED;
	}
	if (!lock_children(fd)) {
		if (o->manual)
			log_write(LOG_MAIN, "Spool file for %s is locked (another process is handling this message)", id);
		close(fd);
		log_set_id(NULL);
		return DELIVER_NOT_ATTEMPTED;
	}
	/* deliver_drop_privilege: the whole delivery runs as the exim user (local deliveries to
	 * other users then defer, as in Exim). */
	if (conf_main.deliver_drop_privilege && priv_is_root()) {
		xbuf_reset(&err);
		if (!priv_drop_to_exim(&err)) {
			log_write(LOG_MAIN | LOG_PANIC, "deliver_drop_privilege: %s", xbuf_cstr(&err));
			close(fd);
			log_set_id(NULL);
			return DELIVER_FAILED_SETUP;
		}
	}
	message *m = message_new(pool_msg);
	msg_origin *origin = arena_calloc(pool_msg, 1, sizeof *origin);
	spool_parse_info info;
	if (!spool_read_header_ex(pool_msg, sc, id, m, origin, &info, &err)) {
		/* In a queue run, a -D without -H is a message that has ended (its -H removed, or moved
		 * to a dead runner's commit directory, which a later pass moves back and notes again):
		 * nothing to log, nothing to keep in the schedule. */
		if (o->queue_run && access(spool_path(pool_scratch, sc, "input", id, "-H"), F_OK) != 0
			&& errno == ENOENT) {
			last_outcome = (deliver_outcome){ .kind = DELIVER_OUTCOME_GONE };
			close(fd);
			log_set_id(NULL);
			return DELIVER_NOT_ATTEMPTED;
		}
		log_write(LOG_MAIN, "Spool error: %s", xbuf_cstr(&err));
		close(fd);
		log_set_id(NULL);
		return DELIVER_FAILED_SETUP;
	}
	m->origin = origin;
	if (integrity_refused(sc, id, &info, fd)) {
		last_outcome = (deliver_outcome){ .kind = DELIVER_OUTCOME_GONE };
		close(fd);
		log_set_id(NULL);
		return DELIVER_NOT_ATTEMPTED;
	}
	if (spool_read_journal(pool_msg, sc, id, m)) {
		/* An earlier attempt died after journaling: fold the journal into -H first. */
		xbuf_reset(&err);
		if (spool_rewrite_header(sc, m, &err))
			djournal_remove(sc, id);
		else
			log_write(LOG_MAIN | LOG_PANIC, "failed to update the spool header: %s", xbuf_cstr(&err));
	}
	dctx d = { .sc = sc, .m = m, .data_fd = fd, .o = o, .a = pool_msg, .journal_fd = -1 };
	d.dont_deliver = o->dont_deliver || m->dont_deliver;
	d.log = (dlog_ctx){ .sc = sc, .m = m, .dont_deliver = d.dont_deliver };
	d.top_pending = arena_calloc(pool_msg, m->nrcpt ? m->nrcpt : 1, sizeof *d.top_pending);

	bool cancel;
	if (!frozen_check(&d, &cancel)) {
		last_outcome = (deliver_outcome){ .kind = DELIVER_OUTCOME_QUEUED, .frozen = true,
			.skip_log = "Message is frozen\n" };
		close(fd);
		log_set_id(NULL);
		return DELIVER_NOT_ATTEMPTED;
	}

	message_vars mv;
	message_vars_init(&mv, m, origin);
	mv.allow_recipients = false;
	xp_env env;
	xp_env_init(&env, pool_scratch);
	env.state = pool_msg;
	xp_env_push_provider(&env, &mv.p);
	xp_message xm;
	message_to_xp(m, visible_body(fd), &xm, pool_msg);
	env.msg = &xm;
	d.env = &env;

	address_item *filter_route = NULL, *filter_local = NULL;
	if (!cancel)
		dfilter_run(&d, &filter_route, &filter_local);

	route_ctx rc;
	route_ctx_init(&rc, pool_msg, &env, ROUTE_MODE_DELIVER, m->sender);
	rc.first_delivery = m->deliver_firsttime;
	rc.manually_thawed = m->manual_thaw;
	rc.report = route_report;
	rc.report_ctx = &d;
	rc.syntax_errors = syntax_errors_report;
	rc.syntax_errors_ctx = &d;
	/* Deliveries the system filter set up are routed like recipients (before them), newest
	 * first (the list is). */
	for (address_item *a = filter_route, *next; a; a = next) {
		next = a->next;
		a->next = NULL;
		route_chain(&rc, a);
	}
	/* The recipients' routing retry records are checked first, in recipient order (Exim 4.96
	 * logs its "retry time not reached" lines so, before any routing line); Exim routes the
	 * others newest first. */
	size_t nr = d.originals_stop ? 0 : m->nrcpt;
	address_item **rcpt_addr = arena_calloc(pool_msg, nr + 1, sizeof *rcpt_addr);
	sv (*found)[2] = arena_calloc(pool_msg, nr + 1, sizeof *found);
	size_t *nfound = arena_calloc(pool_msg, nr + 1, sizeof *nfound);
	for (size_t k = 0; k < nr; k++) {
		const msg_recipient *r = &m->rcpt[k];
		if (message_is_nonrecipient(m, r->address))
			continue;
		address_item *a = route_new_address(pool_msg, r->address);
		a->rcpt_index = (int)k;
		if (r->pno >= 0 && (size_t)r->pno < m->nrcpt)
			a->onetime_parent = m->rcpt[r->pno].address;
		a->dsn_flags = r->dsn_flags;
		a->orcpt = r->orcpt;
		if (!cancel && routing_not_due(&d, a, found[k], &nfound[k]))
			continue;
		rcpt_addr[k] = a;
	}
	for (size_t k = nr; k-- > 0;) {
		address_item *a = rcpt_addr[k];
		if (!a)
			continue;
		if (cancel) {
			a->result = ADDR_FAIL;
			a->message = SV_LIT("delivery cancelled by timeout_frozen_after");
			dlog_fail(&d.log, a);
			push(&d.failed, &d.nfailed, &d.cap_failed, a);
			continue;
		}
		if (route_chain(&rc, a) != ROUTE_DEFER)
			droute_retry_clear(&d, a, found[k], nfound[k]);
	}
	address_item *local = drop_finished(&d, generations_first(rc.res.local));
	address_item *pfr = drop_finished(&d, reversed(rc.res.pfr));
	/* The system filter's items are checked first (as before), kept apart, and delivered after
	 * all the others, in the filter's order (observed with 4.96: after the recipients' own
	 * addresses and items, top-level ones included). */
	size_t nfilter_items = 0;
	if (filter_local) {
		address_item **end = &filter_local;
		while (*end) {
			end = &(*end)->next;
			nfilter_items++;
		}
		*end = pfr;
		pfr = filter_local;
	}
	/* Exim delivers in recipient order (its routing goes newest first and its delivery lists
	 * are built by prepending); observed: "=> a", "** b", "== c" for recipients a, b, c.
	 * (Children of redirections: Exim routes them a generation later, so they come first.) */
	address_item *remote = drop_finished(&d, generations_first(rc.res.remote));
	/* Pipe and file items without a usable transport are failures of their own. */
	address_item *pfr_ok = NULL, **pt = &pfr_ok, *filter_ok = NULL, **fot = &filter_ok;
	size_t seen = 0;
	for (address_item *a = pfr, *next; a; a = next) {
		next = a->next;
		a->next = NULL;
		bool from_filter = seen++ < nfilter_items;
		if (a->pfr_error || a->pfr_forbidden || !a->transport) {
			a->result = ADDR_FAIL;
			if (!a->message.len)
				a->message = a->pfr_error_text.len ? a->pfr_error_text : SV_LIT("forbidden pipe or file delivery");
			raise_event(&d, NULL, "msg:fail:internal", a->message, a);
			dlog_fail(&d.log, a);
			push(&d.failed, &d.nfailed, &d.cap_failed, a);
			continue;
		}
		if (from_filter) {
			*fot = a;
			fot = &a->next;
		} else {
			*pt = a;
			pt = &a->next;
		}
	}
	/* The router engine calls a transport local unless its ops say remote. */
	address_item *more_remote = NULL, **mr = &more_remote, *more_local = NULL, **ml = &more_local;
	for (address_item *a = local, *next; a; a = next) {
		next = a->next;
		a->next = NULL;
		const driver_instance *t = a->transport ? tp_find(a->transport) : NULL;
		if (t && !transport_is_local(t)) { *mr = a; mr = &a->next; }
		else { *ml = a; ml = &a->next; }
	}
	*ml = NULL;
	*mr = remote;
	local = with_pfr_items(more_local, pfr_ok);
	address_item **lend = &local;
	while (*lend)
		lend = &(*lend)->next;
	*lend = filter_ok;
	dup_seen dups = { 0 };
	local = drop_duplicates(&dups, local);
	remote = hold_back(&d, drop_duplicates(&dups, more_remote));
	dlocal_run(&d, local);
	if (remote)
		dremote_run(&d, remote);
	duplicates_settle(&d, &dups);
	fail_timedout(&d);
	send_bounces(&d);
	if (d.journal_fd >= 0)
		close(d.journal_fd);
	finish(&d, id);
	search_tidyup();
	xp_env_release(&env);
	close(fd);
	log_set_id(NULL);
	return DELIVER_ATTEMPTED;
}

void deliver_remove_rest(const spool_config *sc, const char *id)
{
	dspool_remove_rest(sc, id);
}

void deliver_start_background(const spool_config *sc, const char *id, const deliver_opts *o)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "fork failed for the delivery process: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* A second fork detaches the delivery from the caller, which need not reap it. */
		setsid();
		pid_t p2 = fork();
		if (p2 != 0)
			_exit(p2 < 0 ? 1 : 0);
		/* Let go of the client connection (and any other socket) the receiver had: the
		 * descriptors listed in /proc (a few), not a probe of each of the first 1,024. */
		DIR *fds = opendir("/proc/self/fd");
		if (fds) {
			struct dirent *e;
			while ((e = readdir(fds))) {
				char *end;
				long fd = strtol(e->d_name, &end, 10);
				struct stat st;
				if (*end == 0 && end != e->d_name && fd >= 3 && fd != dirfd(fds)
					&& fstat((int)fd, &st) == 0 && S_ISSOCK(st.st_mode))
					close((int)fd);
			}
			closedir(fds);
		} else {
			for (int fd = 3; fd < 1024; fd++) {
				struct stat st;
				if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
					close(fd);
			}
		}
		deliver_stdio_to_null();
		deliver_message(sc, id, o);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void deliver_stdio_to_null(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
}
