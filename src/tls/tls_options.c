/* Server TLS options: ciphers, DH parameters, curves, and which clients must present a
 * certificate. Each is expanded per connection, as Exim expands them. */
#include <string.h>

#include <openssl/dh.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"
#include "search/match.h"
#include "search/search.h"
#include "tls/tls_int.h"

bool tls_apply_server_options(SSL_CTX *ctx, msg_origin *o, xbuf *err)
{
	const char *ciphers = tls_expand_option(conf_main.tls_require_ciphers, "tls_require_ciphers", o, err);
	if (!ciphers) return false;
	/* The OpenSSL cipher-list syntax, as Exim passes it; it governs TLS 1.2 and below (TLS 1.3
	 * suites keep OpenSSL's defaults). */
	if (*ciphers && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		tls_openssl_error(err, arena_printf(pool_conn, "SSL_CTX_set_cipher_list(%s)", ciphers));
		return false;
	}
	const char *curve = tls_expand_option(conf_main.tls_eccurve, "tls_eccurve", o, err);
	if (!curve) return false;
	/* "auto" (the default) leaves OpenSSL's own group list. */
	if (*curve && strcmp(curve, "auto") != 0 && SSL_CTX_set1_groups_list(ctx, curve) != 1) {
		tls_openssl_error(err, arena_printf(pool_conn, "tls_eccurve '%s'", curve));
		return false;
	}
	const char *dh = tls_expand_option(conf_main.tls_dhparam, "tls_dhparam", o, err);
	if (!dh) return false;
	if (!*dh || strcmp(dh, "none") == 0) {
		/* OpenSSL chooses a well-known group matching the certificate's strength. */
		if (!*dh) SSL_CTX_set_dh_auto(ctx, 1);
	} else if (*dh == '/') {
		BIO *b = BIO_new_file(dh, "r");
		EVP_PKEY *pkey = b ? PEM_read_bio_Parameters(b, NULL) : NULL;
		BIO_free(b);
		if (!pkey || SSL_CTX_set0_tmp_dh_pkey(ctx, pkey) != 1) {
			EVP_PKEY_free(pkey);
			tls_openssl_error(err, arena_printf(pool_conn, "DH: could not read %s", dh));
			return false;
		}
	} else {
		/* Exim's named groups (ike*, default): OpenSSL's automatic choice uses the same
		 * RFC 7919/3526 groups. */
		SSL_CTX_set_dh_auto(ctx, 1);
	}
	return true;
}

static bool host_in(const char *list, msg_origin *o)
{
	if (!list || !o->host_address.len) return false;
	xbuf err;
	xbuf_init(&err, pool_conn);
	const char *l = tls_expand_option(list, "host list", o, &err);
	if (!l || !*l) return false;
	match_ctx mc;
	memset(&mc, 0, sizeof mc);
	mc.host_name = o->host_name.len ? sv_dup(pool_conn, o->host_name) : NULL;
	mc.primary_hostname = conf_main.primary_hostname;
	return match_isinlist(o->host_address, sv_cstr(l), 0, MATCH_HOST, false, &mc, &err) == SEARCH_OK;
}

int tls_peer_verify_mode(msg_origin *o)
{
	if (host_in(conf_main.tls_verify_hosts, o)) return TLS_VERIFY_REQUIRE;
	if (host_in(conf_main.tls_try_verify_hosts, o)) return TLS_VERIFY_TRY;
	return TLS_VERIFY_NONE;
}

bool tls_load_verify_locations(SSL_CTX *ctx, msg_origin *o, xbuf *err)
{
	const char *ca = tls_expand_option(conf_main.tls_verify_certificates, "tls_verify_certificates", o, err);
	if (!ca) return false;
	if (!*ca || strcmp(ca, "system") == 0) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			tls_openssl_error(err, "SSL_CTX_set_default_verify_paths");
			return false;
		}
	} else {
		bool dir = ca[strlen(ca) - 1] == '/';
		if (SSL_CTX_load_verify_locations(ctx, dir ? NULL : ca, dir ? ca : NULL) != 1) {
			tls_openssl_error(err, arena_printf(pool_conn, "tls_verify_certificates %s", ca));
			return false;
		}
		/* The CA names are sent in the CertificateRequest so the client can choose. */
		if (!dir) {
			STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
			if (names) SSL_CTX_set_client_CA_list(ctx, names);
		}
	}
	const char *crl = tls_expand_option(conf_main.tls_crl, "tls_crl", o, err);
	if (!crl) return false;
	if (*crl) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		if (X509_STORE_load_file(st, crl) != 1) {
			tls_openssl_error(err, arena_printf(pool_conn, "tls_crl %s", crl));
			return false;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	return true;
}
