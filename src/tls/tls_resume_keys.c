/* Session-ticket keys: the in-memory ring, the shared key file, and OpenSSL's ticket-key callback
 * (see tls_resume_keys.h). The ring lives in the daemon; children get a copy at fork, so it needs
 * no locking and every child of one daemon shares the keys. */
#include "tls/tls_resume_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/codec.h"
#include "lib/log.h"

/* Bigger than any sensible key file (16 keys of 161 bytes plus comments). */
enum { KEY_FILE_MAX = 64 * 1024 };

static struct {
	tls_ticket_key k[TLS_TICKET_KEYS_MAX];   /* k[0] encrypts; all decrypt */
	size_t n;
	time_t made;                             /* when k[0] was made (in-memory keys) */
	bool from_file;
	/* The key file as last examined (loaded or not), so a bad file is reported once. */
	bool seen;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} ring;

static void (*issued_cb)(SSL *ssl);

bool tls_ticket_keys_parse(sv text, tls_ticket_key *keys, size_t max, size_t *n, xbuf *err)
{
	*n = 0;
	size_t lineno = 0, pos = 0;
	while (pos < text.len) {
		const char *nl = memchr(text.p + pos, '\n', text.len - pos);
		size_t end = nl ? (size_t)(nl - text.p) : text.len;
		sv line = sv_trim(sv_sub(text, pos, end - pos));
		pos = end + 1;
		lineno++;
		if (line.len == 0 || line.p[0] == '#')
			continue;
		if (line.len != 2 * sizeof(tls_ticket_key)) {
			xbuf_printf(err, "line %zu: a key is %zu hex digits, not %zu", lineno,
				2 * sizeof(tls_ticket_key), line.len);
			return false;
		}
		if (*n == max) {
			xbuf_printf(err, "line %zu: more than %zu keys", lineno, max);
			return false;
		}
		unsigned char raw[sizeof(tls_ticket_key)];
		for (size_t i = 0; i < sizeof raw; i++) {
			int hi = codec_hex_digit((unsigned char)line.p[2 * i]);
			int lo = codec_hex_digit((unsigned char)line.p[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				xbuf_printf(err, "line %zu: not a hex digit at column %zu", lineno, 2 * i + (hi < 0 ? 1 : 2));
				return false;
			}
			raw[i] = (unsigned char)(hi << 4 | lo);
		}
		tls_ticket_key *k = &keys[(*n)++];
		memcpy(k->name, raw, sizeof k->name);
		memcpy(k->aes, raw + sizeof k->name, sizeof k->aes);
		memcpy(k->hmac, raw + sizeof k->name + sizeof k->aes, sizeof k->hmac);
		OPENSSL_cleanse(raw, sizeof raw);
	}
	if (*n == 0) {
		xbuf_puts(err, "no keys");
		return false;
	}
	return true;
}

static bool random_key(tls_ticket_key *k)
{
	return RAND_bytes((unsigned char *)k, sizeof *k) == 1;
}

/* In-memory keys: a new current key every hour, the last one kept for tickets already out. */
/* Bumped whenever the ring changes (tls_daemon_generation). */
static unsigned tls_keys_generation;

unsigned tls_ticket_keys_generation(void)
{
	return tls_keys_generation;
}

static void rotate_memory_keys(time_t now)
{
	if (ring.from_file) {
		ring.from_file = false;
		ring.n = 0;
	}
	if (ring.n > 0 && now - ring.made < TLS_TICKET_KEY_ROTATE_SECS && now >= ring.made)
		return;
	tls_ticket_key fresh;
	if (!random_key(&fresh)) {
		log_write(LOG_MAIN | LOG_PANIC, "TLS session tickets: no random bytes for a new key");
		return;
	}
	if (ring.n > 0)
		ring.k[1] = ring.k[0];
	ring.k[0] = fresh;
	ring.n = ring.n > 0 ? 2 : 1;
	ring.made = now;
	OPENSSL_cleanse(&fresh, sizeof fresh);
	tls_keys_generation++;
}

/* Read and parse the key file; false (logged) leaves the ring unchanged. */
static bool load_key_file(const char *path, int fd, const struct stat *st)
{
	if (st->st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		log_write(LOG_MAIN | LOG_PANIC, "tls_ticket_key_file %s: not used: readable by others or "
			"writable by its group (mode %04o)", path, (unsigned)(st->st_mode & 07777));
		return false;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > KEY_FILE_MAX) {
		log_write(LOG_MAIN | LOG_PANIC, "tls_ticket_key_file %s: not a regular file of at most %d bytes",
			path, KEY_FILE_MAX);
		return false;
	}
	char buf[KEY_FILE_MAX];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof buf - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) {
			log_write(LOG_MAIN | LOG_PANIC, "tls_ticket_key_file %s: read: %s", path, strerror(errno));
			return false;
		}
		if (r == 0 || (got += (size_t)r) == sizeof buf) break;
	}
	tls_ticket_key keys[TLS_TICKET_KEYS_MAX];
	size_t n;
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = tls_ticket_keys_parse(sv_make(buf, got), keys, TLS_TICKET_KEYS_MAX, &n, &err);
	OPENSSL_cleanse(buf, got);
	if (!ok) {
		log_write(LOG_MAIN | LOG_PANIC, "tls_ticket_key_file %s: %s", path, xbuf_cstr(&err));
		xbuf_free(&err);
		return false;
	}
	xbuf_free(&err);
	OPENSSL_cleanse(ring.k, sizeof ring.k);
	memcpy(ring.k, keys, n * sizeof keys[0]);
	ring.n = n;
	ring.from_file = true;
	OPENSSL_cleanse(keys, sizeof keys);
	return true;
}

void tls_ticket_keys_refresh(time_t now)
{
	const char *path = conf_main.tls_ticket_key_file;
	if (!path || !*path) {
		rotate_memory_keys(now);
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0) close(fd);
		/* Reported once per disappearance; the keys in use stay (memory keys if none yet). */
		if (ring.seen || ring.n == 0)
			log_write(LOG_MAIN | LOG_PANIC, "tls_ticket_key_file %s: %s", path, strerror(e));
		ring.seen = false;
		if (!ring.from_file) rotate_memory_keys(now);
		return;
	}
	bool changed = !ring.seen || st.st_dev != ring.dev || st.st_ino != ring.ino || st.st_size != ring.size
		|| st.st_mtim.tv_sec != ring.mtime.tv_sec || st.st_mtim.tv_nsec != ring.mtime.tv_nsec;
	if (changed) {
		ring.seen = true;
		ring.dev = st.st_dev;
		ring.ino = st.st_ino;
		ring.size = st.st_size;
		ring.mtime = st.st_mtim;
		load_key_file(path, fd, &st);
		tls_keys_generation++;
	}
	close(fd);
	if (!ring.from_file) rotate_memory_keys(now);
}

static const tls_ticket_key *find_key(const unsigned char name[16], bool *current)
{
	for (size_t i = 0; i < ring.n; i++)
		if (CRYPTO_memcmp(ring.k[i].name, name, 16) == 0) {
			*current = i == 0;
			return &ring.k[i];
		}
	return NULL;
}

static bool set_hmac_key(EVP_MAC_CTX *hctx, const tls_ticket_key *k)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof k->hmac),
		OSSL_PARAM_construct_end(),
	};
	return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

/* OpenSSL's contract: on encryption fill name and iv and set up both contexts (1, or -1 to send
 * no ticket); on decryption return 0 for an unknown key (full handshake), 1 to accept, 2 to
 * accept and issue a replacement ticket under the current key. */
static int ticket_key_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
	EVP_MAC_CTX *hctx, int enc)
{
	if (ring.n == 0)
		tls_ticket_keys_refresh(time(NULL));
	if (enc) {
		if (ring.n == 0) return -1;
		const tls_ticket_key *k = &ring.k[0];
		int ivlen = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
		if (RAND_bytes(iv, ivlen) != 1) return -1;
		memcpy(name, k->name, 16);
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 || !set_hmac_key(hctx, k))
			return -1;
		if (issued_cb) issued_cb(ssl);
		return 1;
	}
	bool current = false;
	const tls_ticket_key *k = find_key(name, &current);
	if (!k) return 0;
	if (!set_hmac_key(hctx, k) || EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
		return -1;
	/* A TLS 1.3 client should use a ticket once (RFC 8446 appendix C.4), so every resumption
	 * gets a fresh one; under TLS 1.2 only tickets made with an older key are replaced. */
	return current && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
}

void tls_ticket_keys_install(SSL_CTX *ctx, void (*issued)(SSL *ssl))
{
	issued_cb = issued;
	if (ring.n == 0)
		tls_ticket_keys_refresh(time(NULL));
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
}
