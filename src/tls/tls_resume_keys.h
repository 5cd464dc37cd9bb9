/* Session-ticket keys of the TLS server (docs/tls.md, "Session resumption").
 *
 * The daemon holds the keys in memory and its connection children inherit them at fork, so every
 * session of one daemon can resume every other's. Without tls_ticket_key_file the keys are random,
 * made in memory, and rotated hourly with one previous key still accepted (tickets stay usable for
 * one to two hours). With tls_ticket_key_file they come from that file, shared by several nodes
 * and rotated by whoever writes it; the daemon re-reads it when it changes. */
#ifndef POSTERN_TLS_TLS_RESUME_KEYS_H
#define POSTERN_TLS_TLS_RESUME_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "lib/str.h"

/* One key: the name a ticket carries, the AES-256-CBC key that encrypts it, the HMAC-SHA256 key
 * that authenticates it. A key-file line is these 80 bytes as 160 hex digits. */
typedef struct tls_ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
} tls_ticket_key;

enum { TLS_TICKET_KEYS_MAX = 16, TLS_TICKET_KEY_ROTATE_SECS = 3600 };

/* Parse a key file: one key per line (160 hex digits, surrounding blanks allowed); blank lines
 * and lines starting with '#' are skipped. The first key encrypts new tickets; all are accepted.
 * false with err set on a malformed line, on no key at all, or on more than max keys. */
bool tls_ticket_keys_parse(sv text, tls_ticket_key *keys, size_t max, size_t *n, xbuf *err);

/* The daemon, before each fork (and any process before its first TLS server session): rotate the
 * in-memory keys when due, or re-read tls_ticket_key_file when it changed. Cheap when nothing is
 * due (one stat of the key file). Problems are logged; the keys in use stay. */
void tls_ticket_keys_refresh(time_t now);
/* Added (acceptperf): changes whenever the key ring changed (for tls_daemon_generation). */
unsigned tls_ticket_keys_generation(void);

/* Make ctx encrypt and decrypt tickets with the keys. issued is called (with ssl) whenever a
 * ticket is made for a client. */
void tls_ticket_keys_install(SSL_CTX *ctx, void (*issued)(SSL *ssl));

#endif
