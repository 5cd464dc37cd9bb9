/* A pre-forked session process serving its next connection (daemon_pool.c): how many
 * connections one process may serve, and the reset of all per-connection state between two.
 *
 * Which file-level state is per process, per connection or per message, and why each
 * per-connection piece is reset where it is, is listed in docs/architecture.md ("State a reused
 * session process must not keep"). The rule: whatever a connection could observe of the one
 * before it (variables, counts, lookup results, DNS answers, TLS state, the log identity) is
 * dropped here; what is the same for every connection of this configuration (the parsed
 * configuration and its ACLs, the TLS context, the schedule index, the login name, spare spool
 * files) is kept. The session itself and its ACL variables live in one struct that
 * smtp_session_run clears at its start.
 */
#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/acl.h"
#include "core/dns.h"
#include "core/tls_out.h"
#include "expand/readsock_tls.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "prog/daemon_internal.h"
#include "search/search.h"
#include "smtp/session.h"
#if SUPPORT_TLS
#include "tls/tls.h"
#endif

unsigned daemon_reuse_limit(void)
{
	int n = conf_main.smtp_accept_process_reuse;
	return n > 1 ? (unsigned)n : 1;
}

bool daemon_reuse_reset(void)
{
	bool reusable = true;
	daemon_accept_reset();
	smtp_session_reset();
	log_set_id(NULL);
	/* Lookup files are closed and their cached results (and named-list results) dropped, as
	 * Exim's search_tidyup at the end of a connection: a file changed meanwhile is read anew. */
	search_reset_connection();
	/* DNS answers and ${readsocket} cache=yes answers: in Exim they live no longer than the
	 * process, which is one connection's. */
	dns_cache_flush();
	xp_readsock_cache_clear();
	/* An ACL file is read again by the next connection, as by Exim's next process. */
	acl_cache_drop_files();
	/* $tls_out_* of a callout's TLS session (process-wide, as in Exim; its strings were in
	 * pool_conn). */
	tls_out_clear();
#if SUPPORT_TLS
	reusable = tls_server_conn_reset();
#endif
	/* What lasted for the connection and its messages (the session's buffers, $acl_c*, the
	 * host name, a message's headers): nothing points there any more. */
	arena_clear(pool_msg);
	arena_clear(pool_conn);
	return reusable;
}
