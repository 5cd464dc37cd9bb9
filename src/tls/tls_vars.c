/* What a finished handshake leaves behind: the origin's tls_* fields, from which $tls_in_*,
 * the <= line's X=/CV=/DN=/SNI= and the spool's -tls_* lines are made.
 *
 * Names follow Exim built with OpenSSL: the version as OpenSSL names it without the "v"
 * ("TLS1.3"), and the cipher as "<version>:<OpenSSL cipher name>:<secret bits>", e.g.
 * "TLS1.3:TLS_AES_256_GCM_SHA384:256". (Debian's Exim uses GnuTLS, whose names differ.)
 */
#include <string.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"
#include "tls/tls_int.h"

sv tls_cert_pem(arena *a, X509 *cert)
{
	if (!cert) return SV_NULL;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b) return SV_NULL;
	sv out = SV_NULL;
	if (PEM_write_bio_X509(b, cert) == 1) {
		char *p;
		long n = BIO_get_mem_data(b, &p);
		if (n > 0) out = sv_make(arena_strndup(a, p, (size_t)n), (size_t)n);
	}
	BIO_free(b);
	return out;
}

void tls_record_session(SSL *ssl, msg_origin *o)
{
	tls_session_names(pool_conn, ssl, &o->tls_ver, &o->tls_cipher, NULL);
	o->tls_ourcert = tls_cert_pem(pool_conn, SSL_get_certificate(ssl));
	X509 *peer = SSL_get1_peer_certificate(ssl);
	if (peer) {
		/* The DN in OpenSSL's one-line form ("/C=../CN=.."), as Exim's OpenSSL build logs it. */
		char dn[1024];
		X509_NAME_oneline(X509_get_subject_name(peer), dn, sizeof dn);
		o->tls_peerdn = sv_tainted(sv_cstr(arena_strdup(pool_conn, dn)));
		o->tls_peercert = sv_tainted(tls_cert_pem(pool_conn, peer));
		o->tls_certificate_verified = SSL_get_verify_result(ssl) == X509_V_OK;
		X509_free(peer);
	}
}
