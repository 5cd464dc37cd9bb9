/* ACL "verify = recipient" and "verify = sender" through the router chain (Exim 4.96 "Access
 * control lists": address verification), followed by a callout (core/callout.h) when the
 * options ask for one and the address routed to remote hosts. */
#include <string.h>

#include "conf/conf.h"
#include "core/callout.h"
#include "core/route_verify.h"
#include "lib/list.h"

static bool has_option(sv options, const char *name)
{
	list_iter it;
	list_iter_init(&it, options, '/');
	xbuf item;
	xbuf_init(&item, pool_scratch);
	arena_mark m = arena_getmark(pool_scratch);
	bool found = false;
	while (!found && list_next(&it, &item))
		found = sv_eq_cstr(xbuf_sv(&item), name);
	arena_reset(pool_scratch, m);
	return found;
}

/* An unqualified address gets qualify_recipient / qualify_domain, as Exim qualifies addresses
 * before verifying them. */
static sv qualified(arena *a, sv address, bool recipient)
{
	if (memchr(address.p, '@', address.len))
		return address;
	const char *q = recipient ? conf_main_string("qualify_recipient") : NULL;
	if (!q || !*q)
		q = conf_main_string("qualify_domain");
	if (!q || !*q)
		q = conf_main_string("primary_hostname");
	xbuf b;
	xbuf_init(&b, a);
	xbuf_putsv(&b, address);
	xbuf_putc(&b, '@');
	xbuf_puts(&b, q ? q : "");
	return xbuf_sv(&b);
}

/* The address whose failure decides the result: the first failure, else the first deferral. */
static const address_item *deciding(const route_ctx *rc)
{
	const address_item *last = NULL;
	/* Lists are newest first: the last element is the first decided. */
	for (const address_item *x = rc->res.failed; x; x = x->next)
		last = x;
	if (last)
		return last;
	for (const address_item *x = rc->res.deferred; x; x = x->next)
		last = x;
	return last;
}

acl_result route_verify(xp_env *env, arena *a, sv sender, bool recipient, sv address, sv options,
	xbuf *user_msg, xbuf *log_msg, bool *empty_text, route_log_fn *log, void *log_ctx)
{
	if (empty_text)
		*empty_text = false;
	route_ctx rc;
	route_ctx_init(&rc, a, env, recipient ? ROUTE_MODE_VERIFY_RECIPIENT : ROUTE_MODE_VERIFY_SENDER, sender);
	rc.log_main = log;
	rc.log_ctx = log_ctx;
	rc.verify = true;
	rc.success_on_redirect = has_option(options, "success_on_redirect");
	xbuf host, err;
	xbuf_init(&host, a);
	xbuf_init(&err, a);
	if (xp_expand(env, SV_LIT("$sender_fullhost"), &host, &err) == XP_OK)
		rc.verify_host = xbuf_sv(&host);
	address_item *top = route_new_address(a, qualified(a, address, recipient));
	route_rc r = route_chain(&rc, top);
	callout_note_failure(env, recipient, NULL);
	if (r == ROUTE_OK) {
		/* The options were checked by the ACL (acl_verify.c), so mailfrom= is let through. */
		callout_opts co;
		xbuf cerr;
		xbuf_init(&cerr, a);
		if (!callout_opts_parse(options, true, options, &co, &cerr) || !co.enabled)
			return ACL_OK;
		const address_item *routed = rc.res.remote;
		if (!routed)
			return ACL_OK;   /* routed to a local transport: nothing to call */
		return callout_verify(env, a, routed, routed->address, sender, recipient, &co, user_msg, log_msg);
	}
	callout_note_failure(env, recipient, "route");
	const address_item *d = deciding(&rc);
	/* A text set but empty (":fail:" alone) stays empty, unlike no text at all. */
	sv msg = d && d->message.p ? d->message : SV_LIT("Unrouteable address");
	sv umsg = d && d->user_message.p ? d->user_message : msg;
	if (r == ROUTE_FAIL) {
		xbuf_putsv(user_msg, umsg);
		xbuf_putsv(log_msg, msg);
		if (empty_text)
			*empty_text = !umsg.len;
		return ACL_FAIL;
	}
	/* A deferral tells the client only a router's own text (:defer: data); other details stay
	 * in the log. */
	if (d && d->user_message.p)
		xbuf_putsv(user_msg, d->user_message);
	xbuf_putsv(log_msg, msg);
	if (empty_text)
		*empty_text = d && d->user_message.p && !d->user_message.len && !msg.len;
	return ACL_DEFER;
}

/* Exim's cutthrough setup routes each accepted recipient again (a verification without its
 * texts): the number of addresses the routing ended in tells whether a single delivery could
 * carry on through. */
acl_result route_cutthrough(xp_env *env, arena *a, sv sender, sv address, route_log_fn *log, void *log_ctx,
	size_t *routed)
{
	route_ctx rc;
	route_ctx_init(&rc, a, env, ROUTE_MODE_VERIFY_RECIPIENT, sender);
	rc.log_main = log;
	rc.log_ctx = log_ctx;
	rc.verify = true;
	xbuf host, err;
	xbuf_init(&host, a);
	xbuf_init(&err, a);
	if (xp_expand(env, SV_LIT("$sender_fullhost"), &host, &err) == XP_OK)
		rc.verify_host = xbuf_sv(&host);
	route_rc r = route_chain(&rc, route_new_address(a, qualified(a, address, true)));
	*routed = 0;
	for (const address_item *x = rc.res.local; x; x = x->next)
		(*routed)++;
	for (const address_item *x = rc.res.remote; x; x = x->next)
		(*routed)++;
	for (const address_item *x = rc.res.pfr; x; x = x->next)
		(*routed)++;
	if (r == ROUTE_OK || r == ROUTE_DISCARD)
		return ACL_OK;
	return r == ROUTE_FAIL || r == ROUTE_DECLINE ? ACL_FAIL : ACL_DEFER;
}

acl_result route_expn(xp_env *env, arena *a, sv address, xbuf *out, sv *qualified_address)
{
	route_ctx rc;
	route_ctx_init(&rc, a, env, ROUTE_MODE_EXPN, SV_NULL);
	address_item *top = route_new_address(a, qualified(a, address, true));
	*qualified_address = top->address;
	route_rc r = route_address(&rc, top);
	if (r == ROUTE_REROUTED) {
		/* The redirect router queues the children in the order its data gave them. */
		size_t i = 0;
		for (const address_item *k = rc.queue; k; k = k->next, i++)
			xbuf_printf(out, "%s<" SV_FMT ">", i ? "\n" : "", SV_ARG(k->address));
		return ACL_OK;
	}
	if (r == ROUTE_OK || r == ROUTE_DISCARD) {
		xbuf_printf(out, "<" SV_FMT ">", SV_ARG(top->address));
		return ACL_OK;
	}
	return r == ROUTE_FAIL || r == ROUTE_DECLINE ? ACL_FAIL : ACL_DEFER;
}

acl_result route_verify_address(void *ctx, bool recipient, sv address, sv options, xbuf *user_msg,
	xbuf *log_msg, bool *empty_text)
{
	route_verify_ctx *v = ctx;
	return route_verify(v->env, v->a, v->sender, recipient, address, options, user_msg, log_msg,
		empty_text, v->log, v->log_ctx);
}

static bool forward_body(void *ctx, sv *body)
{
	route_verify_ctx *v = ctx;
	return v->body && v->body(v->body_ctx, body);
}

static void forward_log(void *ctx, unsigned which, const char *text)
{
	route_verify_ctx *v = ctx;
	v->log(v->log_ctx, which, text);
}

void route_acl_ops_init(acl_ops *ops, route_verify_ctx *v, xp_env *env, arena *a, sv sender,
	bool (*body)(void *ctx, sv *body), void *body_ctx, route_log_fn *log, void *log_ctx)
{
	memset(v, 0, sizeof *v);
	memset(ops, 0, sizeof *ops);
	v->env = env;
	v->a = a;
	v->sender = sender;
	v->body = body;
	v->body_ctx = body_ctx;
	v->log = log;
	v->log_ctx = log_ctx;
	ops->verify_address = route_verify_address;
	ops->body = forward_body;
	if (log)
		ops->log = forward_log;
}
