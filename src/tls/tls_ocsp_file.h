/* Reading and writing OCSP response files (tls_ocsp_file items) for the server and the staple
 * refresher. */
#ifndef POSTERN_TLS_TLS_OCSP_FILE_H
#define POSTERN_TLS_TLS_OCSP_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ocsp.h>

#include "lib/str.h"

/* The responses of one file: a DER file holds one, a PEM file up to TLS_OCSP_FILE_MAX. */
#define TLS_OCSP_FILE_MAX 8
typedef struct tls_ocsp_responses {
	OCSP_RESPONSE *v[TLS_OCSP_FILE_MAX];
	size_t n;
} tls_ocsp_responses;

/* One item of tls_ocsp_file: a leading "PEM " or "DER " sets *pem (and it stays set for the
 * following items, as the caller keeps *pem); returns the path after it. */
const char *tls_ocsp_file_item(const char *item, bool *pem);

/* Parse a file's bytes. false (why set) when nothing usable is in it: PEM blocks of another
 * type are skipped; bytes that do not decode are an error. */
bool tls_ocsp_file_parse(const unsigned char *buf, size_t len, bool pem, tls_ocsp_responses *out,
	xbuf *why);
/* Read (at most a bounded size) and parse a file. */
bool tls_ocsp_file_load(const char *path, bool pem, tls_ocsp_responses *out, xbuf *why);
void tls_ocsp_responses_free(tls_ocsp_responses *r);

/* Replace path with rsp (DER or PEM) atomically: temporary file, fsync, rename, directory fsync.
 * The new file gets the old one's permission bits (0644 when there was none). */
bool tls_ocsp_file_store(const char *path, bool pem, OCSP_RESPONSE *rsp, xbuf *err);

#endif
