/* Fuzz the DNS response parser (core/dns_parse.c) with arbitrary packets.
 *
 * Invariants: the parser never reads outside the packet (ASan); on success every decoded record
 * is consistent with its RDATA (TXT strings fit in it, A/AAAA texts parse back as addresses of the
 * right family, TLSA hex is twice the data length); every decoded name is at most 4 * 255 bytes
 * of presentation text; and a question name that parsed builds back into a query whose parse
 * gives the same name (round trip through dns_build_query). The first two input bytes also
 * choose a start offset for dns_name_expand, whose result must be deterministic. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/dns_internal.h"
#include "fuzz_check.h"
#include "lib/ip.h"

static const uint8_t *g_data;
static size_t g_size;
#define CHECK(cond) FUZZ_CHECK(cond, g_data, g_size)

static arena *fa;

static void check_rr(const dns_rr *rr)
{
	CHECK(rr->name.len <= DNS_MAX_NAME_TEXT);
	CHECK(rr->text.len <= 65535 * 2 + 8);
	switch (rr->type) {
	case DNS_T_A:
	case DNS_T_AAAA: {
		ip_addr ip;
		CHECK(ip_parse(rr->text, &ip));
		CHECK(ip.family == (rr->type == DNS_T_A ? 4 : 6) || ip_is_v4_mapped(&ip) || ip.family == 6);
		break;
	}
	case DNS_T_TXT:
	case DNS_T_SPF: {
		size_t total = 0;
		for (size_t i = 0; i < rr->nstrings; i++)
			total += rr->strings[i].len + 1;
		CHECK(total == rr->rdata.len);
		CHECK(rr->text.len + rr->nstrings == rr->rdata.len);
		break;
	}
	case DNS_T_TLSA:
		CHECK(rr->rdata.len >= 3 && rr->text.len == 2 * (rr->rdata.len - 3));
		break;
	case DNS_T_MX:
	case DNS_T_SRV:
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
	case DNS_T_SOA:
		CHECK(rr->text.len <= DNS_MAX_NAME_TEXT);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	g_data = data;
	g_size = size;
	if (!fa)
		fa = arena_new("fuzz_dns");
	dns_msg m;
	if (dns_parse_msg(fa, data, size, &m)) {
		CHECK(m.qname.len <= DNS_MAX_NAME_TEXT);
		for (const dns_rr *rr = m.answers; rr; rr = rr->next)
			check_rr(rr);
		for (const dns_rr *rr = m.authority; rr; rr = rr->next)
			check_rr(rr);
		/* Round trip of the question name (when it has one and it is not the root). */
		if (m.qname.len) {
			uint8_t q[DNS_HDR_LEN + 300];
			size_t n = dns_build_query(q, sizeof q, 7, m.qname, DNS_T_A, false, false);
			CHECK(n > 0);
			dns_msg back;
			CHECK(dns_parse_msg(fa, q, n, &back));
			CHECK(sv_eq(back.qname, m.qname));
		}
	}
	if (size >= 2) {
		size_t off = (size_t)(data[0] << 8 | data[1]) % size, off2 = off;
		xbuf a, b;
		xbuf_init(&a, fa);
		xbuf_init(&b, fa);
		bool ok1 = dns_name_expand(data, size, &off, &a);
		bool ok2 = dns_name_expand(data, size, &off2, &b);
		CHECK(ok1 == ok2);
		if (ok1) {
			CHECK(off == off2 && off <= size);
			CHECK(sv_eq(xbuf_sv(&a), xbuf_sv(&b)));
			CHECK(a.len <= DNS_MAX_NAME_TEXT);
		}
	}
	arena_clear(fa);
	return 0;
}
