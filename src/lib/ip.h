/* IP addresses: parsing, masking, network membership and the textual forms Exim prints.
 *
 * Parsing is strict, as Exim's string_is_ip_address: a dotted quad has exactly four decimal
 * parts 0..255 with no leading zeros ("1.2.3.00" and "01.2.3.4" are not addresses); IPv6 text
 * has up to 8 groups of 1..4 hex digits, at most one "::", and may end in an embedded dotted quad
 * ("::ffff:1.2.3.4", "64:ff9b::1.2.3.4"). No brackets, no surrounding space.
 *
 * Formats (all checked against Exim 4.96 -be):
 *   ip_format          v4 dotted; v6 RFC 5952 (lowercase, longest run of >= 2 zero groups
 *                      compressed, first on ties; v4-mapped as "::ffff:1.2.3.4") - exactly the
 *                      form glibc's inet_ntop gives, which Exim uses for host addresses in logs
 *                      and variables; like inet_ntop it also shows the deprecated v4-compatible
 *                      form as "::1.2.3.4".
 *   ip_format_ipv6norm exactly ${ipv6norm:}: v4 is shown as its v4-mapped v6 address, the first
 *                      longest zero run is compressed even when it is a single group, no mixed
 *                      notation, and the all-zero address prints as ":" (an Exim quirk we copy).
 *   ip_format_full     ${ipv6denorm:}: all 8 groups of 4 hex digits (v4 shown v4-mapped).
 *   ip_reverse         ${reverse_ip:}: "4.3.2.1" or 32 dot-separated nibbles, lowest first.
 *                      Exim's operator also treats text starting with the exact lowercase prefix
 *                      "::ffff:" followed by a dotted quad as the v4 address (giving "4.3.2.1");
 *                      that is a property of the text, so the operator handles it before calling.
 */
#ifndef POSTERN_LIB_IP_H
#define POSTERN_LIB_IP_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/str.h"

typedef struct ip_addr {
	int family;     /* 4 or 6 */
	uint8_t b[16];  /* network byte order; v4 in b[0..3], rest zero */
} ip_addr;

bool ip_parse(sv text, ip_addr *out);
/* As ip_parse, but an IPv6 address may carry a "%zone" suffix (possibly empty), which Exim's
 * operators (ipv6norm, reverse_ip) and host lists accept; *zone gets the text after '%', or an
 * empty view. The zone is not checked against interface names. zone may be NULL. */
bool ip_parse_zone(sv text, ip_addr *out, sv *zone);
/* "a.b.c.d/n" or "x::/n": n is decimal digits (leading zeros allowed, as Exim), 0..32 or 0..128.
 * The address is not masked. */
bool ip_parse_cidr(sv text, ip_addr *out, int *bits);

int ip_max_bits(const ip_addr *a);                      /* 32 or 128 */
/* Does a lie within net/bits? Families must match (a v4 address is not in a v6 net even when
 * v4-mapped; callers that want that convert with ip_unmap first). bits is clamped to the range. */
bool ip_in_net(const ip_addr *a, const ip_addr *net, int bits);
void ip_mask(ip_addr *a, int bits);                     /* clear all bits after the first `bits` */
bool ip_equal(const ip_addr *a, const ip_addr *b);
bool ip_is_v4_mapped(const ip_addr *a);                 /* ::ffff:0:0/96 */
void ip_map_v4(const ip_addr *v4, ip_addr *out);        /* v4 -> ::ffff:a.b.c.d; v6 copied */
void ip_unmap(const ip_addr *a, ip_addr *out);          /* ::ffff:a.b.c.d -> v4; others copied */

/* Does a HELO/EHLO address literal ("[1.2.3.4]", "[IPv6:2001:db8::5]", the tag in any case)
 * name host_address? Both are parsed and compared as addresses (a v4-mapped client address
 * matches its dotted quad). A tagged literal must hold an IPv6 address (RFC 5321 4.1.3); an
 * untagged one may hold either. Exim 4.96 compares text as a prefix instead (docs/smtp.md,
 * known differences). */
bool ip_helo_literal_matches(sv literal, sv host_address);

void ip_format(const ip_addr *a, xbuf *out);
void ip_format_ipv6norm(const ip_addr *a, xbuf *out);
void ip_format_full(const ip_addr *a, xbuf *out);
void ip_reverse(const ip_addr *a, xbuf *out);
/* ${mask:} (normalised false) and ${mask_n:} (true) output for a/bits: the masked address then
 * "/bits". v4 dotted; v6 as 8 dot-separated 4-digit groups ("2001.0db8.0000...") or in the
 * ipv6norm form ("2001:db8::"). */
void ip_format_mask(const ip_addr *a, int bits, bool normalised, xbuf *out);

#endif
