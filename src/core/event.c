/* Event actions (facts §13; docs/events.md): which option applies to an event, and raising it
 * in an expansion environment of its own.
 *
 * The environment: an event provider on top (answers $event_*, the TPDA names, $host*,
 * $sending_*, $transport_name, $router_name, and, when the event has no address, every
 * per-address variable as empty), then the address's own variables (when there is one), then the
 * caller's message-level providers (base) or the message's variables. So msg:complete never sees
 * the last delivered address's values, as it does in Exim.
 *
 * ${acl {name}} in an action runs the ACL in the event's environment (an ACL context of its own,
 * at the "delivery" stage), so the ACL sees $event_name and the rest.
 */
#include "core/event.h"

#include <stdio.h>
#include <string.h>

#include "conf/main_options.h"
#include "core/acl.h"
#include "core/transport.h"
#include "lib/log.h"

/* ---- which action ---- */

/* A transport's private option of that name (tpda_host_defer_action is smtp's own). */
static const char *private_str(const driver_instance *t, const char *name)
{
	if (!t || !t->info || !t->priv)
		return NULL;
	const opt_row *row = opt_find(t->info->options, t->info->noptions, name);
	if (!row || row->type != OPT_STRING)
		return NULL;
	const char *v;
	memcpy(&v, (const char *)t->priv + row->offset, sizeof v);
	return v;
}

/* Which option supplied the action, for the failure log line. */
typedef enum action_source { SRC_NONE, SRC_EVENT, SRC_TPDA_DELIVERY, SRC_TPDA_HOST_DEFER } action_source;

static const char *action_for(const driver_instance *t, const char *event_name, action_source *src)
{
	*src = SRC_EVENT;
	if (!t) {
		/* tpda_event_action and delivery_event_action are aliases of this option */
		const char *v = conf_main.event_action;
		if (!v)
			*src = SRC_NONE;
		return v;
	}
	const char *v = tp_opt_str(t, "event_action");  /* or its aliases, which share it */
	if (v)
		return v;
	/* Generation 1: one option per event, the transport's only. */
	if (event_name && strcmp(event_name, "msg:delivery") == 0 && (v = tp_opt_str(t, "tpda_delivery_action"))) {
		*src = SRC_TPDA_DELIVERY;
		return v;
	}
	if (event_name && strcmp(event_name, "msg:host:defer") == 0 &&
		(v = private_str(t, "tpda_host_defer_action"))) {
		*src = SRC_TPDA_HOST_DEFER;
		return v;
	}
	*src = SRC_NONE;
	return NULL;
}

const char *event_action_for(const driver_instance *transport, const char *event_name)
{
	action_source src;
	return action_for(transport, event_name, &src);
}

/* ---- the environment ---- */

typedef struct event_provider {
	xp_provider p;
	const char *name;
	sv data;
	const event_vars *v;
} event_provider;

static bool put(xbuf *out, sv v)
{
	if (!sv_is_null(v))
		xbuf_putsv(out, v);
	return true;
}

static bool put_int(xbuf *out, int n)
{
	xbuf_printf(out, "%d", n);
	return true;
}

/* Per-address variables an event without an address shows as empty. */
static const char *const address_names[] = {
	"local_part", "domain", "local_part_prefix", "local_part_prefix_v", "local_part_suffix",
	"local_part_suffix_v", "address_data", "domain_data", "local_part_data", "home",
	"original_local_part", "original_domain", "parent_local_part", "parent_domain",
	"local_user_uid", "local_user_gid", "address_file", "address_pipe",
};

static bool event_var(void *ctx, sv name, xbuf *out)
{
	const event_provider *e = ctx;
	const event_vars *v = e->v;
	const address_item *a = v ? v->addr : NULL;
	if (sv_eq_cstr(name, "event_name") || sv_eq_cstr(name, "tpda_event"))
		return put(out, sv_cstr(e->name));
	if (sv_eq_cstr(name, "event_data") || sv_eq_cstr(name, "tpda_data"))
		return put(out, e->data);
	if (sv_eq_cstr(name, "event_defer_errno") || sv_eq_cstr(name, "tpda_defer_errno"))
		return put_int(out, v ? v->defer_errno : 0);
	if (sv_eq_cstr(name, "tpda_defer_errstr"))
		return put(out, v ? v->defer_errstr : SV_NULL);
	if (sv_eq_cstr(name, "host") || sv_eq_cstr(name, "tpda_delivery_fqdn"))
		return put(out, v ? v->host : SV_NULL);
	if (sv_eq_cstr(name, "host_address") || sv_eq_cstr(name, "tpda_delivery_ip"))
		return put(out, v ? v->host_address : SV_NULL);
	if (sv_eq_cstr(name, "host_port") || sv_eq_cstr(name, "tpda_delivery_port"))
		return put_int(out, v ? v->host_port : 0);
	if (sv_eq_cstr(name, "sending_ip_address"))
		return put(out, v ? v->sending_ip : SV_NULL);
	if (sv_eq_cstr(name, "sending_port"))
		return put_int(out, v ? v->sending_port : 0);
	if (sv_eq_cstr(name, "transport_name"))
		return put(out, v && v->transport_name ? sv_cstr(v->transport_name) : SV_NULL);
	/* Exim 4.96 shows the router only for the message events (msg:...); during tcp: and smtp:
	 * events $router_name is empty while $local_part still names the first address. */
	if (sv_eq_cstr(name, "router_name"))
		return put(out, a && a->router && strncmp(e->name, "msg:", 4) == 0 ? sv_cstr(a->router->name) : SV_NULL);
	if (sv_eq_cstr(name, "tpda_delivery_local_part"))
		return put(out, a ? a->local_part : SV_NULL);
	if (sv_eq_cstr(name, "tpda_delivery_domain"))
		return put(out, a ? a->domain : SV_NULL);
	if (sv_eq_cstr(name, "tpda_delivery_confirmation"))
		return put(out, a && a->confirmation.len ? a->confirmation : e->data);
	if (!a)
		for (size_t i = 0; i < sizeof address_names / sizeof address_names[0]; i++)
			if (sv_eq_cstr(name, address_names[i]))
				return true;
	return false;
}

/* ---- raising ---- */

static void raise_event(const char *action, action_source src, const char *where, const char *name,
	sv data, const event_vars *v, xp_env *base, xbuf *result)
{
	xbuf_reset(result);
	if (!action)
		return;
	arena *a = arena_new("event");
	xp_env env;
	xp_env_init(&env, a);
	message_vars mv;
	if (base) {
		env.state = base->state;
		env.msg = base->msg;
		env.providers = base->providers;
		env.forbid = base->forbid;
		env.aclvars = base->aclvars;
	} else if (v && v->m) {
		message_vars_init(&mv, v->m, NULL);
		xp_env_push_provider(&env, &mv.p);
	}
	if (!env.state)
		env.state = a;
	xp_provider addr_p;
	if (v && v->addr)
		route_vars_push(&env, &addr_p, v->addr);
	event_provider ep = { .p = { .get = event_var }, .name = name, .data = data, .v = v };
	ep.p.ctx = &ep;
	xp_env_push_provider(&env, &ep.p);

	/* ${acl} and ${if acl} run with this environment. */
	acl_ctx ac;
	acl_ctx_init(&ac, a, ACL_WHERE_DELIVERY, &env);
	ac.msg = v ? (message *)v->m : NULL;
	xp_hooks hooks;
	if (base && base->hooks)
		hooks = *base->hooks;
	else
		memset(&hooks, 0, sizeof hooks);
	hooks.acl = acl_expand_hook;
	hooks.acl_cond = acl_cond_hook;
	hooks.ctx = &ac;
	env.hooks = &hooks;

	xbuf out, err;
	xbuf_init(&out, a);
	xbuf_init(&err, a);
	int rc = xp_expand(&env, sv_cstr(action), &out, &err);
	if (rc == XP_OK) {
		xbuf_putsv(result, xbuf_sv(&out));
	} else if (rc == XP_ERROR) {
		if (src == SRC_TPDA_DELIVERY)
			log_write(LOG_MAIN | LOG_PANIC, "failed to expand tpda_deliver_action in %s: %s", where,
				xbuf_cstr(&err));
		else if (src == SRC_TPDA_HOST_DEFER)
			log_write(LOG_MAIN | LOG_PANIC, "failed to expand tpda_host_defer_action in %s: %s", where,
				xbuf_cstr(&err));
		else
			log_write(LOG_MAIN | LOG_PANIC, "failed to expand event_action %s in %s: %s", name, where,
				xbuf_cstr(&err));
	}
	/* The first generation discarded what its actions said. */
	if (src == SRC_TPDA_DELIVERY || src == SRC_TPDA_HOST_DEFER)
		xbuf_reset(result);
	acl_ctx_release(&ac);
	if (env.state == a)
		env.state = NULL;
	xp_env_release(&env);
	arena_free(a);
}

void event_raise(const char *action, const char *where, const char *name, sv data,
	const event_vars *v, xp_env *base, xbuf *result)
{
	raise_event(action, SRC_EVENT, where, name, data, v, base, result);
}

void event_raise_for(const driver_instance *transport, const char *name, sv data,
	const event_vars *v, xp_env *base, xbuf *result)
{
	action_source src;
	const char *action = action_for(transport, name, &src);
	raise_event(action, src, transport ? transport->name : "main", name, data, v, base, result);
}
