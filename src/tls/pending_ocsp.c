/* Temporary fail-closed definitions until the OCSP work lands (delete with its commit):
 * nothing is stapled, and a client that requires a staple fails. */
#include "tls/tls_ocsp.h"

bool tls_ocsp_server_setup(SSL_CTX *ctx, msg_origin *o, xbuf *err)
{
	(void)ctx; (void)err;
	o->tls_ocsp = TLS_OCSP_NOT_REQUESTED;
	return true;
}

bool tls_ocsp_client_setup(SSL *ssl, bool require, int *status, xbuf *err)
{
	(void)ssl;
	*status = TLS_OCSP_NOT_REQUESTED;
	if (require) {
		xbuf_puts(err, "OCSP checking is not available");
		return false;
	}
	return true;
}
