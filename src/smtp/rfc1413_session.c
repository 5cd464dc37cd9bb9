/* The SMTP server's use of RFC 1413 ident (rfc1413.h): rfc1413_hosts, rfc1413_query_timeout,
 * the ident_timeout log line, and the ident in the session's host identification (U=). */
#include "conf/main_options.h"
#include "lib/log.h"
#include "lib/logsel.h"
#include "smtp/rfc1413.h"
#include "smtp/session_int.h"

/* rfc1413_hosts: Exim asks the client's identd before host_reject_connection and PROXY. */
void rfc1413_session_lookup(smtp_session *s)
{
	msg_origin *o = &s->origin;
	if (s->mode != SMTP_MODE_DAEMON || conf_main.rfc1413_query_timeout <= 0 || !o->host_address.len
		|| !o->interface_address.len || !sess_host_in(s, conf_main.rfc1413_hosts))
		return;
	sv id = SV_NULL;
	rfc1413_rc rc = rfc1413_query(o->interface_address, o->interface_port, o->host_address, o->host_port,
		conf_main.rfc1413_query_timeout, conf_main.print_topbitchars, s->conn, &id);
	const log_config *lc = log_current_config();
	if (rc == RFC1413_CONNECT_TIMEOUT && lc && logsel_has(&lc->selector, LS_IDENT_TIMEOUT))
		sess_log(s, LOG_MAIN, "ident connection to " SV_FMT " timed out", SV_ARG(o->host_address));
	if (rc != RFC1413_OK) return;
	/* Untainted, as in Exim 4.96: it keeps the identd's answer in a buffer of its own (made
	 * printable, at most 127 bytes), so the -H file has "-ident" where -oMt gives "--ident". */
	id.taint = 0;
	o->ident = id;
	sess_update_host_ident(s);
}
