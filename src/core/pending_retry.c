/* TEMPORARY link seam (session 3): definitions of the event functions until their owner lands them.
 * Each fails closed and says so in the panic log. The owner deletes this file (and its line in
 * src/core/meson.build) when the real implementation lands. */
#include "core/retry.h"
#include "core/event.h"

#include "lib/log.h"

const char *event_action_for(const driver_instance *transport, const char *event_name)
{
	(void)transport; (void)event_name;
	return NULL;
}
void event_raise(const char *action, const char *where, const char *name, sv data,
	const event_vars *v, xp_env *base, xbuf *result)
{
	(void)action; (void)where; (void)name; (void)data; (void)v; (void)base;
	xbuf_reset(result);
}
void event_raise_for(const driver_instance *transport, const char *name, sv data,
	const event_vars *v, xp_env *base, xbuf *result)
{
	(void)transport; (void)name; (void)data; (void)v; (void)base;
	xbuf_reset(result);
}
