/* TLS session resumption, client side: sessions stored in the `tls` hints database under a key
 * that names the server as Exim keys it (facts §11), offered on the next connection while usable,
 * and the $tls_out_resumption bits.
 *
 * Tickets are stored from OpenSSL's new-session callback, because under TLS 1.3 they arrive after
 * the handshake (with the server's first reply). An entry that cannot be used (expired, unreadable,
 * or offered and refused by the server without a replacement) is deleted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "core/hintsdb.h"
#include "core/spool.h"
#include "lib/arena.h"
#include "lib/digest.h"
#include "lib/log.h"
#include "tls/tls_resume.h"
#include "tls/tls_resume_db.h"

/* What one client SSL object remembers (its ex_data; freed with it). */
typedef struct client_state {
	char key[2 * 32 + 1];
	unsigned bits;
	bool stored;      /* a new session was stored during this connection */
	bool deleted;
} client_state;

static int state_index = -1;

static void state_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	free(ptr);
}

static void put_le64(xbuf *out, int64_t v)
{
	for (int i = 0; i < 8; i++)
		xbuf_putc(out, (char)(unsigned char)((uint64_t)v >> (8 * i)));
}

static int64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (int64_t)v;
}

bool tls_resume_record_decode(sv value, time_t *stored, time_t *expires, sv *der)
{
	if (value.len <= TLS_RESUME_RECORD_HEADER || (unsigned char)value.p[0] != TLS_RESUME_RECORD_VERSION)
		return false;
	const unsigned char *p = (const unsigned char *)value.p;
	*stored = (time_t)get_le64(p + 1);
	*expires = (time_t)get_le64(p + 9);
	*der = sv_sub(value, TLS_RESUME_RECORD_HEADER, value.len - TLS_RESUME_RECORD_HEADER);
	return true;
}

void tls_resume_record_encode(time_t stored, time_t expires, sv der, xbuf *out)
{
	xbuf_putc(out, (char)TLS_RESUME_RECORD_VERSION);
	put_le64(out, (int64_t)stored);
	put_le64(out, (int64_t)expires);
	xbuf_putsv(out, der);
}

/* Length-prefixed fields, so that no two different peers can serialise alike. */
static void put_field(xbuf *b, const char *name, sv v)
{
	xbuf_printf(b, "%s=%zu:", name, v.len);
	xbuf_put(b, v.p ? v.p : "", v.len);
	xbuf_putc(b, '\n');
}

const char *tls_resume_client_key(arena *a, const tls_resume_peer *peer)
{
	xbuf b, hex;
	xbuf_init(&b, a);
	xbuf_init(&hex, a);
	put_field(&b, "name", peer->host_name);
	put_field(&b, "ip", peer->address);
	xbuf_printf(&b, "port=%d\n", peer->port);
	put_field(&b, "from", peer->sending_address);
	put_field(&b, "options", peer->openssl_options);
	put_field(&b, "ciphers", peer->require_ciphers);
	put_field(&b, "sni", peer->sni);
	/* Only when set, so that the keys of sessions stored without DANE or ALPN stay as they were. */
	if (peer->dane.len) put_field(&b, "dane", peer->dane);
	if (peer->alpn.len) put_field(&b, "alpn", peer->alpn);
	sv data = xbuf_sv(&b);
	data.taint = 0;   /* the key is a hash: nothing of the peer's text reaches a file name */
	if (!digest_hex(DIGEST_SHA256, data, false, &hex))
		return arena_strdup(a, "");
	return xbuf_cstr(&hex);
}

static hintsdb *open_db(bool readonly)
{
	xbuf err;
	xbuf_init(&err, NULL);
	spool_config sc;
	hintsdb *db = NULL;
	if (spool_config_from_main(&sc, &err))
		db = hintsdb_open(sc.directory, TLS_RESUME_DB, readonly, &err);
	/* A missing database is the normal first case, not worth a line. */
	if (!db && !readonly)
		log_write(LOG_MAIN, "TLS resumption: cannot open the %s hints database: %s", TLS_RESUME_DB, xbuf_cstr(&err));
	xbuf_free(&err);
	return db;
}

static void delete_entry(client_state *st)
{
	if (st->deleted) return;
	st->deleted = true;
	hintsdb *db = open_db(false);
	if (!db) return;
	hintsdb_delete(db, sv_cstr(st->key));
	hintsdb_close(db);
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	client_state *st = state_index >= 0 ? SSL_get_ex_data(ssl, state_index) : NULL;
	/* Only tickets: a bare TLS 1.2 session id needs a server-side cache, which Exim and Postern
	 * servers do not keep. */
	if (!st || !SSL_SESSION_is_resumable(sess) || !SSL_SESSION_has_ticket(sess)) return 0;
	st->bits |= TLS_RESUME_SERVER_TICKET;
	int len = i2d_SSL_SESSION(sess, NULL);
	if (len <= 0) return 0;
	unsigned char *der = malloc((size_t)len), *p = der;
	if (!der) return 0;
	i2d_SSL_SESSION(sess, &p);
	time_t made = (time_t)SSL_SESSION_get_time(sess);
	time_t expires = made + (time_t)SSL_SESSION_get_timeout(sess);
	unsigned long hint = SSL_SESSION_get_ticket_lifetime_hint(sess);
	if (hint > 0 && made + (time_t)hint < expires) expires = made + (time_t)hint;
	xbuf rec;
	xbuf_init(&rec, NULL);
	tls_resume_record_encode(time(NULL), expires, sv_make((const char *)der, (size_t)len), &rec);
	free(der);
	hintsdb *db = open_db(false);
	if (db) {
		if (hintsdb_put(db, sv_cstr(st->key), xbuf_sv(&rec))) {
			st->stored = true;
			st->deleted = false;
		}
		hintsdb_close(db);
	}
	xbuf_free(&rec);
	return 0;   /* we keep no reference to sess */
}

/* The stored session for key when it can still be offered on ssl; NULL otherwise, with *stale
 * set when the entry should go. */
static SSL_SESSION *stored_session(SSL *ssl, const char *key, bool *stale)
{
	*stale = false;
	hintsdb *db = open_db(true);
	if (!db) return NULL;
	xbuf val;
	xbuf_init(&val, NULL);
	int found = hintsdb_get(db, sv_cstr(key), &val);
	hintsdb_close(db);
	SSL_SESSION *sess = NULL;
	time_t stored, expires;
	sv der;
	if (found == 1) {
		if (!tls_resume_record_decode(xbuf_sv(&val), &stored, &expires, &der) || expires <= time(NULL)) {
			*stale = true;
		} else {
			const unsigned char *p = (const unsigned char *)der.p;
			sess = d2i_SSL_SESSION(NULL, &p, (long)der.len);
			int ver = sess ? SSL_SESSION_get_protocol_version(sess) : 0;
			int lo = SSL_get_min_proto_version(ssl), hi = SSL_get_max_proto_version(ssl);
			if (!sess || !SSL_SESSION_is_resumable(sess) || (lo && ver < lo) || (hi && ver > hi)) {
				SSL_SESSION_free(sess);
				sess = NULL;
				*stale = true;
			}
		}
	}
	xbuf_free(&val);
	return sess;
}

void tls_resume_client_setup(SSL *ssl, const char *key)
{
	if (state_index < 0)
		state_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, state_free);
	client_state *st = calloc(1, sizeof *st);
	if (!st || !key || strlen(key) >= sizeof st->key) {
		free(st);
		SSL_set_options(ssl, SSL_OP_NO_TICKET);
		return;
	}
	strcpy(st->key, key);
	st->bits = TLS_RESUME_SUPPORTED | TLS_RESUME_CLIENT_REQUESTED;
	SSL_set_ex_data(ssl, state_index, st);
	/* Exim's default openssl_options have no_ticket; asking for a ticket is the point here. */
	SSL_clear_options(ssl, SSL_OP_NO_TICKET);
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	bool stale;
	SSL_SESSION *sess = stored_session(ssl, key, &stale);
	if (stale) delete_entry(st);
	if (sess) {
		if (SSL_set_session(ssl, sess) == 1) st->bits |= TLS_RESUME_CLIENT_OFFERED;
		SSL_SESSION_free(sess);
	}
}

unsigned tls_resume_client_result(SSL *ssl)
{
	client_state *st = state_index >= 0 ? SSL_get_ex_data(ssl, state_index) : NULL;
	if (!st) return TLS_RESUME_SUPPORTED;
	unsigned bits = st->bits;
	if (SSL_session_reused(ssl)) {
		bits |= TLS_RESUME_USED;
	} else if ((bits & TLS_RESUME_CLIENT_OFFERED) && !st->stored) {
		/* The server would not resume it: offering it again only costs. */
		delete_entry(st);
	}
	return bits;
}
