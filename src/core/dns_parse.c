/* Parsing DNS responses (RFC 1035 wire format) from untrusted servers.
 *
 * Every read is checked against the packet length; compressed names may only point backwards
 * (so a walk cannot loop) and expand to at most 255 wire bytes; per-record RDATA is decoded
 * within its declared length, and a record whose RDATA does not fit its type is a malformed
 * message. Decoded text is tainted: it came from the network. */
#include <stdio.h>
#include <string.h>

#include "core/dns_internal.h"
#include "lib/ip.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool dns_name_expand(const uint8_t *pkt, size_t len, size_t *off, xbuf *out)
{
	size_t pos = *off, wire = 0, lowest = *off; /* pointers must go below lowest */
	bool jumped = false;
	size_t start_len = out->len;
	for (;;) {
		if (pos >= len)
			return false;
		uint8_t l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return false;
			size_t target = (size_t)(l & 0x3f) << 8 | pkt[pos + 1];
			if (target >= lowest)
				return false; /* forward or self pointer: could loop */
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			lowest = target;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return false; /* 0x40/0x80: extended label types, not in use */
		wire += (size_t)l + 1;
		if (wire > 255)
			return false;
		if (l == 0) {
			if (!jumped)
				*off = pos + 1;
			return true;
		}
		if (pos + 1 + l > len)
			return false;
		if (out->len > start_len)
			xbuf_putc(out, '.');
		for (size_t i = 0; i < l; i++) {
			uint8_t c = pkt[pos + 1 + i];
			if (c == '.' || c == '\\')
				xbuf_printf(out, "\\%c", c);
			else if (c > 0x20 && c < 0x7f)
				xbuf_putc(out, (char)c);
			else
				xbuf_printf(out, "\\%03u", c);
		}
		pos += 1 + l;
	}
}

static sv name_at(arena *a, const uint8_t *pkt, size_t len, size_t *off, bool lower, bool *ok)
{
	xbuf b;
	xbuf_init(&b, a);
	if (!dns_name_expand(pkt, len, off, &b)) {
		*ok = false;
		return SV_NULL;
	}
	if (lower)
		for (size_t i = 0; i < b.len; i++)
			if (b.p[i] >= 'A' && b.p[i] <= 'Z')
				b.p[i] = (char)(b.p[i] + 32);
	sv v = xbuf_sv(&b);
	v.taint = 1;
	return v;
}

/* Decode rr->rdata (at pkt[rdoff..rdoff+rdlen)) into the typed fields. */
static bool decode_rdata(arena *a, const uint8_t *pkt, size_t len, size_t rdoff, size_t rdlen,
	dns_rr *rr)
{
	const uint8_t *d = pkt + rdoff;
	size_t end = rdoff + rdlen, off = rdoff;
	bool ok = true;
	xbuf b;
	xbuf_init(&b, a);
	b.taint = 1;
	switch (rr->type) {
	case DNS_T_A:
	case DNS_T_AAAA: {
		size_t want = rr->type == DNS_T_A ? 4 : 16;
		if (rdlen != want)
			return false;
		ip_addr ip = { .family = rr->type == DNS_T_A ? 4 : 6 };
		memcpy(ip.b, d, want);
		ip_format(&ip, &b);
		break;
	}
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		rr->text = name_at(a, pkt, len, &off, false, &ok);
		return ok && off == end;
	case DNS_T_MX:
		if (rdlen < 3)
			return false;
		rr->pref = get16(d);
		off += 2;
		rr->text = name_at(a, pkt, len, &off, false, &ok);
		return ok && off == end;
	case DNS_T_SRV:
		if (rdlen < 7)
			return false;
		rr->pref = get16(d);
		rr->weight = get16(d + 2);
		rr->port = get16(d + 4);
		off += 6;
		rr->text = name_at(a, pkt, len, &off, false, &ok);
		return ok && off == end;
	case DNS_T_SOA:
		rr->text = name_at(a, pkt, len, &off, false, &ok);
		if (!ok)
			return false;
		rr->soa_rname = name_at(a, pkt, len, &off, false, &ok);
		if (!ok || off + 20 != end)
			return false;
		rr->soa_serial = get32(pkt + off);
		rr->soa_refresh = get32(pkt + off + 4);
		rr->soa_retry = get32(pkt + off + 8);
		rr->soa_expire = get32(pkt + off + 12);
		rr->soa_minimum = get32(pkt + off + 16);
		return true;
	case DNS_T_TXT:
	case DNS_T_SPF: {
		size_t n = 0;
		for (size_t i = 0; i < rdlen; i += 1 + d[i])
			n++;
		/* The loop above may step past rdlen on a bad last length: checked below. */
		rr->strings = arena_calloc(a, n ? n : 1, sizeof(sv));
		size_t i = 0;
		while (i < rdlen) {
			size_t sl = d[i];
			if (i + 1 + sl > rdlen)
				return false;
			sv s = sv_make((const char *)d + i + 1, sl);
			s = sv_copy(a, s);
			s.taint = 1;
			rr->strings[rr->nstrings++] = s;
			xbuf_put(&b, d + i + 1, sl);
			i += 1 + sl;
		}
		break;
	}
	case DNS_T_TLSA:
		if (rdlen < 3)
			return false;
		rr->tlsa_usage = d[0];
		rr->tlsa_selector = d[1];
		rr->tlsa_mtype = d[2];
		for (size_t i = 3; i < rdlen; i++)
			xbuf_printf(&b, "%02x", d[i]);
		break;
	default:
		return true; /* other types: raw RDATA only */
	}
	rr->text = xbuf_sv(&b);
	rr->text.taint = 1;
	return true;
}

/* Parse count records starting at *off; class IN records of every type go to *list in order. */
static bool parse_section(arena *a, const uint8_t *pkt, size_t len, size_t *off, unsigned count,
	dns_rr **list)
{
	dns_rr **tail = list;
	for (unsigned i = 0; i < count; i++) {
		bool ok = true;
		sv owner = name_at(a, pkt, len, off, true, &ok);
		if (!ok || *off + 10 > len)
			return false;
		uint16_t type = get16(pkt + *off), cls = get16(pkt + *off + 2);
		uint32_t ttl = get32(pkt + *off + 4);
		size_t rdlen = get16(pkt + *off + 8);
		size_t rdoff = *off + 10;
		if (rdoff + rdlen > len)
			return false;
		*off = rdoff + rdlen;
		if (cls != 1 || type == DNS_T_OPT || i >= DNS_MAX_RRS)
			continue;
		dns_rr *rr = arena_calloc(a, 1, sizeof *rr);
		rr->name = owner;
		rr->type = type;
		rr->ttl = ttl > 0x7fffffffu ? 0 : ttl; /* RFC 2181 §8: treat the top bit as zero TTL */
		rr->rdata = sv_tainted(rdlen ? sv_make((const char *)arena_memdup(a, pkt + rdoff, rdlen), rdlen)
			: sv_make("", 0));
		if (!decode_rdata(a, pkt, len, rdoff, rdlen, rr))
			return false;
		*tail = rr;
		tail = &rr->next;
	}
	return true;
}

bool dns_parse_msg(arena *a, const uint8_t *pkt, size_t len, dns_msg *out)
{
	memset(out, 0, sizeof *out);
	if (len < DNS_HDR_LEN)
		return false;
	out->id = get16(pkt);
	uint8_t f1 = pkt[2], f2 = pkt[3];
	out->qr = f1 & 0x80;
	out->opcode = (f1 >> 3) & 0x0f;
	out->aa = f1 & 0x04;
	out->tc = f1 & 0x02;
	out->rd = f1 & 0x01;
	out->ra = f2 & 0x80;
	out->ad = f2 & 0x20;
	out->rcode = f2 & 0x0f;
	unsigned qd = get16(pkt + 4), an = get16(pkt + 6), ns = get16(pkt + 8);
	if (qd > 1)
		return false;
	size_t off = DNS_HDR_LEN;
	if (qd == 1) {
		bool ok = true;
		out->qname = name_at(a, pkt, len, &off, true, &ok);
		if (!ok || off + 4 > len)
			return false;
		out->qtype = get16(pkt + off);
		out->qclass = get16(pkt + off + 2);
		off += 4;
	}
	/* A truncated reply may end anywhere: its records are not used, so stop here. */
	if (out->tc)
		return true;
	if (!parse_section(a, pkt, len, &off, an, &out->answers))
		return false;
	if (!parse_section(a, pkt, len, &off, ns, &out->authority))
		return false;
	return true; /* the additional section is not needed */
}

dns_rr *dns_rr_copy_list(arena *a, const dns_rr *rr)
{
	dns_rr *head = NULL, **tail = &head;
	for (; rr; rr = rr->next) {
		dns_rr *c = arena_alloc(a, sizeof *c);
		*c = *rr;
		c->next = NULL;
		c->name = sv_copy(a, rr->name);
		c->rdata = sv_copy(a, rr->rdata);
		c->text = sv_copy(a, rr->text);
		c->soa_rname = sv_copy(a, rr->soa_rname);
		if (rr->nstrings) {
			c->strings = arena_calloc(a, rr->nstrings, sizeof(sv));
			for (size_t i = 0; i < rr->nstrings; i++)
				c->strings[i] = sv_copy(a, rr->strings[i]);
		}
		*tail = c;
		tail = &c->next;
	}
	return head;
}
