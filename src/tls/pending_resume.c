/* Temporary definitions until the resumption work lands (delete with its commit): no tickets
 * are issued and no session is offered or stored. */
#include "tls/tls_resume.h"

bool tls_resume_server_setup(SSL_CTX *ctx, msg_origin *o, xbuf *err)
{
	(void)o; (void)err;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return true;
}

unsigned tls_resume_server_result(SSL *ssl)
{
	(void)ssl;
	return TLS_RESUME_SUPPORTED;
}

const char *tls_resume_client_key(arena *a, const tls_resume_peer *peer)
{
	(void)peer;
	return arena_strdup(a, "");
}

void tls_resume_client_setup(SSL *ssl, const char *key)
{
	(void)key;
	SSL_set_options(ssl, SSL_OP_NO_TICKET);
}

unsigned tls_resume_client_result(SSL *ssl)
{
	(void)ssl;
	return TLS_RESUME_SUPPORTED;
}
