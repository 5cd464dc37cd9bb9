/* TEMPORARY link seam (session 3): definitions of the delivery process functions until their owner lands them.
 * Each fails closed and says so in the panic log. The owner deletes this file (and its line in
 * src/core/meson.build) when the real implementation lands. */
#include "core/deliver.h"

#include "lib/log.h"

deliver_rc deliver_message(const spool_config *sc, const char *id, const deliver_opts *o)
{
	(void)sc; (void)o;
	log_write(LOG_MAIN | LOG_PANIC, "%s: delivery process not built yet", id);
	return DELIVER_NOT_ATTEMPTED;
}
void deliver_start_background(const spool_config *sc, const char *id, const deliver_opts *o) { (void)sc; (void)id; (void)o; }
time_t deliver_next_due(void) { return 0; }
