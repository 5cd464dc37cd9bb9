/* The typed record format a transport child uses to report each address's outcome to the
 * delivery process (format in deliver_internal.h). The parent trusts nothing: a record must be
 * complete, checksummed, made of known fields of sane sizes, and name an address of the batch
 * once; otherwise parsing stops and the addresses without a record are deferred by the caller. */
#include <string.h>

#include "core/deliver_internal.h"
#include "core/tfo_state.h"
#include "core/tls_out.h"

enum dres_tag {
	T_INDEX = 1, T_RESULT, T_ERRNO, T_MORE_ERRNO, T_MESSAGE, T_HOST_NAME, T_HOST_ADDR,
	T_HOST_PORT, T_HOST_MX, T_SEND_ADDR, T_SEND_PORT, T_CONFIRM, T_SMTP_RESP, T_GREETING,
	T_HELO_RESP, T_TLS_USED, T_TLS_CIPHER, T_TLS_PEERDN, T_FREEZE, T_RETRY_SKIPPED,
	T_RETRY_TIMEDOUT, T_TO_FILE, T_DETAIL, T_CHUNKING,
	/* A retry item: its fields follow, ended by T_RETRY_END. */
	T_RETRY_BEGIN, T_RETRY_KEY, T_RETRY_ERRNO, T_RETRY_MORE, T_RETRY_TEXT, T_RETRY_REMOVE,
	T_RETRY_HOST, T_RETRY_END,
	T_END,
	/* The outgoing TLS session's other facts ($tls_out_*, CV=, the '*' of X=). */
	T_TLS_VERIFIED, T_TLS_OCSP, T_TLS_RESUMPTION, T_TLS_VER, T_TLS_SNI, T_TLS_PEERCERT, T_TLS_DANE,
	/* Delivered over a connection reused from another message (the '*' after H=[ip]). */
	T_CONTINUED,
	/* $tls_out_tlsa_usage and $tls_out_ourcert for the delivery process's events. */
	T_TLS_TLSA_USAGE, T_TLS_OURCERT,
	/* A file item delivered where the transport's file option said. */
	T_DELIVERED_PATH,
	/* The first recipient of a later transaction on the connection (max_rcpt). */
	T_TXN_FIRST,
	/* The connection was opened with TCP Fast Open (a tfo_state). */
	T_TFO,
	/* The message went with PRDR (the " PRDR" of the => line). */
	T_PRDR,
	/* The address went as A-labels (utf8_downconvert). */
	T_UTF8_DOWNCVT,
	/* The smtp client authenticator of the connection (A=). */
	T_AUTH_USED,
};

#define MAX_RETRIES_PER_ADDR 64

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static void put_u32(xbuf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
	xbuf_put(b, x, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_int(xbuf *b, int tag, long long v)
{
	xbuf_putc(b, (char)tag);
	put_u32(b, 8);
	unsigned long long u = (unsigned long long)v;
	for (int i = 0; i < 8; i++)
		xbuf_putc(b, (char)(u >> (8 * i)));
}

static void put_str(xbuf *b, int tag, sv s)
{
	if (!s.len && !s.p)
		return;
	xbuf_putc(b, (char)tag);
	put_u32(b, (uint32_t)s.len + 1);
	xbuf_putc(b, (char)(s.taint ? 1 : 0));
	xbuf_put(b, s.p ? s.p : "", s.len);
}

void dres_encode(xbuf *out, uint32_t index, const address_item *a)
{
	xbuf p;
	xbuf_init(&p, out->a);
	put_int(&p, T_INDEX, index);
	put_int(&p, T_RESULT, a->result);
	put_int(&p, T_ERRNO, a->basic_errno);
	put_int(&p, T_MORE_ERRNO, a->more_errno);
	put_str(&p, T_MESSAGE, a->message);
	put_str(&p, T_HOST_NAME, a->host_used_name);
	put_str(&p, T_HOST_ADDR, a->host_used_address);
	put_int(&p, T_HOST_PORT, a->host_used_port);
	put_int(&p, T_HOST_MX, a->host_used_mx);
	put_str(&p, T_SEND_ADDR, a->sending_address);
	put_int(&p, T_SEND_PORT, a->sending_port);
	put_str(&p, T_CONFIRM, a->confirmation);
	put_str(&p, T_SMTP_RESP, a->smtp_response);
	put_str(&p, T_GREETING, a->smtp_greeting);
	put_str(&p, T_HELO_RESP, a->helo_response);
	put_int(&p, T_TLS_USED, a->tls_used);
	put_str(&p, T_TLS_CIPHER, a->tls_cipher);
	put_str(&p, T_TLS_PEERDN, a->tls_peerdn);
	if (a->tls_used) {
		put_int(&p, T_TLS_VERIFIED, a->tls_certificate_verified);
		put_int(&p, T_TLS_DANE, a->tls_dane_verified);
		put_int(&p, T_TLS_OCSP, a->tls_ocsp);
		put_int(&p, T_TLS_RESUMPTION, a->tls_resumption);
		put_str(&p, T_TLS_VER, a->tls_ver);
		put_str(&p, T_TLS_SNI, a->tls_sni);
		put_str(&p, T_TLS_PEERCERT, a->tls_peercert);
		put_int(&p, T_TLS_TLSA_USAGE, a->tls_tlsa_usage);
		put_str(&p, T_TLS_OURCERT, a->tls_ourcert);
	}
	put_int(&p, T_FREEZE, a->freeze);
	put_int(&p, T_RETRY_SKIPPED, a->retry_skipped);
	put_int(&p, T_RETRY_TIMEDOUT, a->retry_timedout);
	put_int(&p, T_TO_FILE, a->delivered_to_file);
	put_str(&p, T_DETAIL, a->delivery_detail);
	put_int(&p, T_CHUNKING, a->chunking_used);
	if (a->host_used_continued)
		put_int(&p, T_CONTINUED, 1);
	if (a->delivered_path.len)
		put_str(&p, T_DELIVERED_PATH, a->delivered_path);
	if (a->txn_first)
		put_int(&p, T_TXN_FIRST, 1);
	if (a->tcp_fastopen)
		put_int(&p, T_TFO, a->tcp_fastopen);
	if (a->prdr_used)
		put_int(&p, T_PRDR, 1);
	if (a->utf8_downconverted)
		put_int(&p, T_UTF8_DOWNCVT, 1);
	if (a->auth_used.len)
		put_str(&p, T_AUTH_USED, a->auth_used);
	int nr = 0;
	for (const addr_retry *r = a->retries; r && nr < MAX_RETRIES_PER_ADDR; r = r->next, nr++) {
		put_int(&p, T_RETRY_BEGIN, 0);
		put_str(&p, T_RETRY_KEY, r->key);
		put_int(&p, T_RETRY_ERRNO, r->basic_errno);
		put_int(&p, T_RETRY_MORE, r->more_errno);
		put_str(&p, T_RETRY_TEXT, r->text);
		put_int(&p, T_RETRY_REMOVE, r->remove);
		put_int(&p, T_RETRY_HOST, r->is_host);
		put_int(&p, T_RETRY_END, 0);
	}
	put_int(&p, T_END, 0);
	xbuf_put(out, "DRES", 4);
	put_u32(out, (uint32_t)p.len);
	xbuf_put(out, p.p, p.len);
	put_u32(out, fnv1a((const unsigned char *)p.p, p.len));
}

static bool is_int_tag(int tag)
{
	switch (tag) {
	case T_INDEX: case T_RESULT: case T_ERRNO: case T_MORE_ERRNO: case T_HOST_PORT: case T_HOST_MX:
	case T_SEND_PORT: case T_TLS_USED: case T_FREEZE: case T_RETRY_SKIPPED: case T_RETRY_TIMEDOUT:
	case T_TO_FILE: case T_CHUNKING: case T_RETRY_BEGIN: case T_RETRY_ERRNO: case T_RETRY_MORE: case T_RETRY_REMOVE:
	case T_RETRY_HOST: case T_RETRY_END: case T_END:
	case T_TLS_VERIFIED: case T_TLS_OCSP: case T_TLS_RESUMPTION: case T_TLS_DANE: case T_CONTINUED:
	case T_TXN_FIRST: case T_PRDR: case T_UTF8_DOWNCVT:
	case T_TLS_TLSA_USAGE:
		return true;
	default:
		return false;
	}
}

/* The int fields that must fit an int (errno values, ports, flags). */
static bool int_in_range(long long v)
{
	return v >= -2147483647LL - 1 && v <= 2147483647LL;
}

/* Parse one verified payload into a fresh address image; false: malformed. */
static bool parse_payload(arena *a, const unsigned char *p, size_t n, address_item *img, long long *index, xbuf *err)
{
	size_t off = 0;
	bool have_index = false, have_result = false, ended = false;
	addr_retry *cur = NULL, **tail = &img->retries;
	int nretries = 0;
	while (off < n) {
		if (ended) {
			xbuf_puts(err, "data after the end field");
			return false;
		}
		if (n - off < 5) {
			xbuf_puts(err, "truncated field header");
			return false;
		}
		int tag = p[off];
		uint32_t flen = get_u32(p + off + 1);
		off += 5;
		if (flen > n - off) {
			xbuf_printf(err, "field %d overruns the record", tag);
			return false;
		}
		const unsigned char *f = p + off;
		off += flen;
		long long iv = 0;
		sv sval = SV_NULL;
		if (is_int_tag(tag)) {
			if (flen != 8) {
				xbuf_printf(err, "integer field %d has length %u", tag, flen);
				return false;
			}
			unsigned long long u = 0;
			for (int i = 7; i >= 0; i--)
				u = u << 8 | f[i];
			iv = (long long)u;
			if (!int_in_range(iv)) {
				xbuf_printf(err, "integer field %d out of range", tag);
				return false;
			}
		} else {
			if (flen < 1 || f[0] > 1) {
				xbuf_printf(err, "string field %d malformed", tag);
				return false;
			}
			char *s = arena_alloc(a, flen);
			memcpy(s, f + 1, flen - 1);
			s[flen - 1] = 0;
			sval = sv_make(s, flen - 1);
			sval.taint = f[0];
		}
		bool in_retry = cur != NULL;
		bool retry_field = tag >= T_RETRY_KEY && tag <= T_RETRY_END;
		if (retry_field != in_retry && tag != T_RETRY_BEGIN) {
			xbuf_printf(err, "field %d out of place", tag);
			return false;
		}
		switch (tag) {
		case T_INDEX: if (have_index) goto dup; have_index = true; *index = iv; break;
		case T_RESULT: if (have_result) goto dup; have_result = true;
			if (iv != ADDR_OK && iv != ADDR_DEFER && iv != ADDR_FAIL && iv != ADDR_PANIC) {
				xbuf_printf(err, "result %lld is not a final result", iv);
				return false;
			}
			img->result = (addr_result)iv;
			break;
		case T_ERRNO: img->basic_errno = (int)iv; break;
		case T_MORE_ERRNO: img->more_errno = (int)iv; break;
		case T_MESSAGE: img->message = sval; break;
		case T_HOST_NAME: img->host_used_name = sval; break;
		case T_HOST_ADDR: img->host_used_address = sval; break;
		case T_HOST_PORT: img->host_used_port = (int)iv; break;
		case T_HOST_MX: img->host_used_mx = (int)iv; break;
		case T_SEND_ADDR: img->sending_address = sval; break;
		case T_SEND_PORT: img->sending_port = (int)iv; break;
		case T_CONFIRM: img->confirmation = sval; break;
		case T_SMTP_RESP: img->smtp_response = sval; break;
		case T_GREETING: img->smtp_greeting = sval; break;
		case T_HELO_RESP: img->helo_response = sval; break;
		case T_TLS_USED: img->tls_used = iv != 0; break;
		case T_TLS_CIPHER: img->tls_cipher = sval; break;
		case T_TLS_PEERDN: img->tls_peerdn = sval; break;
		case T_TLS_VERIFIED: img->tls_certificate_verified = iv != 0; break;
		case T_TLS_DANE: img->tls_dane_verified = iv != 0; break;
		case T_TLS_OCSP: img->tls_ocsp = (int)iv; break;
		case T_TLS_RESUMPTION: img->tls_resumption = (unsigned)iv & 0x1f; break;
		case T_TLS_VER: img->tls_ver = sval; break;
		case T_TLS_SNI: img->tls_sni = sval; break;
		case T_TLS_PEERCERT: img->tls_peercert = sval; break;
		case T_TLS_TLSA_USAGE: img->tls_tlsa_usage = (int)iv & 0xff; break;
		case T_TLS_OURCERT: img->tls_ourcert = sval; break;
		case T_FREEZE: img->freeze = iv != 0; break;
		case T_RETRY_SKIPPED: img->retry_skipped = iv != 0; break;
		case T_RETRY_TIMEDOUT: img->retry_timedout = iv != 0; break;
		case T_TO_FILE: img->delivered_to_file = iv != 0; break;
		case T_DETAIL: img->delivery_detail = sval; break;
		case T_CHUNKING: img->chunking_used = iv != 0; break;
		case T_CONTINUED: img->host_used_continued = iv != 0; break;
		case T_DELIVERED_PATH: img->delivered_path = sval; break;
		case T_TXN_FIRST: img->txn_first = iv != 0; break;
		case T_PRDR: img->prdr_used = iv != 0; break;
		case T_UTF8_DOWNCVT: img->utf8_downconverted = iv != 0; break;
		case T_AUTH_USED: img->auth_used = sval; break;
		case T_TFO: img->tcp_fastopen = iv == TFO_USED_DATA ? TFO_USED_DATA : iv ? TFO_USED : TFO_NOT_USED; break;
		case T_RETRY_BEGIN:
			if (in_retry || ++nretries > MAX_RETRIES_PER_ADDR) {
				xbuf_puts(err, "retry item out of place or too many");
				return false;
			}
			cur = arena_alloc(a, sizeof *cur);
			memset(cur, 0, sizeof *cur);
			break;
		case T_RETRY_KEY: cur->key = sval; break;
		case T_RETRY_ERRNO: cur->basic_errno = (int)iv; break;
		case T_RETRY_MORE: cur->more_errno = (int)iv; break;
		case T_RETRY_TEXT: cur->text = sval; break;
		case T_RETRY_REMOVE: cur->remove = iv != 0; break;
		case T_RETRY_HOST: cur->is_host = iv != 0; break;
		case T_RETRY_END:
			if (!cur->key.len) {
				xbuf_puts(err, "retry item without a key");
				return false;
			}
			*tail = cur;
			tail = &cur->next;
			cur = NULL;
			break;
		case T_END: ended = true; break;
		default:
			xbuf_printf(err, "unknown field %d", tag);
			return false;
		}
		continue;
dup:
		xbuf_printf(err, "field %d repeated", tag);
		return false;
	}
	if (!ended || !have_index || !have_result || cur) {
		xbuf_puts(err, "record incomplete");
		return false;
	}
	return true;
}

bool dres_decode(arena *a, const void *buf, size_t len, address_item **addrs, bool *got, size_t n, xbuf *err)
{
	const unsigned char *p = buf;
	size_t off = 0;
	while (off < len) {
		if (len - off < 8) {
			xbuf_puts(err, "truncated record header");
			return false;
		}
		if (memcmp(p + off, "DRES", 4) != 0) {
			xbuf_puts(err, "bad record magic");
			return false;
		}
		uint32_t plen = get_u32(p + off + 4);
		if (plen > DRES_MAX_RECORD || plen > len - off - 8 || len - off - 8 - plen < 4) {
			xbuf_puts(err, "truncated or oversized record");
			return false;
		}
		const unsigned char *payload = p + off + 8;
		if (get_u32(payload + plen) != fnv1a(payload, plen)) {
			xbuf_puts(err, "record checksum mismatch");
			return false;
		}
		address_item img;
		memset(&img, 0, sizeof img);
		img.host_used_mx = -1;
		long long index = -1;
		if (!parse_payload(a, payload, plen, &img, &index, err))
			return false;
		if (index < 0 || (size_t)index >= n) {
			xbuf_printf(err, "record for address %lld of a batch of %zu", index, n);
			return false;
		}
		if (got[index]) {
			xbuf_printf(err, "second record for address %lld", index);
			return false;
		}
		address_item *t = addrs[index];
		t->result = img.result;
		t->basic_errno = img.basic_errno;
		t->more_errno = img.more_errno;
		t->message = img.message;
		t->host_used_name = img.host_used_name;
		t->host_used_address = img.host_used_address;
		t->host_used_port = img.host_used_port;
		t->host_used_mx = img.host_used_mx;
		t->sending_address = img.sending_address;
		t->sending_port = img.sending_port;
		t->confirmation = img.confirmation;
		t->smtp_response = img.smtp_response;
		t->smtp_greeting = img.smtp_greeting;
		t->helo_response = img.helo_response;
		t->tls_used = img.tls_used;
		t->tls_cipher = img.tls_cipher;
		t->tls_peerdn = img.tls_peerdn;
		t->tls_certificate_verified = img.tls_certificate_verified;
		t->tls_dane_verified = img.tls_dane_verified;
		t->tls_ocsp = img.tls_ocsp;
		t->tls_resumption = img.tls_resumption;
		t->tls_ver = img.tls_ver;
		t->tls_sni = img.tls_sni;
		t->tls_peercert = img.tls_peercert;
		t->tls_tlsa_usage = img.tls_tlsa_usage;
		t->tls_ourcert = img.tls_ourcert;
		/* $tls_out_* for the events and expansions that follow this delivery. */
		tls_out_from_addr(t);
		t->freeze = img.freeze;
		t->retry_skipped = img.retry_skipped;
		t->retry_timedout = img.retry_timedout;
		t->delivered_to_file = img.delivered_to_file;
		t->delivery_detail = img.delivery_detail;
		t->chunking_used = img.chunking_used;
		t->host_used_continued = img.host_used_continued;
		t->delivered_path = img.delivered_path;
		t->txn_first = img.txn_first;
		t->tcp_fastopen = img.tcp_fastopen;
		t->prdr_used = img.prdr_used;
		t->utf8_downconverted = img.utf8_downconverted;
		t->auth_used = img.auth_used;
		t->retries = img.retries;
		got[index] = true;
		off += 8 + plen + 4;
	}
	return true;
}
