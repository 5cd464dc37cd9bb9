/* TLS session resumption, server side: stateless tickets for the clients in tls_resumption_hosts
 * (facts §11), with the daemon's ticket keys (tls_resume_keys.c), and the $tls_in_resumption bits.
 *
 * The bits come from what the client's hello carried and what the server did:
 *   requested  TLS 1.2: a SessionTicket extension; TLS 1.3: psk_key_exchange_modes (a client
 *              that sends it can take tickets)
 *   offered    TLS 1.2: a non-empty SessionTicket extension; TLS 1.3: a pre_shared_key extension
 *   ticket     the ticket-key callback encrypted a ticket for this client
 *   used       OpenSSL resumed the session
 * so a first TLS 1.2 or 1.3 session reports 11 and a resumed TLS 1.3 session 31, as Exim does.
 * Other clients get no tickets and report 1 (resumption supported), as Exim 4.96 does. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/tls1.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "search/match.h"
#include "search/search.h"
#include "tls/tls_int.h"
#include "tls/tls_resume.h"
#include "tls/tls_resume_keys.h"

/* The bits of one SSL object, kept in its ex_data as an integer. */
static int bits_index = -1;

static unsigned get_bits(SSL *ssl)
{
	return (unsigned)(uintptr_t)SSL_get_ex_data(ssl, bits_index);
}

static void add_bits(SSL *ssl, unsigned b)
{
	SSL_set_ex_data(ssl, bits_index, (void *)(uintptr_t)(get_bits(ssl) | b));
}

static void ticket_issued(SSL *ssl)
{
	add_bits(ssl, TLS_RESUME_SERVER_TICKET);
}

static int hello_cb(SSL *ssl, int *alert, void *arg)
{
	(void)alert; (void)arg;
	const unsigned char *p;
	size_t len;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &p, &len) == 1) {
		add_bits(ssl, TLS_RESUME_CLIENT_REQUESTED);
		if (len > 0) add_bits(ssl, TLS_RESUME_CLIENT_OFFERED);
	}
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk_kex_modes, &p, &len) == 1)
		add_bits(ssl, TLS_RESUME_CLIENT_REQUESTED);
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &p, &len) == 1)
		add_bits(ssl, TLS_RESUME_CLIENT_OFFERED);
	return SSL_CLIENT_HELLO_SUCCESS;
}

static bool client_in_resumption_hosts(msg_origin *o, xbuf *err)
{
	if (!conf_main.tls_resumption_hosts || !o->host_address.len) return false;
	const char *list = tls_expand_option(conf_main.tls_resumption_hosts, "tls_resumption_hosts", o, err);
	if (!list) return false;
	if (!*list) return false;
	match_ctx mc;
	memset(&mc, 0, sizeof mc);
	mc.host_name = o->host_name.len ? sv_dup(pool_conn, o->host_name) : NULL;
	mc.primary_hostname = conf_main.primary_hostname;
	xbuf merr;
	xbuf_init(&merr, pool_conn);
	return match_isinlist(o->host_address, sv_cstr(list), 0, MATCH_HOST, false, &mc, &merr) == SEARCH_OK;
}

/* An openssl_options that names +no_ticket itself keeps tickets off (the default list has it
 * too, but only to keep tickets away from clients not in tls_resumption_hosts). */
static bool tickets_forbidden(void)
{
	if (!conf_main.openssl_options) return false;
	uint64_t set = 0, clear = 0;
	xbuf err;
	xbuf_init(&err, pool_conn);
	return tls_parse_openssl_options(conf_main.openssl_options, &set, &clear, &err)
		&& (set & SSL_OP_NO_TICKET);
}

bool tls_resume_server_setup(SSL_CTX *ctx, msg_origin *o, xbuf *err)
{
	if (bits_index < 0) bits_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	/* Stateless only: no server-side session cache, so a session id alone resumes nothing. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	xbuf herr;
	xbuf_init(&herr, pool_conn);
	bool offer = client_in_resumption_hosts(o, &herr) && !tickets_forbidden();
	(void)err;
	if (herr.len)   /* a failed expansion of the list: no tickets, and the reason logged */
		log_write(LOG_MAIN, "%s", xbuf_cstr(&herr));
	if (!offer) {
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		return true;
	}
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	/* One ticket per session is all an SMTP client uses (OpenSSL would send two). */
	SSL_CTX_set_num_tickets(ctx, 1);
	/* Resumption with client certificates needs a context id; one per server is enough, the
	 * keys decide which tickets are ours. */
	static const unsigned char sid_ctx[] = "postern smtp";
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
	SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
	tls_ticket_keys_install(ctx, ticket_issued);
	return true;
}

unsigned tls_resume_server_result(SSL *ssl)
{
	unsigned bits = TLS_RESUME_SUPPORTED;
	if (bits_index >= 0) bits |= get_bits(ssl);
	if (SSL_session_reused(ssl)) bits |= TLS_RESUME_USED;
	/* A TLS 1.3 ticket is a small segment sent after the handshake; the client has nothing to
	 * piggyback its ACK on until our next reply, which Nagle holds back for the ACK: a delayed
	 * ACK's 40 ms on every session. Our replies are written whole, so Nagle gains nothing. */
	if ((bits & TLS_RESUME_SERVER_TICKET) && SSL_version(ssl) == TLS1_3_VERSION) {
		int one = 1;
		(void)setsockopt(SSL_get_wfd(ssl), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return bits;
}
