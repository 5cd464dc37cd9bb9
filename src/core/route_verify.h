/* Address verification for ACLs (verify = recipient, verify = sender) by the router chain.
 *
 * Two ways to use it:
 *  - call route_verify() from the caller's own acl_ops.verify_address callback;
 *  - or let route_acl_ops_init() fill an acl_ops and a route_verify_ctx, and pass the ctx as
 *    acl_ctx.ops_ctx (the caller's body callback is forwarded).
 * Routing uses the given environment (message/connection variables) plus the address's own
 * variables. No callouts yet: a "/callout" option is accepted and ignored.
 */
#ifndef POSTERN_CORE_ROUTE_VERIFY_H
#define POSTERN_CORE_ROUTE_VERIFY_H

#include "core/acl.h"
#include "core/addr.h"

/* ACL_OK verified; ACL_FAIL (user_msg: what the client is told, e.g. "Unrouteable address" or
 * a :fail: text; log_msg: the router's message); ACL_DEFER (log_msg only). */
acl_result route_verify(xp_env *env, arena *a, sv sender, bool recipient, sv address, sv options,
	xbuf *user_msg, xbuf *log_msg);

typedef struct route_verify_ctx {
	xp_env *env;
	arena *a;
	sv sender;                          /* envelope sender, for routers' "senders =" */
	bool (*body)(void *ctx, sv *body);  /* forwarded acl_ops.body */
	void *body_ctx;
} route_verify_ctx;

/* Matches acl_ops.verify_address; ctx is a route_verify_ctx *. */
acl_result route_verify_address(void *ctx, bool recipient, sv address, sv options, xbuf *user_msg,
	xbuf *log_msg);
void route_acl_ops_init(acl_ops *ops, route_verify_ctx *v, xp_env *env, arena *a, sv sender,
	bool (*body)(void *ctx, sv *body), void *body_ctx);

#endif
