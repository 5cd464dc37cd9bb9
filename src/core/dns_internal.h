/* Internals shared by the dns_*.c files: wire-format building and parsing, the transport, the
 * cache. Nothing outside src/core/dns_*.c includes this (tests and the fuzz target do). */
#ifndef POSTERN_CORE_DNS_INTERNAL_H
#define POSTERN_CORE_DNS_INTERNAL_H

#include "core/dns.h"

#define DNS_HDR_LEN 12
#define DNS_MAX_UDP 4096     /* our EDNS0 buffer size, and the UDP receive buffer */
#define DNS_MAX_NAME_TEXT 1024 /* presentation form of a 255-byte name with \DDD escapes */
#define DNS_MAX_RRS 512      /* records decoded per section; the rest are ignored */
#define DNS_T_OPT 41
#define DNS_T_ANY 255

enum { DNS_RCODE_NOERROR = 0, DNS_RCODE_FORMERR = 1, DNS_RCODE_SERVFAIL = 2, DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4, DNS_RCODE_REFUSED = 5 };

/* A parsed response. Record lists keep the packet's order. */
typedef struct dns_msg {
	uint16_t id;
	uint8_t rcode, opcode;
	bool qr, aa, tc, rd, ra, ad;
	sv qname;          /* the question, lower-cased presentation form */
	uint16_t qtype, qclass;
	dns_rr *answers;   /* class IN answer-section records of every type */
	dns_rr *authority; /* class IN authority-section records */
} dns_msg;

/* Parse a whole message. Returns false for a malformed one (truncated, bad compression, lengths
 * beyond the packet, more than one question). Never reads outside pkt[0..len). */
bool dns_parse_msg(arena *a, const uint8_t *pkt, size_t len, dns_msg *out);

/* Expand the (possibly compressed) name at *off into presentation form ("a.b", "" for the root):
 * dots inside labels and backslashes are escaped as "\." "\\", other bytes outside 0x21..0x7e
 * as "\DDD". Compression pointers must point strictly backwards, which bounds the walk; the name
 * may not exceed 255 wire bytes. *off advances past the name as it appears at *off. */
bool dns_name_expand(const uint8_t *pkt, size_t len, size_t *off, xbuf *out);

/* Build a query: RD set, one question, an OPT record when edns (with DO when dnssec_ok).
 * name is presentation form (trailing dot optional; "\." and "\DDD" escapes). Returns the length,
 * or 0 when the name is not a valid domain name or buf is too small. */
size_t dns_build_query(uint8_t *buf, size_t cap, uint16_t id, sv name, int type, bool edns,
	bool dnssec_ok);

/* Send one query to the configured servers (UDP, TCP on truncation) and parse the reply.
 * Returns DNS_SUCCEED when a reply with rcode NOERROR/NXDOMAIN arrived (in *msg), DNS_AGAIN on
 * timeouts/SERVFAIL, DNS_FAIL on other errors. */
dns_rc dns_transport_query(arena *a, sv name, int type, const dns_opts *opts, dns_msg *msg);

/* Resolved configuration (servers, timeouts, EDNS), loaded on first use. */
typedef struct dns_server {
	int family;                  /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
} dns_server;
typedef struct dns_config {
	dns_server servers[8];
	size_t nservers;
	int timeout, attempts; /* seconds per try, tries per server */
	bool edns0, dnssec_ok;
} dns_config;
const dns_config *dns_config_get(void);
/* Parse a dns_servers value into cfg->servers; false with a message on a bad item. */
bool dns_parse_servers(const char *list, dns_config *cfg, xbuf *err);
/* Read nameserver lines and "options timeout: attempts: edns0" from a resolv.conf text. */
void dns_parse_resolv_conf(sv text, dns_config *cfg);

/* Cache: key is (name, type, dnssec asked). Entries expire after their TTL. */
bool dns_cache_get(arena *a, sv name, int type, bool dnssec, dns_answer *out);
void dns_cache_put(sv name, int type, bool dnssec, const dns_answer *ans, uint32_t ttl);

/* Deep copy of a record list into arena a. */
dns_rr *dns_rr_copy_list(arena *a, const dns_rr *rr);

#endif
