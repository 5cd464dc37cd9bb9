/* Reading a PROXY protocol header (v1 or v2) from a just-accepted connection.
 *
 * The reader never consumes a byte beyond the header, because what follows may be a TLS
 * ClientHello (tls_on_connect) or pipelined SMTP: it reads 5 bytes to tell the versions apart,
 * then for v2 exactly the 16-byte fixed part and the declared length, for v1 one byte at a time
 * up to LF (107 bytes at most). The whole read is bounded by timeout_ms (proxy_protocol_timeout).
 * A v2 header declaring more than PROXY_V2_MAX_PAYLOAD bytes is refused, but its declared bytes are
 * still drained (within the same deadline) so that none of them is later taken as SMTP input.
 */
#ifndef POSTERN_SMTP_PROXY_READ_H
#define POSTERN_SMTP_PROXY_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expand/expand.h"
#include "lib/str.h"

/* A TLV value copied out of the header: binary-safe, len bytes in s (NUL-terminated for
 * convenience); present false when the header had no such TLV. Values longer than the array are
 * cut (all registered TLVs fit in practice: SNI names are at most 255 bytes). */
#define PROXY_TLV_TEXT(n) struct { bool present; size_t len; char s[n]; }

typedef struct proxy_info {
	int version;                  /* 1 or 2 */
	bool local;                   /* LOCAL, UNKNOWN or UNSPEC: keep the real peer */
	char src_addr[64], dst_addr[64]; /* the client and the proxy's public address (when !local) */
	int src_port, dst_port;
	/* v2 TLVs (all absent for v1) */
	PROXY_TLV_TEXT(256) alpn, authority, netns;
	PROXY_TLV_TEXT(129) unique_id;
	bool crc32c_verified;         /* a CRC32C TLV was present and matched */
	bool ssl;                     /* an SSL TLV was present */
	uint8_t ssl_client;           /* PP2_CLIENT_* bits (mail/proxy.h) */
	uint32_t ssl_verify;          /* 0: client certificate verified */
	PROXY_TLV_TEXT(64) ssl_version, ssl_sig_alg, ssl_key_alg;
	PROXY_TLV_TEXT(128) ssl_cipher;
	PROXY_TLV_TEXT(256) ssl_cn;
} proxy_info;

/* Read and parse one header from fd within timeout_ms. true on success (out filled); false with
 * a reason in err (timeout, EOF, read error, or the parser's reason). No log line is written:
 * Exim logs nothing for a failed negotiation; the session then refuses commands with 503. */
bool proxy_read_header(int fd, int timeout_ms, proxy_info *out, xbuf *err);

/* Variables beyond Exim for the v2 TLVs, all tainted and empty when absent (pi may be NULL: no
 * PROXY session): $proxy_alpn, $proxy_authority, $proxy_unique_id, $proxy_netns,
 * $proxy_ssl (yes/no: the client used TLS to the proxy), $proxy_ssl_verified (yes when the
 * client presented a certificate the proxy verified), $proxy_ssl_version, $proxy_ssl_cn,
 * $proxy_ssl_cipher, $proxy_ssl_sig_alg, $proxy_ssl_key_alg, $proxy_crc32c (yes when a checksum
 * was present and matched). The session pushes this provider for every connection so the names
 * are always known. p->ctx points at pi, which must outlive the provider's use. */
void proxy_vars_provider(const proxy_info *pi, xp_provider *p);

#endif
