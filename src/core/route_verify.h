/* Address verification for ACLs (verify = recipient, verify = sender) by the router chain.
 *
 * Two ways to use it:
 *  - call route_verify() from the caller's own acl_ops.verify_address callback;
 *  - or let route_acl_ops_init() fill an acl_ops and a route_verify_ctx, and pass the ctx as
 *    acl_ctx.ops_ctx (the caller's body callback is forwarded).
 * Routing uses the given environment (message/connection variables) plus the address's own
 * variables. A "/callout" option adds callout verification (core/callout.h) after routing.
 */
#ifndef POSTERN_CORE_ROUTE_VERIFY_H
#define POSTERN_CORE_ROUTE_VERIFY_H

#include "core/acl.h"
#include "core/addr.h"

/* Where log lines written while routing go (self = freeze, expansion failures): which is
 * LOG_MAIN or LOG_MAIN | LOG_PANIC. NULL: log_write (-bh callers show them on stderr instead). */
typedef void route_log_fn(void *ctx, unsigned which, const char *text);

/* ACL_OK verified; ACL_FAIL (user_msg: what the client is told, e.g. "Unrouteable address" or
 * a :fail: text; log_msg: the router's message); ACL_DEFER (user_msg only for a :defer: text;
 * log_msg the reason). *empty_text (may be NULL) is set when that text is empty on purpose (":fail:"
 * or ":defer:" alone: Exim answers "550 " and logs ": "), cleared otherwise. Everything routing
 * allocates goes to arena a (a scratch arena the caller resets afterwards is fine: the messages
 * are copied into user_msg and log_msg). */
acl_result route_verify(xp_env *env, arena *a, sv sender, bool recipient, sv address, sv options,
	xbuf *user_msg, xbuf *log_msg, bool *empty_text, route_log_fn *log, void *log_ctx);

/* control = cutthrough_delivery: route an accepted recipient once more. ACL_OK routed, *routed
 * the number of addresses it ended in; ACL_FAIL nothing accepted it; ACL_DEFER a router
 * deferred. */
acl_result route_cutthrough(xp_env *env, arena *a, sv sender, sv address, route_log_fn *log, void *log_ctx,
	size_t *routed);

/* EXPN (Exim 4.96: one level of redirection shown): route the qualified address once. ACL_OK:
 * out gets the lines to answer 250 with, "<child>" per address a redirection generated (pipes
 * and files included) or "<address>" itself when a router accepted it; ACL_FAIL: nothing
 * accepted it; ACL_DEFER: a router deferred. *qualified_address is what was routed. */
acl_result route_expn(xp_env *env, arena *a, sv address, xbuf *out, sv *qualified_address);

typedef struct route_verify_ctx {
	xp_env *env;
	arena *a;
	sv sender;                          /* envelope sender, for routers' "senders =" */
	bool (*body)(void *ctx, sv *body);  /* forwarded acl_ops.body */
	void *body_ctx;
	route_log_fn *log;                  /* may be NULL */
	void *log_ctx;
} route_verify_ctx;

/* Matches acl_ops.verify_address; ctx is a route_verify_ctx *. */
acl_result route_verify_address(void *ctx, bool recipient, sv address, sv options, xbuf *user_msg,
	xbuf *log_msg, bool *empty_text);
/* Fills all of *ops: verify_address, and body / log forwarding to the given callbacks (each may
 * be NULL); ctx for the ACL engine is v. */
void route_acl_ops_init(acl_ops *ops, route_verify_ctx *v, xp_env *env, arena *a, sv sender,
	bool (*body)(void *ctx, sv *body), void *body_ctx, route_log_fn *log, void *log_ctx);

#endif
