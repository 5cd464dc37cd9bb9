/* The server certificate used when tls_certificate gives none (docs/tls.md, "STARTTLS without a
 * certificate").
 *
 * Exim 4.96 offers STARTTLS to tls_advertise_hosts whether or not tls_certificate is set; when it
 * is unset (or expands to empty) the handshake presents a certificate made on the spot, signed by
 * its own key. What a client sees of it, observed on Exim 4.96: version 3, serial number
 * 0x0100000000000000, subject and issuer "C=UK, O=Exim Developers, CN=<primary_hostname>",
 * valid from the moment it was made for two hours, an RSA key of 3072 bits, signed with
 * SHA-256, no extensions. Exim's daemon makes it once at start (logging its warning before the
 * "daemon started" line) and every connection process it forks presents the same one.
 *
 * Making an RSA-3072 key costs a fraction of a second of CPU, far more than a handshake, so it
 * is made once per process and kept: the daemon makes it before its first fork and the children
 * inherit it; a process without a daemon (-bs, inetd) makes it at its first STARTTLS. The
 * daemon makes a new one when the two hours have passed (Exim's goes on with the expired one). */
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "tls/tls_int.h"
#include "tls/tls_selfsign.h"

enum {
	SELFSIGN_KEY_BITS = 3072,
	SELFSIGN_VALID_SECONDS = 2 * 60 * 60,
};

static struct {
	X509 *cert;
	EVP_PKEY *key;
	time_t not_after;
} made;

/* Exim's warning. Exim logs it only where its daemon prepares the certificate at start: a
 * process without a daemon (-bs, -bh) and a tls_certificate that expands to empty get the
 * certificate silently. */
static void log_warning(void)
{
	log_write(LOG_MAIN, "Warning: No server certificate defined; will use a selfsigned one.\n"
		" Suggested action: either install a certificate or change tls_advertise_hosts option");
}

static bool add_name_entry(X509_NAME *n, const char *field, const char *value)
{
	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0) == 1;
}

static X509 *make_cert(EVP_PKEY *key, time_t now)
{
	X509 *x = X509_new();
	if (!x) return NULL;
	const char *host = conf_main.primary_hostname && *conf_main.primary_hostname
		? conf_main.primary_hostname : "localhost";
	X509_NAME *name = X509_get_subject_name(x);
	ASN1_INTEGER *serial = X509_get_serialNumber(x);
	bool ok = X509_set_version(x, X509_VERSION_3) == 1
		&& ASN1_INTEGER_set_uint64(serial, (uint64_t)1 << 56) == 1
		&& X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) != NULL
		&& X509_time_adj_ex(X509_getm_notAfter(x), 0, SELFSIGN_VALID_SECONDS, &now) != NULL
		&& add_name_entry(name, "C", "UK")
		&& add_name_entry(name, "O", "Exim Developers")
		&& add_name_entry(name, "CN", host)
		&& X509_set_issuer_name(x, name) == 1
		&& X509_set_pubkey(x, key) == 1
		&& X509_sign(x, key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

bool tls_selfsigned_daemon_warns(void)
{
	return !conf_main.tls_certificate && conf_main.tls_advertise_hosts && *conf_main.tls_advertise_hosts;
}

void tls_selfsigned_queue_daemon_warning(void)
{
	if (tls_selfsigned_daemon_warns()) log_warning();
}

bool tls_selfsigned_make(bool warn, xbuf *err)
{
	if (made.cert) return true;
	EVP_PKEY *key = EVP_RSA_gen(SELFSIGN_KEY_BITS);
	if (!key) {
		tls_openssl_error(err, "(tls_install_selfsign): key generation failed");
		return false;
	}
	/* The validity starts when the key is ready, as Exim's does. */
	time_t now = time(NULL);
	X509 *cert = make_cert(key, now);
	if (!cert) {
		EVP_PKEY_free(key);
		tls_openssl_error(err, "(tls_install_selfsign): certificate creation failed");
		return false;
	}
	if (warn) log_warning();
	made.cert = cert;
	made.key = key;
	made.not_after = now + SELFSIGN_VALID_SECONDS;
	return true;
}

bool tls_selfsigned_install(SSL *ssl, SSL_CTX *ctx, xbuf *err)
{
	if (!tls_selfsigned_make(false, err)) return false;
	int ok = ctx ? SSL_CTX_use_certificate(ctx, made.cert) == 1 && SSL_CTX_use_PrivateKey(ctx, made.key) == 1
		: SSL_use_certificate(ssl, made.cert) == 1 && SSL_use_PrivateKey(ssl, made.key) == 1;
	if (!ok) {
		tls_openssl_error(err, "(tls_install_selfsign): SSL_use_certificate");
		return false;
	}
	return true;
}

bool tls_selfsigned_expired(time_t now)
{
	return made.cert && now >= made.not_after;
}

void tls_selfsigned_forget(void)
{
	X509_free(made.cert);
	EVP_PKEY_free(made.key);
	memset(&made, 0, sizeof made);
}
