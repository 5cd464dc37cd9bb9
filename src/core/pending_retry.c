/* TEMPORARY link seam (session 3): definitions of the retry and event functions until their owner lands them.
 * Each fails closed and says so in the panic log. The owner deletes this file (and its line in
 * src/core/meson.build) when the real implementation lands. */
#include "core/retry.h"
#include "core/event.h"

#include "lib/log.h"

sv retry_host_key(arena *a, sv host_name, sv host_address, int port, const char *message_id)
{
	(void)a; (void)host_name; (void)host_address; (void)port; (void)message_id;
	return SV_NULL;
}
sv retry_address_key(arena *a, const address_item *addr, bool use_local_part)
{
	(void)a; (void)addr; (void)use_local_part;
	return SV_NULL;
}
sv retry_domain_key(arena *a, sv domain) { (void)a; (void)domain; return SV_NULL; }
const conf_retry_rule *retry_find_rule(sv subject, sv domain, int basic_errno, int more_errno, sv sender)
{
	(void)subject; (void)domain; (void)basic_errno; (void)more_errno; (void)sender;
	return NULL;
}
int retry_read(const char *spool_directory, sv key, retry_record *out, arena *a)
{
	(void)spool_directory; (void)key; (void)out; (void)a;
	return 0;
}
retry_due retry_check(const char *spool_directory, sv key, time_t now, bool forced, retry_record *rec_out, arena *a)
{
	(void)spool_directory; (void)key; (void)now; (void)forced; (void)rec_out; (void)a;
	return RETRY_DUE;
}
time_t retry_update(const char *spool_directory, address_item *addrs, const char *message_id, sv sender, time_t now)
{
	(void)spool_directory; (void)addrs; (void)message_id; (void)sender; (void)now;
	log_write(LOG_MAIN | LOG_PANIC, "retry records not built yet");
	return 0;
}
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
