/* TEMPORARY link seam (session 3): definitions of the queue functions until their owner lands them.
 * Each fails closed and says so in the panic log. The owner deletes this file (and its line in
 * src/core/meson.build) when the real implementation lands. */
#include "core/queue.h"

#include "lib/log.h"

void queue_schedule_note(const spool_config *sc, const char *id, time_t due, bool frozen) { (void)sc; (void)id; (void)due; (void)frozen; }
void queue_schedule_forget(const spool_config *sc, const char *id) { (void)sc; (void)id; }
long queue_run(const spool_config *sc, const queue_run_opts *o)
{
	(void)sc; (void)o;
	log_write(LOG_MAIN | LOG_PANIC, "queue runs not built yet");
	return 0;
}
