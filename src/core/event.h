/* Event actions (facts §13): the main and transport event_action options, the older TPDA names
 * as aliases (tpda_delivery_action, tpda_host_defer_action, tpda_event_action,
 * delivery_event_action; $tpda_event, $tpda_data, $tpda_delivery_*, $tpda_defer_errno/errstr),
 * $event_name, $event_data, $event_defer_errno and the per-event variables.
 *
 * Each event expands in an environment of its own built from event_vars (plus the message's
 * variables), so a later event never sees stale per-address values (Exim's msg:complete does).
 */
#ifndef POSTERN_CORE_EVENT_H
#define POSTERN_CORE_EVENT_H

#include "conf/driver.h"
#include "core/addr.h"
#include "core/message.h"
#include "expand/expand.h"
#include "lib/str.h"

typedef struct event_vars {
	const message *m;             /* NULL: no message ($message_id etc. empty) */
	const address_item *addr;     /* $local_part, $domain, $address_data, $router_name ... */
	const char *transport_name;   /* $transport_name */
	sv host, host_address;        /* $host, $host_address */
	int host_port;                /* $host_port (0: unset) */
	sv sending_ip;                /* $sending_ip_address */
	int sending_port;
	int defer_errno;              /* $event_defer_errno */
	sv defer_errstr;              /* TPDA $tpda_defer_errstr */
} event_vars;

/* The action that applies: for a transport (NULL: main) its event_action, else its TPDA
 * alias for that event; the main event_action otherwise. NULL: none. */
const char *event_action_for(const driver_instance *transport, const char *event_name);

/* Raise event name with data: expand action (no-op when NULL) in the event's own environment
 * (base supplies message-level variables; may be NULL). The expansion result goes to result
 * (cleared first; empty: nothing to say). An expansion failure that is not forced is logged to
 * the main and panic logs in Exim's words ("failed to expand event_action <event> in <where>:
 * <msg>"), and the event counts as saying nothing. where: the transport's name or "main". */
void event_raise(const char *action, const char *where, const char *name, sv data,
	const event_vars *v, xp_env *base, xbuf *result);

/* The same, finding the action with event_action_for. */
void event_raise_for(const driver_instance *transport, const char *name, sv data,
	const event_vars *v, xp_env *base, xbuf *result);

#endif
