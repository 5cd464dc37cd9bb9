/* TLS events and verification log lines, shared by the server and the client (tls_events.h). */
#include "tls/tls_events.h"

#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/arena.h"
#include "lib/log.h"
#include "tls/tls_int.h"

/* The DN in OpenSSL's one-line form, as Exim's verify lines show it. */
static const char *oneline_dn(X509 *cert)
{
	char dn[1024];
	if (!cert || !X509_NAME_oneline(X509_get_subject_name(cert), dn, sizeof dn)) return "";
	return arena_strdup(pool_conn, dn);
}

/* Answers the peer-certificate variable with the certificate being verified. */
typedef struct cert_override {
	xp_provider p;
	const char *var;
	sv pem;
} cert_override;

static bool override_get(void *ctx, sv name, xbuf *out)
{
	cert_override *c = ctx;
	if (!sv_eq_cstr(name, c->var)) return false;
	xbuf_putsv(out, c->pem);
	return true;
}

bool tls_event_cert(const char *action, const char *where, const char *certvar, X509 *cert,
	int depth, sv peer_ip, const event_vars *v, xp_env *base)
{
	if (!action) return false;
	xp_env env;
	if (base) env = *base;
	else xp_env_init(&env, pool_conn);
	/* The chain's certificates come from the peer (or from our CA store, which the peer chose
	 * by what it sent): tainted. */
	cert_override co = { .p = { .get = override_get }, .var = certvar, .pem = sv_tainted(tls_cert_pem(pool_conn, cert)) };
	co.p.ctx = &co;
	xp_env_push_provider(&env, &co.p);
	char data[16];
	snprintf(data, sizeof data, "%d", depth);
	xbuf result;
	xbuf_init(&result, pool_conn);
	event_raise(action, where, "tls:cert", sv_cstr(data), v, &env, &result);
	if (!result.len) return false;
	log_write(LOG_MAIN, "[%.*s] SSL verify denied by event-action: depth=%d cert=%s: %s",
		(int)peer_ip.len, peer_ip.p ? peer_ip.p : "", depth, oneline_dn(cert), xbuf_cstr(&result));
	return true;
}

void tls_event_fail_connect(const char *action, const char *where, sv error, const event_vars *v,
	xp_env *base)
{
	if (!action) return;
	xbuf result;
	xbuf_init(&result, pool_conn);
	event_raise(action, where, "tls:fail:connect", error, v, base, &result);
}

void tls_log_verify_error(sv peer_ip, int depth, int x509_error, X509 *cert)
{
	log_write(LOG_MAIN, "[%.*s] SSL verify error: depth=%d error=%s cert=%s", (int)peer_ip.len,
		peer_ip.p ? peer_ip.p : "", depth, X509_verify_cert_error_string(x509_error), oneline_dn(cert));
}
