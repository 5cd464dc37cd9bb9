/* TLS session resumption pieces (src/tls/tls_resume_*.c): the ticket-key file parser, the client's
 * hints key and record codec, and the client half end to end over memory BIOs against an OpenSSL
 * server that issues tickets: the first session stores a ticket in the `tls` hints database, the
 * second offers it and is resumed ($tls_out_resumption 11, then 31), an expired entry is deleted
 * instead of offered. TLS 1.2 and 1.3. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../unit.h"
#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/hintsdb.h"
#include "lib/arena.h"
#include "tls/tls_resume.h"
#include "tls/tls_resume_db.h"
#include "tls/tls_resume_keys.h"

#define HEX160(c) c c c c c c c c c c c c c c c c
#define K0 HEX160("0123456789")
#define K1 HEX160("abcdefABCD")

static const struct { const char *text; bool ok; size_t n; const char *err; } key_files[] = {
	{ K0 "\n", true, 1, "" },
	{ "# comment\n\n  " K0 "  \r\n" K1, true, 2, "" },
	{ "", false, 0, "no keys" },
	{ "# only a comment\n", false, 0, "no keys" },
	{ K0 "0\n", false, 0, "line 1: a key is 160 hex digits, not 161" },
	{ "\n" K0 " " K1 "\n", false, 0, "line 2: a key is 160 hex digits, not 321" },
	{ "x" HEX160("123456789") "123456789012345\n", false, 0, "line 1: not a hex digit at column 1" },
	{ K0 "\n" K0 "\n" K0 "\n", false, 0, "line 3: more than 2 keys" },
};

static void test_key_file(void)
{
	for (size_t i = 0; i < sizeof key_files / sizeof key_files[0]; i++) {
		tls_ticket_key keys[2];
		size_t n = 99;
		xbuf err;
		xbuf_init(&err, pool_scratch);
		bool ok = tls_ticket_keys_parse(sv_cstr(key_files[i].text), keys, 2, &n, &err);
		CHECK_INT(ok, key_files[i].ok);
		if (ok) CHECK_INT((int)n, (int)key_files[i].n);
		CHECK_STR(xbuf_cstr(&err), key_files[i].err);
	}
	tls_ticket_key k[2];
	size_t n;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	CHECK(tls_ticket_keys_parse(sv_cstr(K0 "\n" K1), k, 2, &n, &err));
	/* name, AES key, HMAC key in that order */
	CHECK(k[0].name[0] == 0x01 && k[0].name[1] == 0x23 && k[0].aes[0] == 0x23 && k[0].hmac[31] == 0x89);
	CHECK(k[1].name[0] == 0xab && k[1].name[2] == 0xef);
}

static void test_client_key(void)
{
	tls_resume_peer p = { sv_cstr("mx.example"), sv_cstr("192.0.2.1"), 25, sv_cstr("192.0.2.9"),
		sv_cstr(""), sv_cstr(""), sv_cstr("mx.example"), sv_cstr(""), sv_cstr("") };
	const char *k = tls_resume_client_key(pool_scratch, &p);
	CHECK_INT((int)strlen(k), 64);
	CHECK(strspn(k, "0123456789abcdef") == 64);
	CHECK_STR(tls_resume_client_key(pool_scratch, &p), k);
	tls_resume_peer q = p;
	q.port = 587;
	CHECK(strcmp(tls_resume_client_key(pool_scratch, &q), k) != 0);
	q = p;
	q.sni = sv_cstr("");
	CHECK(strcmp(tls_resume_client_key(pool_scratch, &q), k) != 0);
	/* field boundaries matter: "mx.example"+"" differs from "mx."+"example" */
	tls_resume_peer a = p, b = p;
	a.openssl_options = sv_cstr("+no_tlsv1");
	a.require_ciphers = sv_cstr("");
	b.openssl_options = sv_cstr("+no_");
	b.require_ciphers = sv_cstr("tlsv1");
	CHECK(strcmp(tls_resume_client_key(pool_scratch, &a), tls_resume_client_key(pool_scratch, &b)) != 0);
	/* A session made under DANE (or with ALPN) is stored apart; without either the key is as
	 * before those fields existed. */
	q = p;
	q.dane = sv_cstr("3 1 1 00ff\n");
	const char *kd = tls_resume_client_key(pool_scratch, &q);
	CHECK(strcmp(kd, k) != 0);
	q.dane = sv_cstr("3 1 1 00fe\n");
	CHECK(strcmp(tls_resume_client_key(pool_scratch, &q), kd) != 0);
	q = p;
	q.alpn = sv_cstr("smtp");
	CHECK(strcmp(tls_resume_client_key(pool_scratch, &q), k) != 0);
}

static void test_record(void)
{
	xbuf rec;
	xbuf_init(&rec, pool_scratch);
	tls_resume_record_encode(1700000000, 1700007200, sv_make("\x30\x03\x02\x01\x01", 5), &rec);
	CHECK_INT((int)rec.len, TLS_RESUME_RECORD_HEADER + 5);
	time_t s, e;
	sv der;
	CHECK(tls_resume_record_decode(xbuf_sv(&rec), &s, &e, &der));
	CHECK(s == 1700000000 && e == 1700007200 && der.len == 5 && memcmp(der.p, "\x30\x03", 2) == 0);
	CHECK(!tls_resume_record_decode(sv_make(rec.p, TLS_RESUME_RECORD_HEADER), &s, &e, &der));
	rec.p[0] = 2;
	CHECK(!tls_resume_record_decode(xbuf_sv(&rec), &s, &e, &der));
}

/* ---- the client half against a real OpenSSL server, in memory ---- */

static SSL_CTX *server_ctx(int version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
		(const unsigned char *)"mx.example", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	X509_set_pubkey(cert, key);
	X509_sign(cert, key, EVP_sha256());
	CHECK(SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	return ctx;
}

/* Drive both ends until the handshake is done, then exchange one record each way so a TLS 1.3
 * ticket (sent after the handshake) reaches the client. Returns the client's result bits. */
static unsigned session(SSL_CTX *sctx, SSL_CTX *cctx, const char *key)
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *sb, *cb;
	BIO_new_bio_pair(&sb, 0, &cb, 0);
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	tls_resume_client_setup(c, key);
	int sdone = 0, cdone = 0;
	for (int i = 0; i < 50 && (sdone != 1 || cdone != 1); i++) {
		if (cdone != 1) cdone = SSL_do_handshake(c);
		if (sdone != 1) sdone = SSL_do_handshake(s);
	}
	CHECK(sdone == 1 && cdone == 1);
	char buf[16];
	size_t got;
	CHECK(SSL_write_ex(s, "250 ok\r\n", 8, &got) == 1);
	CHECK(SSL_read_ex(c, buf, sizeof buf, &got) == 1 && got == 8);
	unsigned bits = tls_resume_client_result(c);
	SSL_free(c);
	SSL_free(s);
	return bits;
}

static int count_records(const char *spool)
{
	xbuf err;
	xbuf_init(&err, pool_scratch);
	hintsdb *db = hintsdb_open(spool, TLS_RESUME_DB, true, &err);
	if (!db) return 0;
	int n = 0;
	xbuf v;
	xbuf_init(&v, pool_scratch);
	for (int i = 0; i < 2; i++) {
		xbuf_reset(&v);
		n += hintsdb_get(db, sv_cstr(i ? "other" : "k"), &v) == 1;
	}
	hintsdb_close(db);
	return n;
}

static void expire_record(const char *spool, const char *key)
{
	xbuf err, v, out;
	xbuf_init(&err, pool_scratch);
	xbuf_init(&v, pool_scratch);
	xbuf_init(&out, pool_scratch);
	hintsdb *db = hintsdb_open(spool, TLS_RESUME_DB, false, &err);
	CHECK(db && hintsdb_get(db, sv_cstr(key), &v) == 1);
	time_t s, e;
	sv der;
	CHECK(tls_resume_record_decode(xbuf_sv(&v), &s, &e, &der));
	tls_resume_record_encode(s, time(NULL) - 1, der, &out);
	CHECK(hintsdb_put(db, sv_cstr(key), xbuf_sv(&out)));
	hintsdb_close(db);
}

static void test_client_sessions(int version)
{
	char spool[] = "/tmp/test_tls_resume.XXXXXX";
	CHECK(mkdtemp(spool) != NULL);
	conf_main.spool_directory = spool;
	SSL_CTX *sctx = server_ctx(version);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);   /* as Exim's default openssl_options */
	const unsigned first = TLS_RESUME_SUPPORTED | TLS_RESUME_CLIENT_REQUESTED | TLS_RESUME_SERVER_TICKET;
	CHECK_INT((int)session(sctx, cctx, "k"), (int)first);
	CHECK_INT(count_records(spool), 1);
	unsigned again = session(sctx, cctx, "k");
	/* resumed; a TLS 1.3 server sends a fresh ticket, a TLS 1.2 one need not */
	CHECK(again & TLS_RESUME_USED);
	CHECK(again & TLS_RESUME_CLIENT_OFFERED);
	if (version == TLS1_3_VERSION) CHECK_INT((int)again, 31);
	/* another server name: nothing offered */
	CHECK_INT((int)session(sctx, cctx, "other"), (int)first);
	/* an expired entry is not offered */
	expire_record(spool, "k");
	CHECK_INT((int)session(sctx, cctx, "k"), (int)first);
	/* a server that no longer knows the ticket: full handshake; the entry is replaced */
	SSL_CTX *sctx2 = server_ctx(version);
	SSL_CTX_set_options(sctx2, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(sctx2, 0);
	unsigned refused = session(sctx2, cctx, "k");
	CHECK_INT((int)refused, (int)(TLS_RESUME_SUPPORTED | TLS_RESUME_CLIENT_REQUESTED | TLS_RESUME_CLIENT_OFFERED));
	CHECK_INT(count_records(spool), 1);   /* "k" deleted, "other" kept */
	SSL_CTX_free(sctx2);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", spool);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	arena_init_pools();
	RUN(test_key_file);
	RUN(test_client_key);
	RUN(test_record);
	test_client_sessions(TLS1_2_VERSION);
	test_client_sessions(TLS1_3_VERSION);
	return unit_report("test_tls_resume");
}
