/* Buffered socket I/O for the SMTP server: bounded line reads with a deadline, raw reads for
 * message data, and a buffered writer flushed with a deadline.
 *
 * The bytes move through a pluggable layer (plain read(2)/write(2) on file descriptors by
 * default); the TLS issue installs OpenSSL there after STARTTLS without the session noticing.
 * Nothing here grows without bound: a line longer than the caller's limit is discarded up to its
 * end and reported, and the input buffer has a fixed size.
 */
#ifndef POSTERN_LIB_BIO_H
#define POSTERN_LIB_BIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/str.h"

enum { BIO_INBUF = 16384, BIO_OUTBUF = 8192 };

/* A transport under the buffers. read/write behave like read(2)/write(2) on a non-blocking
 * descriptor (-1 with errno EAGAIN when they would block; the plain layer may block on a pipe
 * after poll() said it was ready). pending says how many bytes the
 * layer holds that poll() on the descriptor would not see (TLS records already decrypted). */
typedef struct bio_layer {
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	ssize_t (*write)(void *ctx, const void *buf, size_t n);
	size_t (*pending)(void *ctx);
	void *ctx;
} bio_layer;

typedef enum bio_rc {
	BIO_OK,
	BIO_EOF,        /* the peer closed (or stdin ended) */
	BIO_TIMEOUT,    /* the deadline passed */
	BIO_ERROR,      /* read/write failed (errno kept in bio.err) */
	BIO_TOOLONG,    /* the line exceeded the limit; it was consumed to its end */
} bio_rc;

typedef struct bio {
	int rfd, wfd;
	bio_layer layer;
	char in[BIO_INBUF];
	size_t in_pos, in_len;
	char out[BIO_OUTBUF];
	size_t out_len;
	int err;            /* errno of the last failure */
	bool eof;
	bool write_failed;  /* after a failed flush further output is dropped */
	int write_timeout_ms;
	unsigned long long bytes_in; /* total bytes taken from the layer */
	unsigned long lines;   /* lines consumed so far (batched SMTP reports line numbers) */
	bool last_unterminated; /* bio_read_line's last line ended at EOF without its LF */
} bio;

/* Plain descriptors (sockets, pipes or files; their flags are left alone). */
void bio_init(bio *b, int rfd, int wfd);
/* Replace the layer (STARTTLS); buffered input must be empty (the caller checks: anything
 * buffered before TLS starts is a protocol error). */
void bio_set_layer(bio *b, const bio_layer *l);

/* Read one line ending in LF within timeout_ms (< 0: no limit). The line is put into out
 * without its CR LF (a lone LF also ends a line), tainted. Lines longer than max bytes give
 * BIO_TOOLONG after the rest of the line was read and dropped. A final line without LF at EOF
 * is returned as a line; then BIO_EOF. */
bio_rc bio_read_line(bio *b, xbuf *out, size_t max, int timeout_ms);

/* Make at least one byte of input available within timeout_ms; *p and *n then show the
 * buffered bytes (consume them with bio_consume). */
bio_rc bio_peek(bio *b, const char **p, size_t *n, int timeout_ms);
void bio_consume(bio *b, size_t n);

/* Whether input is already buffered (here or in the TLS layer), without asking the socket. */
bool bio_input_buffered(const bio *b);
/* Whether input is waiting: buffered here, in the layer, or readable on the descriptor (within
 * wait_ms; 0 = just look). Used for Exim's synchronisation checks. */
bool bio_input_pending(bio *b, int wait_ms);
/* Bytes buffered here (for the "next input=" of a synchronisation error). */
sv bio_buffered(const bio *b);

/* Queue output; it goes out on bio_flush or when the buffer fills. */
void bio_write(bio *b, const void *p, size_t n);
void bio_puts(bio *b, const char *s);
void bio_printf(bio *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send everything queued within the write timeout; false on failure or timeout. */
bool bio_flush(bio *b);

#endif
