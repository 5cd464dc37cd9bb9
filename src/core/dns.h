/* The one DNS resolver every part of Postern uses: host lookups, dnslists, the dnsdb lookup,
 * and (next issues) MX routing, SPF, DKIM, ARC, DANE.
 *
 * Our own stub resolver: queries over UDP with TCP fallback on truncation, Exim's dns_retrans /
 * dns_retry, EDNS0 and the DO bit per dns_use_edns0 / dns_dnssec_ok, CNAME chasing, the AD bit
 * reported per answer, and a per-process cache honouring TTLs. Servers come from the main option
 * dns_servers (beyond Exim; "ip[:port]" list) or /etc/resolv.conf. Response parsing is bounded
 * (compression loops, lengths) and has a fuzz target.
 */
#ifndef POSTERN_CORE_DNS_H
#define POSTERN_CORE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/str.h"

enum {
	DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_PTR = 12, DNS_T_MX = 15,
	DNS_T_TXT = 16, DNS_T_AAAA = 28, DNS_T_SRV = 33, DNS_T_TLSA = 52, DNS_T_SPF = 99,
};

/* Outcome of a lookup, with Exim's distinctions. */
typedef enum dns_rc {
	DNS_SUCCEED,   /* records of the type were found */
	DNS_NOMATCH,   /* NXDOMAIN */
	DNS_NODATA,    /* the name exists, no records of the type */
	DNS_AGAIN,     /* temporary failure (timeout, SERVFAIL) */
	DNS_FAIL,      /* permanent failure (malformed answer, REFUSED...) */
} dns_rc;

typedef struct dns_rr {
	struct dns_rr *next;
	sv name;          /* owner name, lower-cased, no trailing dot */
	uint16_t type;
	uint32_t ttl;
	sv rdata;         /* raw RDATA (names inside are still compressed: use the decoded fields) */
	/* Decoded per type */
	sv text;          /* A/AAAA: address text; PTR/CNAME/NS: target name; MX/SRV: target host;
	                   * TXT: the strings concatenated; TLSA: hex of the association data */
	uint16_t pref;    /* MX preference; SRV priority */
	uint16_t weight, port; /* SRV */
	uint8_t tlsa_usage, tlsa_selector, tlsa_mtype;
	sv *strings;      /* TXT: the individual strings */
	size_t nstrings;
	/* SOA (text is the primary name server) */
	sv soa_rname;     /* the responsible mailbox, in domain form */
	uint32_t soa_serial, soa_refresh, soa_retry, soa_expire, soa_minimum;
} dns_rr;

typedef struct dns_answer {
	dns_rc rc;
	dns_rr *rrs;      /* records of the requested type (after CNAME chasing) */
	sv canonical;     /* the name the records belong to */
	bool authentic;   /* the AD bit was set (and dns_trust_aa rules) */
	uint32_t min_ttl;
} dns_answer;

/* Look up name/type (arena a for results). Honors the cache. */
dns_rc dns_lookup(arena *a, sv name, int type, dns_answer *out);

/* Per-lookup overrides (dnsdb's retrans_/retry_/dnssec_ modifiers). Zero/-1 fields keep the
 * main options' values. */
typedef struct dns_opts {
	int retrans;      /* seconds per try; 0: dns_retrans, else resolv.conf timeout, else 5 */
	int retry;        /* tries per server; 0: dns_retry, else resolv.conf attempts, else 2 */
	int dnssec;       /* -1: dns_dnssec_ok; 0: do not ask; 1: set the DO bit */
	bool no_cname;    /* return a CNAME itself instead of following it (type CNAME implies it) */
} dns_opts;
#define DNS_OPTS_DEFAULT ((dns_opts){ 0, 0, -1, false })
dns_rc dns_lookup_opts(arena *a, sv name, int type, const dns_opts *opts, dns_answer *out);

/* The name used for a PTR lookup of an IP address ("4.3.2.1.in-addr.arpa", nibbles + ip6.arpa);
 * false if ip is not an address. */
bool dns_reverse_name(sv ip, xbuf *out);

/* Whether a query can be made for name at all (labels of at most 63 octets, at most 255 in
 * all, no empty label). The resolver library refuses others before asking (NO_RECOVERY). */
bool dns_name_queryable(sv name);

/* Install the DNS-backed host-list hooks of src/search/match.h (plain names in host lists,
 * @mx_any / @mx_primary / @mx_secondary). Called once at start-up. */
void dns_install_match_hooks(void);

/* "@mx_any", "@mx_primary", "@mx_secondary" (each optionally "/ignore=<host list>") in a domain
 * list, against domain: SEARCH_OK when an MX host of the domain (the lowest-preference ones for
 * _primary; only others for _secondary) has an address of a local interface not ignored;
 * SEARCH_FAIL otherwise; SEARCH_DEFER (err set) on a temporary DNS failure. match.c has no hook
 * for these yet: it is meant to be called from there. */
int dns_match_mx(sv domain, sv item, xbuf *err);

/* Forget the configured servers and timeouts (tests that change dns_servers). */
void dns_config_reset(void);

/* Reverse lookup of an IP address then forward confirmation, as Exim's host_lookup does:
 * on success *name is the confirmed name (and aliases). DNS_NOMATCH: no name at all (Exim logs
 * "no host name found"); DNS_NODATA: names, none of them confirmed (Exim logs nothing; *name is
 * the last one tried); DNS_AGAIN: temporary. */
dns_rc dns_host_name_lookup(arena *a, sv ip, sv *name, sv **aliases, size_t *naliases);
/* Added (rcvleft): the same; *secure tells whether the PTR answer and the forward answers that
 * confirmed the name were DNSSEC authenticated (the AD bit, or dns_trust_aa): Exim's
 * $sender_host_dnssec. byaddr lookups are never secure. */
dns_rc dns_host_name_lookup_secure(arena *a, sv ip, sv *name, sv **aliases, size_t *naliases, bool *secure);
/* The reason text for a failed lookup (rc DNS_NOMATCH or DNS_NODATA, name as the lookup left
 * it), as Exim 4.96 words it, with its leading " (" and ")". */
sv dns_host_lookup_reason(arena *a, dns_rc rc, sv ip, sv name);

/* A and AAAA addresses of a host name (per dns_ipv4_lookup etc.), in preference order. */
dns_rc dns_host_addresses(arena *a, sv host, sv **addrs, size_t *naddrs);

/* The dnslists ACL condition (Exim's full syntax: lists, =/&/!= values, /key, ,defer_never...,
 * domain=, text lookups). ip is the client address. Returns 0 no match, 1 match, 2 defer;
 * on a match the $dnslist_* values are filled. */
typedef struct dnslist_vars {
	sv domain, matched, text, value;
} dnslist_vars;
int dns_dnslists(arena *a, xp_env *env, sv spec, sv ip, dnslist_vars *out, xbuf *err);

/* verify = csa: the SRV records at _client._smtp.<domain> (domain may be an IP address or an
 * [IP] literal: reverse tree when dns_csa_use_reverse) against the client's address.
 * message gets the text Exim 4.96 puts in $acl_verify_message ("client SMTP authorization ok",
 * "... failed (client address mismatch)", ...); dns_csa_status_name gives $csa_status.
 * Per Exim, the condition fails only for DNS_CSA_FAIL. */
typedef enum dns_csa_status { DNS_CSA_OK, DNS_CSA_FAIL, DNS_CSA_DEFER, DNS_CSA_UNKNOWN } dns_csa_status;
dns_csa_status dns_verify_csa(arena *a, sv domain, sv client_ip, xbuf *message);
const char *dns_csa_status_name(dns_csa_status s);

/* Drop the cache (tests; a daemon child starts clean). */
void dns_cache_flush(void);

#endif
