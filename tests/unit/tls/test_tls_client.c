/* The generic TLS client (src/tls/tls_client.c) against an OpenSSL server in a child process
 * over a socketpair. A CA and certificates (EC P-256) are made in memory at run time. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../unit.h"
#include "lib/arena.h"
#include "lib/bio.h"
#include "lib/log.h"
#include "tls/tls_client.h"

static char dir[] = "/tmp/tlsclient-XXXXXX";
static char ca_file[128], other_ca_file[128], srv_cert[128], srv_key[128], cli_cert[128], cli_key[128];
static char log_path[160];

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	X509_add_ext(cert, e, -1);
	X509_EXTENSION_free(e);
}

static X509 *make_cert(const char *cn, const char *san, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *c = X509_new();
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), rand());
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400);
	X509_set_pubkey(c, key);
	X509_NAME *n = X509_get_subject_name(c);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
	if (!issuer) add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
	if (san) add_ext(c, issuer ? issuer : c, NID_subject_alt_name, san);
	X509_sign(c, issuer_key, EVP_sha256());
	return c;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	if (cert) PEM_write_X509(f, cert);
	if (key) PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

static void make_pki(void)
{
	if (!mkdtemp(dir)) abort();
	snprintf(ca_file, sizeof ca_file, "%s/ca.pem", dir);
	snprintf(other_ca_file, sizeof other_ca_file, "%s/other.pem", dir);
	snprintf(srv_cert, sizeof srv_cert, "%s/srv.pem", dir);
	snprintf(srv_key, sizeof srv_key, "%s/srv.key", dir);
	snprintf(cli_cert, sizeof cli_cert, "%s/cli.pem", dir);
	snprintf(cli_key, sizeof cli_key, "%s/cli.key", dir);
	EVP_PKEY *cak = new_key(), *ok = new_key(), *sk = new_key(), *ck = new_key();
	X509 *ca = make_cert("Test CA", NULL, cak, NULL, cak);
	X509 *other = make_cert("Other CA", NULL, ok, NULL, ok);
	X509 *srv = make_cert("mx.example", "DNS:mx.example,DNS:*.wild.example", sk, ca, cak);
	X509 *cli = make_cert("client.example", NULL, ck, ca, cak);
	write_pem(ca_file, ca, NULL);
	write_pem(other_ca_file, other, NULL);
	write_pem(srv_cert, srv, NULL);
	write_pem(srv_key, NULL, sk);
	write_pem(cli_cert, cli, NULL);
	write_pem(cli_key, NULL, ck);
}

/* ---- the server (a child process) ---- */

typedef enum { SRV_ECHO, SRV_SILENT, SRV_CLOSE } srv_mode;

/* Completes the handshake, then reports "<sni>|<client cert CN or ->" and echoes one line. */
static pid_t server(int fd, srv_mode mode)
{
	pid_t pid = fork();
	if (pid != 0) return pid;
	if (mode == SRV_SILENT) { sleep(5); _exit(0); }
	if (mode == SRV_CLOSE) { close(fd); _exit(0); }
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate_file(ctx, srv_cert, SSL_FILETYPE_PEM);
	SSL_CTX_use_PrivateKey_file(ctx, srv_key, SSL_FILETYPE_PEM);
	SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1) _exit(1);
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	X509 *peer = SSL_get1_peer_certificate(ssl);
	char cn[128] = "-";
	if (peer) X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
	char line[512];
	int n = snprintf(line, sizeof line, "%s|%s\n", sni ? sni : "-", cn);
	SSL_write(ssl, line, n);
	n = SSL_read(ssl, line, sizeof line);
	if (n > 0) SSL_write(ssl, line, n);
	SSL_shutdown(ssl);
	_exit(0);
}

typedef struct outcome {
	bool ok;
	const char *err;
	tls_client_session s;
	const char *first_line, *echo;
} outcome;

static outcome run(tls_client_params *p, srv_mode mode)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t pid = server(sv[1], mode);
	close(sv[1]);
	outcome o = { 0 };
	xbuf err;
	xbuf_init(&err, pool_scratch);
	p->peer_tag = "[192.0.2.1]";
	o.ok = tls_client_start(pool_scratch, sv[0], p, &o.s, &err);
	o.err = xbuf_cstr(&err);
	o.first_line = o.echo = "";
	if (o.ok) {
		bio b;
		bio_init(&b, sv[0], sv[0]);
		b.write_timeout_ms = 2000;
		bio_set_layer(&b, &o.s.layer);
		xbuf line;
		xbuf_init(&line, pool_scratch);
		if (bio_read_line(&b, &line, 512, 2000) == BIO_OK) o.first_line = arena_strdup(pool_scratch, xbuf_cstr(&line));
		bio_puts(&b, "hello over tls\n");
		bio_flush(&b);
		xbuf_reset(&line);
		if (bio_read_line(&b, &line, 512, 2000) == BIO_OK) o.echo = arena_strdup(pool_scratch, xbuf_cstr(&line));
		tls_client_end(&o.s, true);
		tls_client_end(&o.s, false);   /* twice is harmless */
	}
	close(sv[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return o;
}

static bool log_has(const char *needle)
{
	FILE *f = fopen(log_path, "r");
	if (!f) return false;
	char line[2048];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void test_verified(void)
{
	tls_client_params p = { .verify_certificates = ca_file, .verify = TLS_CLIENT_VERIFY_REQUIRE,
		.verify_names = "mx.example", .sni = "mx.example", .timeout_ms = 5000 };
	outcome o = run(&p, SRV_ECHO);
	CHECK(o.ok);
	CHECK_STR(o.err, "");
	CHECK(o.s.verified);
	CHECK_STR(sv_dup(pool_scratch, o.s.peerdn), "/CN=mx.example");
	CHECK(o.s.peerdn.taint);
	CHECK(strncmp(sv_dup(pool_scratch, o.s.peercert), "-----BEGIN CERTIFICATE-----", 27) == 0);
	CHECK_STR(sv_dup(pool_scratch, o.s.ver), "TLS1.3");
	CHECK_STR(sv_dup(pool_scratch, o.s.cipher), "TLS1.3:TLS_AES_256_GCM_SHA384:256");
	CHECK_INT(o.s.bits, 256);
	CHECK_INT(o.s.ourcert.len, 0);
	CHECK(!o.s.resumed);
	CHECK_STR(o.first_line, "mx.example|-");
	CHECK_STR(o.echo, "hello over tls");
}

static void test_client_cert_and_tls12(void)
{
	tls_client_params p = { .certificate = cli_cert, .privatekey = cli_key, .verify_certificates = ca_file,
		.verify = TLS_CLIENT_VERIFY_TRY, .openssl_options = "+no_tlsv1_3", .timeout_ms = 5000,
		.require_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" };
	outcome o = run(&p, SRV_ECHO);
	CHECK(o.ok);
	CHECK_STR(o.first_line, "-|client.example");
	CHECK_STR(sv_dup(pool_scratch, o.s.cipher), "TLS1.2:ECDHE-ECDSA-AES128-GCM-SHA256:128");
	CHECK(o.s.ourcert.len > 0);
	CHECK(o.s.verified);   /* no names asked for: the chain alone counts */
}

static void test_wildcard_and_lists(void)
{
	tls_client_params p = { .verify_certificates = ca_file, .verify = TLS_CLIENT_VERIFY_REQUIRE,
		.verify_names = "nomatch.example : a.wild.example", .timeout_ms = 5000 };
	outcome o = run(&p, SRV_ECHO);
	CHECK(o.ok);
	CHECK(o.s.verified);
	p.verify_names = "a.b.wild.example";   /* a wildcard covers one label only */
	o = run(&p, SRV_ECHO);
	CHECK(!o.ok);
}

static void test_name_mismatch(void)
{
	tls_client_params p = { .verify_certificates = ca_file, .verify = TLS_CLIENT_VERIFY_REQUIRE,
		.verify_names = "other.example", .timeout_ms = 5000 };
	outcome o = run(&p, SRV_ECHO);
	CHECK(!o.ok);
	CHECK_STR(o.err, "(SSL_connect): error:0A000086:SSL routines::certificate verify failed");
	CHECK(log_has("[192.0.2.1] SSL verify error: certificate name mismatch: DN=\"/CN=mx.example\" H=\"other.example\""));
	p.verify = TLS_CLIENT_VERIFY_TRY;
	o = run(&p, SRV_ECHO);
	CHECK(o.ok);
	CHECK(!o.s.verified);
	CHECK_STR(sv_dup(pool_scratch, o.s.verify_error), "certificate name mismatch");
	CHECK_STR(o.echo, "hello over tls");
}

/* The server sends its chain (OpenSSL adds the CA from its store), so the failure is at depth 1. */
static void test_unknown_ca(void)
{
	tls_client_params p = { .verify_certificates = other_ca_file, .verify = TLS_CLIENT_VERIFY_REQUIRE,
		.timeout_ms = 5000 };
	outcome o = run(&p, SRV_ECHO);
	CHECK(!o.ok);
	CHECK_STR(o.err, "(SSL_connect): error:0A000086:SSL routines::certificate verify failed");
	CHECK(log_has("[192.0.2.1] SSL verify error: depth=1 error=self-signed certificate in certificate chain cert=/CN=Test CA"));
	p.verify = TLS_CLIENT_VERIFY_TRY;
	o = run(&p, SRV_ECHO);
	CHECK(o.ok);
	CHECK(!o.s.verified);
	CHECK_STR(sv_dup(pool_scratch, o.s.verify_error), "self-signed certificate in certificate chain");
	p.verify = TLS_CLIENT_VERIFY_NONE;
	o = run(&p, SRV_ECHO);
	CHECK(o.ok);
	CHECK(!o.s.verified);
	CHECK_STR(sv_dup(pool_scratch, o.s.verify_error), "");
}

static void test_failures(void)
{
	tls_client_params p = { .verify = TLS_CLIENT_VERIFY_NONE, .timeout_ms = 300 };
	outcome o = run(&p, SRV_SILENT);
	CHECK(!o.ok);
	CHECK_STR(o.err, "(SSL_connect): timed out");
	o = run(&p, SRV_CLOSE);
	CHECK(!o.ok);
	CHECK(strncmp(o.err, "(SSL_connect): ", 15) == 0);
	p.openssl_options = "+no_such_thing";
	o = run(&p, SRV_ECHO);
	CHECK(!o.ok);
	CHECK_STR(o.err, "openssl_options: unknown option \"+no_such_thing\"");
	p.openssl_options = NULL;
	p.certificate = "/nonexistent/cert.pem";
	o = run(&p, SRV_ECHO);
	CHECK(!o.ok);
	CHECK(strncmp(o.err, "cert/key setup: cert=/nonexistent/cert.pem: ", 44) == 0);
	p.certificate = NULL;
	p.require_ciphers = "NO-SUCH-CIPHER";
	o = run(&p, SRV_ECHO);
	CHECK(!o.ok);
	CHECK(strncmp(o.err, "SSL_CTX_set_cipher_list(NO-SUCH-CIPHER): ", 41) == 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	arena_init_pools();
	make_pki();
	log_config lc;
	log_config_default(&lc);
	char lp[160];
	snprintf(lp, sizeof lp, "%s/%%slog", dir);
	snprintf(log_path, sizeof log_path, "%s/mainlog", dir);
	lc.file_path = lp;
	lc.echo = LOG_ECHO_NONE;
	xbuf err;
	xbuf_init(&err, pool_scratch);
	if (!log_configure(&lc, &err)) fprintf(stderr, "log: %s\n", xbuf_cstr(&err));
	RUN(test_verified);
	RUN(test_client_cert_and_tls12);
	RUN(test_wildcard_and_lists);
	RUN(test_name_mismatch);
	RUN(test_unknown_ca);
	RUN(test_failures);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
	return unit_report("test_tls_client");
}
