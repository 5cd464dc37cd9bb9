/* OCSP stapling, server side: tls_ocsp_file.
 *
 * OpenSSL calls the status callback only when the client asked for a staple, after the
 * ClientHello was read and the certificate to send was chosen, so tls_ocsp_file is expanded
 * there, with $tls_in_sni known (as tls_certificate is). The option is a list of files; each item
 * may start with "PEM " or "DER " (the format then holds for later items too; DER by default), and
 * a PEM file may hold several responses. Every response is considered and the one that is about
 * the certificate being sent and is current is stapled: the list's order does not have to match
 * tls_certificate's for the right one to be found, and a stale or foreign response is never sent
 * (the client would reject it, or worse, a client that checks less would accept it).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"
#include "lib/debug.h"
#include "lib/list.h"
#include "lib/log.h"
#include "tls/tls_int.h"
#include "tls/tls_ocsp.h"
#include "tls/tls_ocsp_file.h"
#include "tls/tls_ocsp_int.h"

/* The response to staple for leaf from one file, as a DER copy in *out (OPENSSL_malloc'd). */
static bool pick_from_file(const char *path, bool pem, X509 *leaf, X509 *issuer, time_t now,
	unsigned char **out, int *outlen)
{
	tls_ocsp_responses rs;
	xbuf why;
	xbuf_init(&why, pool_conn);
	if (!tls_ocsp_file_load(path, pem, &rs, &why)) {
		DEBUG(D_TLS) debug_printf("tls_ocsp_file %s: %s\n", path, xbuf_cstr(&why));
		return false;
	}
	bool found = false;
	for (size_t i = 0; i < rs.n && !found; i++) {
		xbuf_reset(&why);
		OCSP_BASICRESP *bs = OCSP_response_get1_basic(rs.v[i]);
		OCSP_SINGLERESP *single = bs ? tls_ocsp_find_single(bs, leaf, issuer) : NULL;
		if (!single) {
			DEBUG(D_TLS) debug_printf("tls_ocsp_file %s: response %zu is not for the certificate sent\n", path, i + 1);
		} else if (!tls_ocsp_single_current(single, now, NULL, NULL)) {
			DEBUG(D_TLS) debug_printf("tls_ocsp_file %s: response %zu is not current (or lacks nextUpdate)\n", path, i + 1);
		} else {
			unsigned char *der = NULL;
			int len = i2d_OCSP_RESPONSE(rs.v[i], &der);
			if (len > 0) {
				*out = der;
				*outlen = len;
				found = true;
			}
		}
		OCSP_BASICRESP_free(bs);
	}
	tls_ocsp_responses_free(&rs);
	ERR_clear_error();
	return found;
}

static int status_callback(SSL *ssl, void *arg)
{
	msg_origin *o = arg;
	o->tls_ocsp = TLS_OCSP_NOT_RESPONDED;   /* asked; stays so unless something is stapled */
	X509 *leaf = SSL_get_certificate(ssl);
	if (!leaf) return SSL_TLSEXT_ERR_NOACK;
	xbuf err;
	xbuf_init(&err, pool_conn);
	const char *files = tls_expand_option(conf_main.tls_ocsp_file, "tls_ocsp_file", o, &err);
	if (!files) {
		log_write(LOG_MAIN, "TLS error: %s", xbuf_cstr(&err));
		return SSL_TLSEXT_ERR_NOACK;
	}
	if (!*files) return SSL_TLSEXT_ERR_NOACK;
	STACK_OF(X509) *chain = NULL;
	SSL_get0_chain_certs(ssl, &chain);
	X509 *issuer = tls_ocsp_find_issuer(leaf, chain, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)));
	time_t now = time(NULL);
	list_iter it;
	list_iter_init(&it, sv_cstr(files), 0);
	xbuf item;
	xbuf_init(&item, pool_conn);
	bool pem = false;
	unsigned char *der = NULL;
	int len = 0;
	while (list_next(&it, &item)) {
		const char *path = tls_ocsp_file_item(xbuf_cstr(&item), &pem);
		if (*path && pick_from_file(path, pem, leaf, issuer, now, &der, &len)) break;
	}
	X509_free(issuer);
	if (!der) return SSL_TLSEXT_ERR_NOACK;
	SSL_set_tlsext_status_ocsp_resp(ssl, der, len);   /* OpenSSL owns der now */
	o->tls_ocsp = TLS_OCSP_VERIFIED;
	return SSL_TLSEXT_ERR_OK;
}

bool tls_ocsp_server_setup(SSL_CTX *ctx, msg_origin *o, xbuf *err)
{
	(void)err;
	o->tls_ocsp = TLS_OCSP_NOT_REQUESTED;
	if (!conf_main.tls_ocsp_file || !*conf_main.tls_ocsp_file) return true;
	SSL_CTX_set_tlsext_status_cb(ctx, status_callback);
	SSL_CTX_set_tlsext_status_arg(ctx, o);
	return true;
}
