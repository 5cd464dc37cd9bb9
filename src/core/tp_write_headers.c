/* The header section a transport writes (Exim 4.96, observed): Return-path:, Envelope-to:,
 * Delivery-date: in that order when asked for; then the message's headers in spool order without
 * the deleted ('*') ones and without those headers_remove names (the transport's items expanded
 * one by one; the routers' already expanded; "name*" matches a prefix), each rewritten by the
 * transport's headers_rewrite; then the routers' headers_add; then the transport's headers_add
 * (a newline-separated list, each item expanded, empty results skipped, a newline supplied when
 * missing); then the blank line. */
#include "core/tp_write_internal.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "core/rewrite.h"
#include "core/transport.h"
#include "lib/list.h"
#include "lib/timefmt.h"

/* One headers_remove item: a name (matched with the colon after it) or a prefix ("name*"). */
typedef struct rm_item {
	struct rm_item *next;
	sv name;
	bool prefix;
} rm_item;

static rm_item *rm_add(arena *a, rm_item *list, sv item)
{
	item = sv_trim(item);
	if (!item.len)
		return list;
	rm_item *r = arena_calloc(a, 1, sizeof *r);
	if (item.p[item.len - 1] == '*') {
		r->prefix = true;
		item.len--;
	} else if (item.p[item.len - 1] == ':') {
		item.len--;
	}
	r->name = sv_copy(a, item);
	r->next = list;
	return r;
}

static bool rm_matches(const rm_item *list, sv text)
{
	for (const rm_item *r = list; r; r = r->next) {
		if (text.len < r->name.len)
			continue;
		if (r->name.len && !sv_eqi(sv_sub(text, 0, r->name.len), r->name))
			continue;
		if (r->prefix)
			return true;
		if (text.len > r->name.len && text.p[r->name.len] == ':')
			return true;
	}
	return false;
}

static bool expand_fail(const tp_write_opts *o, xbuf *err, int *errnum, const xbuf *why)
{
	tpw_error(o, err, "failed to expand headers_add or headers_remove", xbuf_cstr(why));
	*errnum = TPW_ERRNO_HEADERS;
	return false;
}

/* The transport's headers_remove: each item expanded on its own; an empty or forced-fail result
 * removes nothing. */
static bool transport_removes(arena *a, const tp_write_opts *o, rm_item **list, xbuf *err, int *errnum)
{
	const char *text = o->t ? tp_opt_str(o->t, "headers_remove") : NULL;
	if (!text)
		return true;
	list_iter it;
	list_iter_init(&it, sv_cstr(text), -':');
	xbuf item, val, e;
	xbuf_init(&item, a);
	xbuf_init(&val, a);
	xbuf_init(&e, a);
	while (list_next(&it, &item)) {
		xbuf_reset(&val);
		xbuf_reset(&e);
		int rc = o->env ? xp_expand(o->env, xbuf_sv(&item), &val, &e) : XP_OK;
		if (!o->env)
			xbuf_putsv(&val, xbuf_sv(&item));
		if (rc == XP_ERROR)
			return expand_fail(o, err, errnum, &e);
		if (rc == XP_OK)
			*list = rm_add(a, *list, xbuf_sv(&val));
	}
	return true;
}

/* Envelope-to: the original (top-level) address of each address in the batch, once each. */
static void envelope_to(arena *a, const tp_write_opts *o, xbuf *out)
{
	xbuf_puts(out, "Envelope-to: ");
	const address_item **seen = NULL;
	size_t nseen = 0, cap = 0;
	bool first = true;
	for (const address_item *p = o->addrs; p; p = p->next) {
		const address_item *top = p;
		while (top->parent)
			top = top->parent;
		bool dup = false;
		for (size_t i = 0; i < nseen && !dup; i++)
			dup = seen[i] == top;
		if (dup)
			continue;
		if (nseen == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			seen = arena_realloc(a, seen, cap * sizeof *seen, ncap * sizeof *seen);
			cap = ncap;
		}
		seen[nseen++] = top;
		if (!first)
			xbuf_puts(out, ",\n ");
		first = false;
		xbuf_putsv(out, top->address);
	}
	xbuf_putc(out, '\n');
}

bool tpw_build_headers(arena *a, const tp_write_opts *o, unsigned flags, xbuf *out, xbuf *err,
	int *errnum)
{
	*errnum = 0;
	if (flags & TPW_RETURN_PATH) {
		sv rp = o->return_path.len ? o->return_path : o->m->sender;
		xbuf_puts(out, "Return-path: <");
		xbuf_putsv(out, rp);
		xbuf_puts(out, ">\n");
	}
	if (flags & TPW_ENVELOPE_TO)
		envelope_to(a, o, out);
	if (flags & TPW_DELIVERY_DATE) {
		xbuf_puts(out, "Delivery-date: ");
		tod_format_time(TOD_FULL, time(NULL), 0, out);
		xbuf_putc(out, '\n');
	}

	rm_item *removes = NULL;
	if (!transport_removes(a, o, &removes, err, errnum))
		return false;
	if (o->addrs && o->addrs->headers_remove.len) {
		/* The routers' items were expanded when routing. */
		list_iter it;
		list_iter_init(&it, o->addrs->headers_remove, ':');
		xbuf item;
		xbuf_init(&item, a);
		while (list_next(&it, &item))
			removes = rm_add(a, removes, xbuf_sv(&item));
	}

	const conf_rewrite_rule *rules = NULL;
	const char *rw = o->t ? tp_opt_str(o->t, "headers_rewrite") : NULL;
	if (rw && *rw) {
		xbuf e;
		xbuf_init(&e, a);
		rules = rewrite_parse(a, rw, &e);
		if (!rules && e.len) {
			xbuf_printf(err, "headers_rewrite of %s transport: %s", o->t->name, xbuf_cstr(&e));
			*errnum = ADDR_ERRNO_UNKNOWN;
			return false;
		}
	}

	for (const msg_header *h = o->m->headers; h; h = h->next) {
		if (h->type == '*' || rm_matches(removes, h->text))
			continue;
		sv text = h->text, nt;
		if (rules && rewrite_header_line(a, rules, h->type, text, o->env, &nt))
			text = nt;
		xbuf_putsv(out, text);
	}

	if (o->addrs && o->addrs->headers_add.len) {
		xbuf_putsv(out, o->addrs->headers_add);
		if (o->addrs->headers_add.p[o->addrs->headers_add.len - 1] != '\n')
			xbuf_putc(out, '\n');
	}

	const char *add = o->t ? tp_opt_str(o->t, "headers_add") : NULL;
	if (add) {
		list_iter it;
		list_iter_init(&it, sv_cstr(add), '\n');
		xbuf item, val, e;
		xbuf_init(&item, a);
		xbuf_init(&val, a);
		xbuf_init(&e, a);
		while (list_next(&it, &item)) {
			xbuf_reset(&val);
			xbuf_reset(&e);
			int rc = XP_OK;
			if (o->env)
				rc = xp_expand(o->env, xbuf_sv(&item), &val, &e);
			else
				xbuf_putsv(&val, xbuf_sv(&item));
			if (rc == XP_ERROR)
				return expand_fail(o, err, errnum, &e);
			if (rc != XP_OK || !val.len)
				continue;
			xbuf_putsv(out, xbuf_sv(&val));
			if (val.p[val.len - 1] != '\n')
				xbuf_putc(out, '\n');
		}
	}
	xbuf_putc(out, '\n');
	return true;
}
