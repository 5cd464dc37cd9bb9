/* Message digests and HMAC over OpenSSL's EVP interface.
 *
 * Without OpenSSL (meson -Dopenssl=disabled) every function reports failure, so callers produce
 * their "unsupported" errors rather than wrong hashes.
 */
#ifndef POSTERN_LIB_DIGEST_H
#define POSTERN_LIB_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"

typedef enum digest_alg {
	DIGEST_MD5, DIGEST_SHA1, DIGEST_SHA224, DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512,
	DIGEST_SHA3_224, DIGEST_SHA3_256, DIGEST_SHA3_384, DIGEST_SHA3_512,
} digest_alg;

enum { DIGEST_MAX_LEN = 64 };

/* Names as used in ${hmac} and configuration: "md5", "sha1", "sha256", "sha3-256", ... */
bool digest_by_name(sv name, digest_alg *alg);
size_t digest_size(digest_alg alg);

/* Raw digest into out (DIGEST_MAX_LEN bytes); returns its length, 0 on failure. */
size_t digest_compute(digest_alg alg, sv data, uint8_t out[DIGEST_MAX_LEN]);
/* Digest as hex appended to out (taint of data carried); false on failure. */
bool digest_hex(digest_alg alg, sv data, bool upper, xbuf *out);
/* RFC 2104 HMAC; returns the length written to out, 0 on failure. */
size_t digest_hmac(digest_alg alg, sv key, sv data, uint8_t out[DIGEST_MAX_LEN]);

#endif
