/* Which hosts an smtp transport batch goes to (Exim 4.96 "The smtp transport": hosts,
 * hosts_override, hosts_randomize, gethostbyname, fallback_hosts). The router usually supplies
 * the hosts with their addresses (MX order); the transport's own lists are host names that are
 * looked up here. A name that cannot be looked up is skipped (observed: Exim tries the others
 * and reports "failed to lookup IP address for <name>" only when nothing else was tried). */
#include <string.h>

#include "drivers/transports/smtp.h"
#include "drivers/transports/smtp_deliver.h"
#include "lib/list.h"

/* Look up each host of list on its own, so one failure does not hide the others. */
static route_host *lookup_all(arena *a, route_host *list, bool byname, xbuf *lookup_err)
{
	route_host *out = NULL, **tail = &out;
	while (list) {
		route_host *h = list;
		list = list->next;
		h->next = NULL;
		route_host *one = h;
		sv failed = SV_NULL;
		route_rc rc = route_hosts_find(a, &one, byname ? ROUTE_LOOKUP_BYNAME : ROUTE_LOOKUP_DEFAULT,
			SV_NULL, ROUTE_MISSING_FAIL, &failed);
		if (rc != ROUTE_OK || one == NULL) {
			if (lookup_err->len == 0)
				xbuf_printf(lookup_err, "failed to lookup IP address for " SV_FMT, SV_ARG(h->name));
			continue;
		}
		*tail = one;
		while (*tail)
			tail = &(*tail)->next;
	}
	return out;
}

/* Exim randomizes the names, before they are looked up. */
static route_host *shuffle(route_host *list)
{
	size_t n = 0;
	for (route_host *h = list; h; h = h->next)
		n++;
	if (n < 2)
		return list;
	route_host *v[256];
	if (n > sizeof v / sizeof v[0])
		n = sizeof v / sizeof v[0];   /* longer lists keep their tail in order */
	route_host *rest = list;
	for (size_t i = 0; i < n; i++) {
		v[i] = rest;
		rest = rest->next;
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = route_random((unsigned)(i + 1));
		route_host *t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	for (size_t i = 0; i + 1 < n; i++)
		v[i]->next = v[i + 1];
	v[n - 1]->next = rest;
	return v[0];
}

static route_host *parse_list(arena *a, sv text)
{
	route_host *out = NULL, **tail = &out;
	list_iter it;
	xbuf item;
	xbuf_init(&item, a);
	list_iter_init(&it, text, 0);
	while (list_next(&it, &item)) {
		if (item.len == 0)
			continue;
		*tail = route_host_parse(a, sv_copy(a, xbuf_sv(&item)));
		tail = &(*tail)->next;
	}
	return out;
}

bool smtp_hosts_for_batch(const driver_instance *t, tp_ctx *c, const address_item *a,
	route_host **out, xbuf *lookup_err, xbuf *err)
{
	const struct smtp_transport_options *ob = t->priv;
	*out = NULL;
	if (ob->hosts == NULL || (a->hosts != NULL && !ob->hosts_override)) {
		/* The router's hosts: copied, because the next host attempt must not change the
		 * address's own list. */
		route_host **tail = out;
		for (const route_host *h = a->hosts; h; h = h->next) {
			*tail = arena_alloc(c->a, sizeof **tail);
			**tail = *h;
			(*tail)->next = NULL;
			tail = &(*tail)->next;
		}
		if (*out == NULL && ob->hosts == NULL) {
			xbuf_printf(err, "%s transport called with no hosts set", t->name);
			return false;
		}
		return true;
	}
	xbuf v, e;
	xbuf_init(&v, c->a);
	xbuf_init(&e, c->a);
	if (xp_expand(c->env, sv_cstr(ob->hosts), &v, &e) != XP_OK) {
		xbuf_printf(err, "failed to expand list of hosts \"%s\" in %s transport: " SV_FMT, ob->hosts,
			t->name, SV_ARG(xbuf_sv(&e)));
		return false;
	}
	route_host *list = parse_list(c->a, sv_copy(c->a, xbuf_sv(&v)));
	if (list == NULL) {
		xbuf_printf(err, "%s transport has empty hosts setting", t->name);
		return false;
	}
	if (ob->hosts_randomize)
		list = shuffle(list);
	*out = lookup_all(c->a, list, ob->gethostbyname, lookup_err);
	return true;
}

route_host *smtp_hosts_fallback(const driver_instance *t, tp_ctx *c, const address_item *a,
	xbuf *lookup_err)
{
	const struct smtp_transport_options *ob = t->priv;
	sv text = a->fallback_hosts.len ? a->fallback_hosts : sv_cstr(ob->fallback_hosts);
	if (text.len == 0)
		return NULL;
	route_host *list = parse_list(c->a, text);
	if (ob->hosts_randomize)
		list = shuffle(list);
	return lookup_all(c->a, list, ob->gethostbyname, lookup_err);
}
