/* The generic TLS client (src/tls/tls_client.h): one SSL_CTX and SSL per connection (clients
 * make few connections per process, and every option may differ per host), a handshake bounded
 * by poll() on a non-blocking socket, and the SSL object as a bio layer afterwards.
 *
 * Verification runs through our own callback so that "try" can record a failure without
 * failing the handshake, and so that failures are logged as Exim's OpenSSL build logs them
 * ("[1.2.3.4] SSL verify error: depth=0 error=... cert=..."). Certificate names are checked
 * there too, at depth 0, against the caller's list.
 */
#include "tls/tls_client.h"
#include "tls/tls_alpn.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "lib/list.h"
#include "lib/log.h"
#include "tls/tls_int.h"

/* Per-handshake state reachable from the verify callback (SSL ex_data). */
typedef struct verify_state {
	arena *a;
	const tls_client_params *p;
	tls_client_session *s;
	bool failed;
} verify_state;

static int ex_index = -1;

static const char *peer_tag(const tls_client_params *p)
{
	return p->peer_tag ? p->peer_tag : "[]";
}

static const char *subject_oneline(X509 *cert, char *buf, size_t n)
{
	if (!cert) return "";
	X509_NAME_oneline(X509_get_subject_name(cert), buf, (int)n);
	return buf;
}

/* Any of the names (a colon list) in the certificate? OpenSSL matches subjectAltName DNS names
 * (the CN only without them), a wildcard standing for exactly one leftmost label. */
static bool names_match(X509 *cert, const char *names, arena *a)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, a);
	list_iter_init(&it, sv_cstr(names), 0);
	while (list_next(&it, &item))
		if (item.len && X509_check_host(cert, xbuf_cstr(&item), item.len,
				X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
			return true;
	return false;
}

static void record_failure(verify_state *v, const char *why)
{
	if (!v->failed) v->s->verify_error = sv_cstr(arena_strdup(v->a, why));
	v->failed = true;
}

static int verify_callback(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	verify_state *v = ssl ? SSL_get_ex_data(ssl, ex_index) : NULL;
	if (!v) return ok;
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	int depth = X509_STORE_CTX_get_error_depth(store);
	char dn[512];
	if (!ok) {
		const char *why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
		log_write(LOG_MAIN, "%s SSL verify error: depth=%d error=%s cert=%s", peer_tag(v->p), depth,
			why, subject_oneline(cert, dn, sizeof dn));
		record_failure(v, why);
		return v->p->verify == TLS_CLIENT_VERIFY_REQUIRE ? 0 : 1;
	}
	if (depth == 0 && !v->p->dane_n && v->p->verify_names && *v->p->verify_names
		&& !names_match(cert, v->p->verify_names, v->a)) {
		log_write(LOG_MAIN, "%s SSL verify error: certificate name mismatch: DN=\"%s\" H=\"%s\"",
			peer_tag(v->p), subject_oneline(cert, dn, sizeof dn), v->p->verify_names);
		record_failure(v, "certificate name mismatch");
		if (v->p->verify == TLS_CLIENT_VERIFY_REQUIRE) {
			X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
			return 0;
		}
	}
	if (v->p->cert_check && v->p->cert_check(v->p->prepare_ctx, cert, depth)) {
		record_failure(v, "refused by event");
		if (v->p->verify == TLS_CLIENT_VERIFY_REQUIRE || v->p->dane_n) {
			X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
			return 0;
		}
	}
	return 1;
}

static bool load_verify(SSL_CTX *ctx, const tls_client_params *p, arena *a, xbuf *err)
{
	const char *ca = p->verify_certificates;
	if (!ca || !*ca || strcmp(ca, "system") == 0) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			tls_openssl_error(err, "SSL_CTX_set_default_verify_paths");
			return false;
		}
	} else {
		bool dir = ca[strlen(ca) - 1] == '/';
		if (SSL_CTX_load_verify_locations(ctx, dir ? NULL : ca, dir ? ca : NULL) != 1) {
			tls_openssl_error(err, arena_printf(a, "tls_verify_certificates %s", ca));
			return false;
		}
	}
	if (p->crl && *p->crl) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		if (X509_STORE_load_file(st, p->crl) != 1) {
			tls_openssl_error(err, arena_printf(a, "tls_crl %s", p->crl));
			return false;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	return true;
}

static SSL_CTX *build_ctx(const tls_client_params *p, arena *a, xbuf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		tls_openssl_error(err, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	uint64_t set, clear;
	if (!tls_parse_openssl_options(p->openssl_options, &set, &clear, err)) goto fail;
	SSL_CTX_clear_options(ctx, clear);
	SSL_CTX_set_options(ctx, set);
	if (p->require_ciphers && *p->require_ciphers && SSL_CTX_set_cipher_list(ctx, p->require_ciphers) != 1) {
		tls_openssl_error(err, arena_printf(a, "SSL_CTX_set_cipher_list(%s)", p->require_ciphers));
		goto fail;
	}
	if (p->certificate && *p->certificate) {
		const char *kf = p->privatekey && *p->privatekey ? p->privatekey : p->certificate;
		if (SSL_CTX_use_certificate_chain_file(ctx, p->certificate) != 1) {
			tls_openssl_error(err, arena_printf(a, "cert/key setup: cert=%s", p->certificate));
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, kf, SSL_FILETYPE_PEM) != 1) {
			tls_openssl_error(err, arena_printf(a, "cert/key setup: key=%s", kf));
			goto fail;
		}
	}
	if (p->dane_n) {
		/* The TLSA records are the trust anchors; no CAs (as Exim ignores
		 * tls_verify_certificates under DANE). */
		if (SSL_CTX_dane_enable(ctx) <= 0) {
			tls_openssl_error(err, "SSL_CTX_dane_enable");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
	} else if (p->verify == TLS_CLIENT_VERIFY_NONE) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		if (!load_verify(ctx, p, a, err)) goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static bool handshake(SSL *ssl, int fd, int timeout_ms, xbuf *err)
{
	long long deadline = monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 300000);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(ssl);
		if (r == 1) return true;
		int e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) && ERR_peek_error() == 0)
				xbuf_printf(err, "(SSL_connect): %s", errno ? strerror(errno) : "the server closed the connection");
			else tls_openssl_error(err, "(SSL_connect)");
			return false;
		}
		int w = tls_handshake_wait(e, fd, fd, deadline);
		if (w < 0) {
			xbuf_printf(err, "(SSL_connect): poll: %s", strerror(errno));
			return false;
		}
		if (w == 0) {
			xbuf_puts(err, "(SSL_connect): timed out");
			return false;
		}
	}
}

/* ---- Facts of the session ----------------------------------------------------------------- */

static void record(arena *a, SSL *ssl, tls_client_session *s)
{
	tls_session_names(a, ssl, &s->ver, &s->cipher, &s->bits);
	s->ourcert = tls_cert_pem(a, SSL_get_certificate(ssl));
	s->resumed = SSL_session_reused(ssl) == 1;
	X509 *peer = SSL_get1_peer_certificate(ssl);
	if (peer) {
		char dn[1024];
		s->peerdn = sv_tainted(sv_cstr(arena_strdup(a, subject_oneline(peer, dn, sizeof dn))));
		s->peercert = sv_tainted(tls_cert_pem(a, peer));
		X509_free(peer);
	}
}

/* The TLSA records for this connection; OpenSSL then verifies the chain against them. */
static bool dane_setup(SSL *ssl, const tls_client_params *p, arena *a, xbuf *err)
{
	if (SSL_dane_enable(ssl, p->dane_host) <= 0) {
		tls_openssl_error(err, arena_printf(a, "DANE setup for %s", p->dane_host ? p->dane_host : ""));
		return false;
	}
	/* DANE-EE(3) pins the server's key: its names do not matter (RFC 7672 3.1.1). */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	int usable = 0;
	for (size_t i = 0; i < p->dane_n; i++) {
		const tls_tlsa *t = &p->dane_tlsa[i];
		int r = SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len);
		if (r > 0) usable++;
		ERR_clear_error();   /* a malformed or unsupported record is skipped */
	}
	if (!usable) {
		xbuf_puts(err, "DANE error: no usable TLSA records");
		return false;
	}
	return true;
}

bool tls_client_start(arena *a, int fd, const tls_client_params *p, tls_client_session *s, xbuf *err)
{
	memset(s, 0, sizeof *s);
	s->verify_error = SV_LIT("");
	if (ex_index < 0) ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	SSL_CTX *ctx = build_ctx(p, a, err);
	if (!ctx) return false;
	SSL *ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);   /* the SSL object holds its own reference */
	if (!ssl) {
		tls_openssl_error(err, "SSL_new");
		return false;
	}
	verify_state v = { a, p, s, false };
	SSL_set_ex_data(ssl, ex_index, &v);
	if (p->sni && *p->sni && SSL_set_tlsext_host_name(ssl, p->sni) != 1) {
		tls_openssl_error(err, arena_printf(a, "SNI %s", p->sni));
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK)) (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (SSL_set_fd(ssl, fd) != 1) {
		tls_openssl_error(err, "SSL_set_fd");
		goto fail;
	}
	if (p->dane_n && !dane_setup(ssl, p, a, err)) goto fail;
	if (p->prepare && !p->prepare(p->prepare_ctx, ssl, err)) goto fail;
	if (p->alpn && *p->alpn) {
		xbuf wire;
		xbuf_init(&wire, a);
		if (!tls_alpn_wire(p->alpn, &wire) || wire.len == 0
			|| SSL_set_alpn_protos(ssl, (const unsigned char *)wire.p, (unsigned)wire.len) != 0) {
			xbuf_printf(err, "tls_alpn: cannot offer \"%s\"", p->alpn);
			goto fail;
		}
	}
	if (!handshake(ssl, fd, p->timeout_ms, err)) goto fail;
	if (p->require_alpn) {
		const unsigned char *sel = NULL;
		unsigned sel_len = 0;
		SSL_get0_alpn_selected(ssl, &sel, &sel_len);
		if (sel_len == 0) {
			xbuf_puts(err, "(SSL_connect): ALPN required but not negotiated");
			SSL_set_ex_data(ssl, ex_index, NULL);
			goto fail;
		}
	}
	SSL_set_ex_data(ssl, ex_index, NULL);   /* v lives on this stack frame only */
	record(a, ssl, s);
	s->verified = (p->verify != TLS_CLIENT_VERIFY_NONE || p->dane_n) && !v.failed
		&& SSL_get_verify_result(ssl) == X509_V_OK && s->peercert.len > 0;
	s->dane_verified = p->dane_n && s->verified && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0;
	if (p->verify == TLS_CLIENT_VERIFY_NONE) s->verify_error = SV_LIT("");
	s->ssl = ssl;
	s->layer = tls_bio_layer(ssl);
	return true;
fail:
	SSL_free(ssl);
	return false;
}

void tls_client_notify(tls_client_session *s)
{
	if (!s || !s->ssl || (SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN)) return;
	ERR_clear_error();
	(void)SSL_shutdown(s->ssl);   /* not waiting for the server's close_notify */
	ERR_clear_error();
}

void tls_client_end(tls_client_session *s, bool notify)
{
	if (!s || !s->ssl) return;
	if (notify) tls_client_notify(s);
	else SSL_set_quiet_shutdown(s->ssl, 1);
	SSL_free(s->ssl);
	ERR_clear_error();
	s->ssl = NULL;
}
