/* Routing retry records, as Exim 4.96 keeps them (its "Retry configuration" and the router
 * option retry_use_local_part): a router's deferral (":defer:" from redirect data, a manualroute
 * host that cannot be looked up, a lookup that defers ...) writes "R:<domain>", or
 * "R:<local part>@<domain>" when the router's retry_use_local_part is in effect (observed:
 * "R:dd@r.test -1 0 some reason" for "data = :defer: some reason" on a router with
 * local_parts). A queue run leaves the address alone while that record is not due
 * (routing_not_due in deliver.c); once the address routes again the records go. */
#include <time.h>

#include "core/deliver_internal.h"
#include "core/retry.h"

void droute_retry_defer(dctx *d, address_item *a)
{
	if (d->dont_deliver || a->router == NULL || a->retry_skipped)
		return;
	bool use_lp = route_opt_bool(a->router, "retry_use_local_part");
	addr_retry *r = arena_calloc(pool_msg, 1, sizeof *r);
	r->key = use_lp ? retry_address_key(pool_msg, a, true) : retry_domain_key(pool_msg, a->domain);
	r->basic_errno = a->basic_errno;
	r->more_errno = a->more_errno;
	r->text = a->message;
	/* Applied at once and on this address alone: it is on no transport batch. */
	address_item *next = a->next;
	addr_retry *saved = a->retries;
	a->next = NULL;
	a->retries = r;
	time_t due = retry_update(d->sc->directory, a, d->m->id, d->m->sender, time(NULL));
	a->next = next;
	a->retries = saved;
	if (due && (!d->next_due || due < d->next_due))
		d->next_due = due;
}

void droute_retry_clear(dctx *d, address_item *top, const sv *keys, size_t n)
{
	if (d->dont_deliver || n == 0)
		return;
	addr_retry *list = NULL;
	for (size_t i = 0; i < n; i++) {
		addr_retry *r = arena_calloc(pool_msg, 1, sizeof *r);
		r->key = keys[i];
		r->remove = true;
		r->next = list;
		list = r;
	}
	address_item *next = top->next;
	addr_retry *saved = top->retries;
	top->next = NULL;
	top->retries = list;
	retry_update(d->sc->directory, top, d->m->id, d->m->sender, time(NULL));
	top->next = next;
	top->retries = saved;
}
