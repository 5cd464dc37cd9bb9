/* Retry records for local deliveries and the end-of-delivery failure of addresses whose retry
 * rules have run out, as Exim 4.96 does them (observed with exim_dumpdb and its main log):
 *
 *   - A local transport's deferral (pipe exit 75, appendfile lock timeout ...) writes
 *     "T:<local part>@<domain>" (or "T:<domain>" when the transport's retry_use_local_part is
 *     off) with the deferral's errno and text (only strerror's text when errno > 0), e.g. "T:v@p.test 0 0 Child process of tp
 *     transport returned 75 ...". When no retry rule matches, the address fails at once.
 *   - A queue run that is not forced leaves the address alone while that record is not due:
 *     "== v@p.test R=p T=tp defer (-53): Retry time not yet reached" (logged with the default
 *     +retry_defer). -qf, -M and immediate deliveries try it anyway; a success deletes it.
 *   - A deferral (local or remote) past its rule's cutoff, or with no rule, is logged as the
 *     deferral ("==") first; after every transport has run, each such address gets
 *     "** <address>: retry timeout exceeded" (no R=, T= or H=), the newest deferral first. */
#include <string.h>
#include <time.h>

#include "core/deliver_internal.h"
#include "core/retry.h"
#include "core/transport.h"
#include "lib/arena.h"

enum { ADDR_ERRNO_LRETRY = -53 };   /* Exim's ERRNO_LRETRY: "defer (-53)" */

/* A pipe or file item of a redirection is keyed on itself and the address it came from
 * (observed: "T:|/bin/sh -c \"exit 75\":u@a.test", "T:box5:u@a.test"). */
static sv local_key(const address_item *a)
{
	if (a->kind != ADDR_MAIL) {
		xbuf k;
		xbuf_init(&k, pool_msg);
		xbuf_puts(&k, "T:");
		xbuf_putsv(&k, a->address);
		xbuf_putc(&k, ':');
		xbuf_putsv(&k, a->parent->address);
		return xbuf_sv(&k);
	}
	const driver_instance *t = a->transport ? tp_find(a->transport) : NULL;
	bool use_lp = t ? tp_opt_bool(t, "retry_use_local_part") : true;
	return retry_local_key(pool_msg, a, use_lp);
}

/* Mail addresses, and pipe, file and reply items that have the address they came from
 * (observed: a filter's reply keys "T:>to@domain:user@domain"). */
static const address_item *keyed(const address_item *a)
{
	if (a->kind == ADDR_MAIL)
		return a->domain.len ? a : NULL;
	if ((a->kind == ADDR_PIPE || a->kind == ADDR_FILE || a->kind == ADDR_DIRECTORY || a->kind == ADDR_REPLY)
		&& a->parent && a->parent->address.len)
		return a;
	return NULL;
}

sv dlocal_retry_key(const address_item *a)
{
	const address_item *k = keyed(a);
	return k ? local_key(k) : SV_NULL;
}

bool dlocal_retry_skip(dctx *d, address_item *a)
{
	a->retry_local_record = false;
	if (d->dont_deliver || (!d->o->queue_run && !d->o->manual))
		return false;
	const address_item *k = keyed(a);
	if (!k)
		return false;
	time_t now = time(NULL);
	retry_record rec;
	bool respect = d->o->queue_run && !d->o->forced;
	retry_due due = retry_check(d->sc->directory, local_key(k), now, !respect, &rec, pool_msg);
	if (rec.last_try || rec.first_failed)
		a->retry_local_record = true;   /* a success deletes it */
	if (due != RETRY_NOT_DUE)
		return false;
	/* Not due: deferred without a try, as Exim logs it. */
	a->result = ADDR_DEFER;
	a->retry_skipped = true;
	a->basic_errno = ADDR_ERRNO_LRETRY;
	a->more_errno = 0;
	a->message = SV_LIT("Retry time not yet reached");
	if (rec.next_try && (!d->next_due || rec.next_try < d->next_due))
		d->next_due = rec.next_try;
	dbatch b = { .t = a->transport ? tp_find(a->transport) : NULL, .addrs = a, .n = 1, .fd = -1 };
	address_item *next = a->next;
	a->next = NULL;
	dpost_batch(d, &b, false);
	a->next = next;
	return true;
}

void dlocal_retry_items(dctx *d, dbatch *b)
{
	if (d->dont_deliver)
		return;
	for (address_item *a = b->addrs; a; a = a->next) {
		if (a->retry_skipped)
			continue;
		const address_item *k = keyed(a);
		if (!k)
			continue;
		bool deferred = a->result == ADDR_DEFER || a->result == ADDR_PANIC;
		if (!deferred && !(a->result == ADDR_OK && a->retry_local_record))
			continue;
		addr_retry *r = arena_calloc(pool_msg, 1, sizeof *r);
		r->key = local_key(k);
		if (deferred) {
			r->basic_errno = a->basic_errno;
			r->more_errno = a->more_errno;
			/* With a system errno Exim keeps only its text (observed: "T:u@p.test 2 0 No such
			 * file or directory" for a defer logged "(2): No such file or directory: creating
			 * lock file hitching post ..."); the details stay in the log line. */
			r->text = a->basic_errno > 0 ? sv_copy(pool_msg, sv_cstr(strerror(a->basic_errno))) : a->message;
			/* No text at all (a transport process that reported nothing): Exim stores
			 * "unknown error" (observed: "T:snd@vm -1 0 unknown error"). */
			if (sv_is_null(r->text))
				r->text = SV_LIT("unknown error");
		} else {
			r->remove = true;
		}
		r->next = a->retries;
		a->retries = r;
	}
}

void dretry_timedout_add(dctx *d, address_item *a)
{
	if (d->ntimedout == d->cap_timedout) {
		size_t nc = d->cap_timedout ? d->cap_timedout * 2 : 8;
		address_item **x = arena_alloc(pool_msg, nc * sizeof *x);
		if (d->ntimedout)
			memcpy(x, d->timedout, d->ntimedout * sizeof *x);
		d->timedout = x;
		d->cap_timedout = nc;
	}
	d->timedout[d->ntimedout++] = a;
}
