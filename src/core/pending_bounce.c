/* TEMPORARY link seam (session 3): definitions of the bounce and submission functions until their owner lands them.
 * Each fails closed and says so in the panic log. The owner deletes this file (and its line in
 * src/core/meson.build) when the real implementation lands. */
#include "core/bounce.h"
#include "core/submit.h"

#include "lib/log.h"

bool submit_message(const spool_config *sc, const submit_request *r, char id_out[MSG_ID_LEN + 1], xbuf *err)
{
	(void)sc; (void)r; id_out[0] = 0;
	xbuf_puts(err, "internal message submission not built yet");
	return false;
}
bool bounce_format_failure(const message *m, int data_fd, const address_item *failed, sv to, xbuf *out, xbuf *err)
{
	(void)m; (void)data_fd; (void)failed; (void)to; (void)out;
	xbuf_puts(err, "bounces not built yet");
	return false;
}
bool bounce_send_failure(const spool_config *sc, const message *m, int data_fd,
	const address_item *failed, sv to, char new_id[MSG_ID_LEN + 1], xbuf *err)
{
	(void)sc; (void)m; (void)data_fd; (void)failed; (void)to;
	if (new_id) new_id[0] = 0;
	xbuf_puts(err, "bounces not built yet");
	return false;
}
bool bounce_maybe_warn(const spool_config *sc, message *m, int data_fd, const address_item *deferred, time_t now, xbuf *err)
{
	(void)sc; (void)m; (void)data_fd; (void)deferred; (void)now; (void)err;
	return true;
}
bool bounce_send_success_dsn(const spool_config *sc, const message *m, int data_fd, const address_item *delivered, xbuf *err)
{
	(void)sc; (void)m; (void)data_fd; (void)delivered;
	xbuf_puts(err, "DSNs not built yet");
	return false;
}
