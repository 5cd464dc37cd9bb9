/* PROXY protocol header parser (HAProxy's "PROXY protocol" versions 1 and 2), pure over (ptr, len).
 *
 * Strict where Exim 4.96 is lax (see docs/proxy.md): a v1 TCP4 line must carry IPv4 addresses and
 * TCP6 IPv6 ones, ports are 0..65535 without leading zeros, the line ends in CRLF within 107
 * bytes and holds no other CR or LF; a v2 header whose declared length is shorter than its address
 * block, whose TLVs overrun it, or whose CRC32C TLV does not match is rejected.
 *
 * Outcomes of the spec's receiver rules:
 *   v1 TCP4/TCP6            addresses and ports from the line
 *   v1 UNKNOWN ...          accepted, local = true (keep the real peer); the rest of the line ignored
 *   v2 LOCAL (cmd 0)        accepted, local = true; address bytes skipped, TLVs parsed when the
 *                           family says where they start
 *   v2 PROXY TCP over IPv4/IPv6   addresses and ports from the block, then TLVs
 *   v2 PROXY UNSPEC (0x00)  accepted, local = true (the spec's fallback for unknown families)
 *   v2 PROXY UDP, UNIX      rejected: an SMTP client cannot be described by them (the spec lets a
 *                           receiver reject unsupported families)
 *   anything else           rejected
 * Views in proxy_header point into the parsed buffer.
 */
#ifndef POSTERN_MAIL_PROXY_H
#define POSTERN_MAIL_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ip.h"
#include "lib/str.h"

#define PROXY_V1_MAX_LINE 107       /* including CRLF */
#define PROXY_V2_HEADER_FIXED 16    /* signature, version/command, family, length */
#define PROXY_V2_MAX_PAYLOAD 1536   /* our bound on the declared length (addresses + TLVs) */
#define PROXY_UNIQUE_ID_MAX 128

extern const uint8_t proxy_v2_signature[12];

/* TLV types of the specification. */
enum {
	PP2_TYPE_ALPN = 0x01,
	PP2_TYPE_AUTHORITY = 0x02,
	PP2_TYPE_CRC32C = 0x03,
	PP2_TYPE_NOOP = 0x04,
	PP2_TYPE_UNIQUE_ID = 0x05,
	PP2_TYPE_SSL = 0x20,
	PP2_SUBTYPE_SSL_VERSION = 0x21,
	PP2_SUBTYPE_SSL_CN = 0x22,
	PP2_SUBTYPE_SSL_CIPHER = 0x23,
	PP2_SUBTYPE_SSL_SIG_ALG = 0x24,
	PP2_SUBTYPE_SSL_KEY_ALG = 0x25,
	PP2_TYPE_NETNS = 0x30,
};

enum { PP2_CLIENT_SSL = 0x01, PP2_CLIENT_CERT_CONN = 0x02, PP2_CLIENT_CERT_SESS = 0x04 };

/* The TLVs of a v2 header; a view is SV_NULL (p == NULL) when the TLV was absent. The first
 * occurrence of a type wins. */
typedef struct proxy_tlvs {
	sv alpn, authority, unique_id, netns;
	bool has_crc32c;            /* present (and verified: a mismatch rejects the header) */
	bool has_ssl;
	uint8_t ssl_client;         /* PP2_CLIENT_* bits */
	uint32_t ssl_verify;        /* 0: the client certificate was verified */
	sv ssl_version, ssl_cn, ssl_cipher, ssl_sig_alg, ssl_key_alg;
} proxy_tlvs;

typedef struct proxy_header {
	int version;                /* 1 or 2 */
	bool local;                 /* LOCAL / UNKNOWN / UNSPEC: use the real connection's endpoints */
	ip_addr src, dst;           /* valid when !local */
	int src_port, dst_port;     /* 0..65535, valid when !local */
	proxy_tlvs tlv;
} proxy_header;

/* How many bytes the header starting at p occupies, as far as the first bytes tell:
 *   > 0  the total length (v2: 16 + declared length, needs at least 16 bytes)
 *   0    more bytes are needed to tell (fewer than 16 bytes of a possible v2, or a v1 line whose
 *        CRLF has not arrived within the 107-byte limit yet)
 *   -1   not a PROXY header, or a v1 line without CRLF in 107 bytes, or a v2 length over our bound.
 * The reader uses it to fetch exactly the header and no byte of what follows. */
long proxy_header_length(const uint8_t *p, size_t n);

/* Parse exactly one complete header occupying all of p[0..n). true on success; false with a
 * static reason in *why. */
bool proxy_parse(const uint8_t *p, size_t n, proxy_header *out, const char **why);

/* CRC32C (Castagnoli, RFC 4960 appendix B) of p[0..n). */
uint32_t proxy_crc32c(const uint8_t *p, size_t n);

#endif
