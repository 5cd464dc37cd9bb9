/* The server side of TLS with OpenSSL 3: STARTTLS and tls_on_connect_ports.
 *
 * Registered with the SMTP session through smtp_tls_register(). The SSL_CTX comes from the
 * daemon's cache (tls_server_cache.c) when the daemon could build it before the fork: the parts
 * whose options have no expansion are already in it, and this file adds only what depends on the
 * connection (verify mode, tickets, the OCSP callback's origin, any expanded option). Otherwise
 * (no daemon, or the cache could not be built) each connection builds its own. Certificates that
 * are not in the cached context are loaded from OpenSSL's certificate callback, which runs
 * after the ClientHello was read, so $tls_in_sni is known when the options are expanded and one
 * expansion serves both the plain and the SNI case. The lists may name several certificates
 * (RSA and ECDSA side by side): OpenSSL keeps one per key type and picks what the client accepts.
 *
 * After the handshake the SSL object becomes the session's bio layer; the socket is switched to
 * non-blocking so a partial TLS record never blocks a read that poll() said was ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/message.h"
#include "expand/expand.h"
#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"
#include "lib/bio.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "smtp/session.h"
#include "tls/tls.h"
#include "tls/tls_alpn.h"
#include "tls/tls_events.h"
#include "tls/tls_readsock.h"
#include "tls/tls_int.h"
#include "tls/tls_ocsp.h"
#include "tls/tls_resume.h"
#include "tls/tls_selfsign.h"

/* The connection's state: one per process at a time (tls_server_conn_reset between two). */
static struct {
	SSL_CTX *ctx;
	SSL *ssl;
	bool shared;          /* ctx is the daemon's cached context (one object for every connection) */
	bool shared_changed;  /* something that accumulates was loaded into it (see tls_server_conn_reset) */
	msg_origin *origin;
	xbuf *err;            /* where the certificate callback reports */
	bool cert_failed;
	bool certs_in_ctx;    /* loaded by server_prepare or the cache: the certificate callback has nothing to do */
	int vmode;            /* TLS_VERIFY_* for this client */
	xp_env event_env;     /* $sender_host_address etc. for the tls:* events */
	message_vars event_mv;
} conn;

/* "(what): detail", Exim's form of a TLS error (the log line and tls:fail:connect show it). */
static void tls_error_in(xbuf *err, const char *what)
{
	xbuf tmp;
	xbuf_init(&tmp, pool_conn);
	tls_openssl_error(&tmp, "");
	const char *detail = xbuf_cstr(&tmp);
	if (detail[0] == ':' && detail[1] == ' ') detail += 2;
	xbuf_printf(err, "(%s): %s", what, *detail ? detail : "unknown error");
}

void tls_openssl_error(xbuf *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	if (e) {
		ERR_error_string_n(e, buf, sizeof buf);
		xbuf_printf(err, "%s: %s", what, buf);
	} else {
		xbuf_printf(err, "%s", what);
	}
	ERR_clear_error();
}

/* Expand a main option in the connection's context ($tls_in_sni, $sender_host_address...).
 * NULL (and err set) on failure; "" for an unset option. */
const char *tls_expand_option(const char *opt, const char *name, msg_origin *o, xbuf *err)
{
	if (!opt) return "";
	xp_env env;
	xp_env_init(&env, pool_conn);
	message_vars mv;
	message_vars_init(&mv, NULL, o);
	xp_env_push_provider(&env, &mv.p);
	xbuf out, xerr;
	xbuf_init(&out, pool_conn);
	xbuf_init(&xerr, pool_conn);
	int rc = xp_expand(&env, sv_cstr(opt), &out, &xerr);
	xp_env_release(&env);
	if (rc == XP_FORCEFAIL) return "";
	if (rc != XP_OK) {
		xbuf_printf(err, "expansion of %s failed: %s", name, xbuf_cstr(&xerr));
		return NULL;
	}
	return arena_strdup(pool_conn, xbuf_cstr(&out));
}

/* Load every certificate of tls_certificate with the key of the same position in
 * tls_privatekey (an absent or empty key item: the key is in the certificate's file). */
bool tls_load_server_certificates(SSL *ssl, SSL_CTX *ctx, msg_origin *o, xbuf *err)
{
	const char *certs = tls_expand_option(conf_main.tls_certificate, "tls_certificate", o, err);
	if (!certs) return false;
	const char *keys = tls_expand_option(conf_main.tls_privatekey, "tls_privatekey", o, err);
	if (!keys) return false;
	/* Unset or empty: Exim's stand-in, made once per process (tls_selfsign.c). */
	if (!*certs) return tls_selfsigned_install(ssl, ctx, err);
	list_iter ci, ki;
	list_iter_init(&ci, sv_cstr(certs), 0);
	list_iter_init(&ki, sv_cstr(keys), 0);
	xbuf cert, key;
	xbuf_init(&cert, pool_conn);
	xbuf_init(&key, pool_conn);
	int n = 0;
	while (list_next(&ci, &cert)) {
		if (!list_next(&ki, &key)) xbuf_reset(&key);
		const char *cf = xbuf_cstr(&cert);
		const char *kf = key.len ? xbuf_cstr(&key) : cf;
		if ((ctx ? SSL_CTX_use_certificate_chain_file(ctx, cf) : SSL_use_certificate_chain_file(ssl, cf)) != 1) {
			tls_error_in(err, arena_printf(pool_conn, "SSL_CTX_use_certificate_chain_file file=%s", cf));
			return false;
		}
		if ((ctx ? SSL_CTX_use_PrivateKey_file(ctx, kf, SSL_FILETYPE_PEM)
				: SSL_use_PrivateKey_file(ssl, kf, SSL_FILETYPE_PEM)) != 1) {
			tls_error_in(err, arena_printf(pool_conn, "SSL_CTX_use_PrivateKey_file file=%s", kf));
			return false;
		}
		n++;
	}
	if (n == 0) {
		xbuf_puts(err, "no server certificate");
		return false;
	}
	return true;
}

/* Runs once the ClientHello is in: record SNI, then load the certificates for it. */
static int cert_callback(SSL *ssl, void *arg)
{
	(void)arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (sni && *sni) conn.origin->tls_sni = sv_tainted(sv_cstr(arena_strdup(pool_conn, sni)));
	if (conn.certs_in_ctx) return 1;
	if (!tls_load_server_certificates(ssl, NULL, conn.origin, conn.err)) {
		conn.cert_failed = true;
		return 0;
	}
	return 1;
}

/* Each certificate of the client's chain, deepest first. A failure is logged as Exim logs it;
 * under tls_try_verify_hosts the handshake goes on regardless (the result is recorded: CV=no).
 * A verified certificate raises tls:cert, whose non-empty result refuses it. */
static int verify_callback(int ok, X509_STORE_CTX *store)
{
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	int depth = X509_STORE_CTX_get_error_depth(store);
	bool optional = conn.vmode == TLS_VERIFY_TRY;
	if (!ok) {
		tls_log_verify_error(conn.origin->host_address, depth, X509_STORE_CTX_get_error(store), cert);
		/* As Exim: a failure that ends the handshake leaves the failing certificate (the first
		 * one, whatever its depth) in $tls_in_peercert, for tls:fail:connect. */
		if (!optional && !conn.origin->tls_peercert.len && cert)
			conn.origin->tls_peercert = sv_tainted(tls_cert_pem(pool_conn, cert));
		return optional;
	}
	if (tls_event_cert(conf_main.event_action, "main", "tls_in_peercert", cert, depth,
			conn.origin->host_address, NULL, &conn.event_env)) {
		/* kept as the verification result, so CV=no even when the handshake goes on */
		X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
		return optional;
	}
	return 1;
}

/* tls_alpn for this connection (NULL when its expansion failed: logged; the client is declined). */
static const char *alpn_allowed(void)
{
	xbuf err;
	xbuf_init(&err, pool_conn);
	const char *v = tls_expand_option(conf_main.tls_alpn, "tls_alpn", conn.origin, &err);
	if (!v) log_write(LOG_MAIN, "TLS error: %s", xbuf_cstr(&err));
	return v;
}

SSL_CTX *tls_server_ctx_new(xbuf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		tls_openssl_error(err, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	uint64_t set, clear;
	if (!tls_parse_openssl_options(conf_main.openssl_options, &set, &clear, err)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_clear_options(ctx, clear);
	SSL_CTX_set_options(ctx, set);
	SSL_CTX_set_cert_cb(ctx, cert_callback, NULL);
	tls_alpn_server_setup(ctx, alpn_allowed);
	return ctx;
}

/* What depends on the connection, added to a cached or new context (parts: TLS_PART_* already in
 * it). All of it is set every time: the cached context is this process's own copy after the
 * fork, so changing it affects no other connection. */
static bool add_connection_settings(SSL_CTX *ctx, unsigned parts, msg_origin *o, xbuf *err)
{
	/* Settings below that are made every time overwrite the last connection's; loads that add
	 * to the context (options, CA locations) mark a shared one as changed. */
	if (conn.shared && !(parts & TLS_PART_CIPHERS))
		conn.shared_changed = true;
	if (!(parts & TLS_PART_CIPHERS) && !tls_apply_server_options(ctx, o, err)) return false;
	if (!tls_resume_server_setup(ctx, o, err)) return false;
	if (!tls_ocsp_server_setup(ctx, o, err)) return false;
	int vmode = conn.vmode = tls_peer_verify_mode(o);
	if (vmode == TLS_VERIFY_NONE) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return true;
	}
	if (conn.shared && !(parts & TLS_PART_VERIFY))
		conn.shared_changed = true;
	if (!(parts & TLS_PART_VERIFY) && !tls_load_verify_locations(ctx, o, err)) return false;
	if (vmode == TLS_VERIFY_REQUIRE)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_callback);
	else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
	return true;
}

static bool build_ctx(msg_origin *o, xbuf *err)
{
	unsigned parts = 0;
	SSL_CTX *ctx = tls_server_cache_get(&parts);
	conn.shared = ctx != NULL;
	if (!ctx && !(ctx = tls_server_ctx_new(err))) return false;
	if (!add_connection_settings(ctx, parts, o, err)) {
		SSL_CTX_free(ctx);
		return false;
	}
	conn.ctx = ctx;
	conn.certs_in_ctx = (parts & TLS_PART_CERTS) != 0;
	return true;
}

/* The handshake is bounded by smtp_receive_timeout, as Exim bounds it. */
static int handshake_timeout_ms(void)
{
	int secs = 300;
	const char *t = conf_main.smtp_receive_timeout;
	if (t && *t != '$' && interval_parse(sv_cstr(t), &secs) && secs <= 0) secs = 300;
	return secs * 1000;
}

/* Exim's wording for a failed SSL_accept: the peer's plain close is said in words, a protocol
 * version mismatch names the version, anything else is OpenSSL's queued error. */
static void handshake_error(SSL *ssl, int e, xbuf *err)
{
	unsigned long q = ERR_peek_error();
	if (e == SSL_ERROR_SYSCALL && q == 0) {
		if (errno == 0) xbuf_puts(err, "SSL_accept: TCP connection closed by peer");
		else xbuf_printf(err, "(SSL_accept): ret %d", e);
		ERR_clear_error();
		return;
	}
	if (e == SSL_ERROR_SSL) {
		int r = ERR_GET_REASON(q);
		if (r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_VERSION_TOO_LOW || r == SSL_R_UNKNOWN_PROTOCOL
			|| r == SSL_R_UNSUPPORTED_PROTOCOL) {
			tls_error_in(err, arena_printf(pool_conn, "SSL_accept (%s)", SSL_get_version(ssl)));
			return;
		}
	}
	tls_error_in(err, "SSL_accept");
}

static bool handshake(SSL *ssl, int in_fd, int out_fd, xbuf *err)
{
	long long deadline = monotonic_ms() + handshake_timeout_ms();
	for (;;) {
		ERR_clear_error();
		int r = SSL_accept(ssl);
		if (r == 1) return true;
		int e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if (conn.cert_failed) return false;   /* the callback said why */
			handshake_error(ssl, e, err);
			return false;
		}
		int w = tls_handshake_wait(e, in_fd, out_fd, deadline);
		if (w < 0) {
			xbuf_printf(err, "(SSL_accept): poll: %s", strerror(errno));
			return false;
		}
		if (w == 0) {
			xbuf_puts(err, "(SSL_accept): timed out");
			return false;
		}
	}
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0) (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* STARTTLS is offered whether or not tls_certificate is set, as Exim does: without one the
 * handshake presents a self-signed certificate. */
static bool server_usable(void)
{
	return true;
}

static void conn_begin(msg_origin *o, xbuf *err)
{
	conn.origin = o;
	conn.err = err;
	conn.cert_failed = false;
	xp_env_init(&conn.event_env, pool_conn);
	message_vars_init(&conn.event_mv, NULL, o);
	xp_env_push_provider(&conn.event_env, &conn.event_mv.p);
}

/* Options that name the SNI can only be expanded once the ClientHello is in. */
static bool sni_dependent(const char *opt)
{
	return opt && (strstr(opt, "tls_sni") || strstr(opt, "tls_in_sni"));
}

/* Before "220 TLS go ahead": the context, and the certificates when they do not depend on the
 * SNI, so that a configuration problem gets Exim's 454 instead of a failed handshake. A
 * failure leaves nothing half-built behind for a later STARTTLS. */
static bool server_prepare(msg_origin *o, xbuf *err)
{
	conn_begin(o, err);
	if (conn.ctx) return true;
	bool ok = build_ctx(o, err);
	if (ok && !conn.certs_in_ctx && !sni_dependent(conf_main.tls_certificate)
			&& !sni_dependent(conf_main.tls_privatekey)) {
		conn.shared_changed |= conn.shared;
		ok = conn.certs_in_ctx = tls_load_server_certificates(NULL, conn.ctx, o, err);
	}
	if (!ok) {
		SSL_CTX_free(conn.ctx);
		conn.ctx = NULL;
		conn.certs_in_ctx = false;
	}
	return ok;
}

static bool server_start(bio *io, int in_fd, int out_fd, msg_origin *o, xbuf *err)
{
	/* CVE-2011-0411: commands pipelined in clear after STARTTLS must not be run inside the TLS
	 * session (a man in the middle could inject them). They are dropped without a log line, as
	 * Exim 4.96 drops them (checked live, also with log_selector = +all). */
	if (io->in_len > io->in_pos)
		io->in_pos = io->in_len = 0;
	conn_begin(o, err);
	if (!conn.ctx && !build_ctx(o, err)) return false;
	SSL *ssl = SSL_new(conn.ctx);
	if (!ssl) {
		tls_error_in(err, "SSL_new");
		return false;
	}
	conn.ssl = ssl;
	set_nonblocking(in_fd);
	if (out_fd != in_fd) set_nonblocking(out_fd);
	if (in_fd == out_fd) SSL_set_fd(ssl, in_fd);
	else { SSL_set_rfd(ssl, in_fd); SSL_set_wfd(ssl, out_fd); }
	if (!handshake(ssl, in_fd, out_fd, err)) {
		tls_event_fail_connect(conf_main.event_action, "main", xbuf_sv(err), NULL, &conn.event_env);
		return false;
	}
	tls_record_session(ssl, o);
	o->tls_resumption = tls_resume_server_result(ssl);
	bio_layer l = tls_bio_layer(ssl);
	bio_set_layer(io, &l);
	return true;
}

bool tls_server_conn_reset(void)
{
	/* The cached context is shared by the process's connections: what this one added to it
	 * would still be there for the next (a CA list or certificate expanded for this client). */
	bool clean = !conn.shared_changed;
	if (conn.ssl)
		SSL_free(conn.ssl); /* the socket BIO does not own the descriptor */
	if (conn.ctx)
		SSL_CTX_free(conn.ctx); /* this connection's reference; the cache keeps its own */
	memset(&conn, 0, sizeof conn);
	ERR_clear_error();
	return clean;
}

static const smtp_tls_server server_ops = { server_usable, server_start, server_prepare };

void tls_register(void)
{
	smtp_tls_register(&server_ops);
	tls_readsock_register();   /* ${readsocket} tls=yes */
}
