/* Remote deliveries: addresses routed to the same transport with the same host list (and the
 * same errors address, which the bounce needs) go in one batch, one child per batch, as Exim
 * groups them for one SMTP transaction. At most remote_max_parallel children run at once;
 * when that many are running, the oldest is waited for before the next starts. */
#include <string.h>

#include "conf/main_options.h"
#include "core/deliver_internal.h"
#include "core/transport.h"

static bool same_hosts(const route_host *a, const route_host *b)
{
	for (; a && b; a = a->next, b = b->next)
		if (!sv_eq(a->name, b->name) || !sv_eq(a->address, b->address) || a->port != b->port || a->mx != b->mx)
			return false;
	return !a && !b;
}

static bool same_group(const address_item *x, const address_item *y)
{
	return x->transport && y->transport && strcmp(x->transport, y->transport) == 0
		&& same_hosts(x->hosts, y->hosts) && sv_eq(x->errors_address, y->errors_address)
		&& sv_eq(x->fallback_hosts, y->fallback_hosts);
}

void dremote_run(dctx *d, address_item *list)
{
	dbatch *batches = NULL, **btail = &batches;
	address_item *next;
	for (address_item *a = list; a; a = next) {
		next = a->next;
		a->next = NULL;
		dbatch *b;
		for (b = batches; b; b = b->next)
			if (same_group(b->addrs, a))
				break;
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
	int nrunning = 0;
	for (dbatch *b = batches; b; b = b->next) {
		if (nrunning == max) {
			dbatch_finish(d, running[0]);
			dpost_batch(d, running[0], true);
			for (int i = 1; i < nrunning; i++)
				running[i - 1] = running[i];
			nrunning--;
		}
		if (dbatch_start(d, b, true))
			running[nrunning++] = b;
		else
			dpost_batch(d, b, true);
	}
	for (int i = 0; i < nrunning; i++) {
		dbatch_finish(d, running[i]);
		dpost_batch(d, running[i], true);
	}
}
