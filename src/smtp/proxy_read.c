/* Exact-length reading of a PROXY header from a socket (see proxy_read.h). */
#include "smtp/proxy_read.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/ip.h"
#include "mail/proxy.h"
#include "lib/clock.h"

/* Read exactly n bytes into buf before the deadline. 1 ok, 0 EOF, -1 error, -2 timeout. */
static int read_exact(int fd, uint8_t *buf, size_t n, long long deadline)
{
	size_t got = 0;
	while (got < n) {
		long long left = deadline - monotonic_ms();
		if (left <= 0)
			return -2;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return -2;
		ssize_t k = read(fd, buf + got, n - got);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -1;
		}
		if (k == 0)
			return 0;
		got += (size_t)k;
	}
	return 1;
}

static bool read_fail(int rc, xbuf *err)
{
	xbuf_puts(err, rc == 0 ? "connection closed while reading the PROXY header"
		: rc == -2 ? "timeout while reading the PROXY header"
		: "read error while reading the PROXY header");
	return false;
}

#define COPY_TLV(dst, v) do {                                                   \
		if ((v).p) {                                                            \
			size_t n_ = (v).len < sizeof (dst).s - 1 ? (v).len : sizeof (dst).s - 1; \
			memcpy((dst).s, (v).p, n_);                                         \
			(dst).s[n_] = '\0';                                                 \
			(dst).len = n_;                                                     \
			(dst).present = true;                                               \
		}                                                                       \
	} while (0)

static void fill_info(const proxy_header *h, proxy_info *out)
{
	out->version = h->version;
	out->local = h->local;
	if (!h->local) {
		xbuf b;
		xbuf_init(&b, NULL);  /* malloc-backed: no arena is needed for two short strings */
		ip_format(&h->src, &b);
		snprintf(out->src_addr, sizeof out->src_addr, "%s", xbuf_cstr(&b));
		xbuf_reset(&b);
		ip_format(&h->dst, &b);
		snprintf(out->dst_addr, sizeof out->dst_addr, "%s", xbuf_cstr(&b));
		xbuf_free(&b);
		out->src_port = h->src_port;
		out->dst_port = h->dst_port;
	}
	const proxy_tlvs *t = &h->tlv;
	COPY_TLV(out->alpn, t->alpn);
	COPY_TLV(out->authority, t->authority);
	COPY_TLV(out->netns, t->netns);
	COPY_TLV(out->unique_id, t->unique_id);
	out->crc32c_verified = t->has_crc32c;
	out->ssl = t->has_ssl;
	out->ssl_client = t->ssl_client;
	out->ssl_verify = t->ssl_verify;
	COPY_TLV(out->ssl_version, t->ssl_version);
	COPY_TLV(out->ssl_sig_alg, t->ssl_sig_alg);
	COPY_TLV(out->ssl_key_alg, t->ssl_key_alg);
	COPY_TLV(out->ssl_cipher, t->ssl_cipher);
	COPY_TLV(out->ssl_cn, t->ssl_cn);
}

bool proxy_read_header(int fd, int timeout_ms, proxy_info *out, xbuf *err)
{
	memset(out, 0, sizeof *out);
	long long deadline = monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	uint8_t buf[PROXY_V2_HEADER_FIXED + PROXY_V2_MAX_PAYLOAD];
	size_t have = 5;  /* every valid header is longer than 5 bytes */
	int rc = read_exact(fd, buf, have, deadline);
	if (rc != 1)
		return read_fail(rc, err);
	long total = proxy_header_length(buf, have);
	if (total < 0) {
		xbuf_puts(err, "not a PROXY protocol header");
		return false;
	}
	if (buf[0] == proxy_v2_signature[0]) {
		rc = read_exact(fd, buf + have, PROXY_V2_HEADER_FIXED - have, deadline);
		if (rc != 1)
			return read_fail(rc, err);
		have = PROXY_V2_HEADER_FIXED;
		total = proxy_header_length(buf, have);
		if (total < 0) {
			if (memcmp(buf, proxy_v2_signature, sizeof proxy_v2_signature) != 0) {
				xbuf_puts(err, "not a PROXY protocol header");
				return false;
			}
			/* Declared length over our bound: swallow it so no header byte becomes SMTP. */
			size_t left = (size_t)buf[14] << 8 | buf[15];
			while (left > 0) {
				size_t chunk = left < sizeof buf ? left : sizeof buf;
				if (read_exact(fd, buf, chunk, deadline) != 1)
					break;
				left -= chunk;
			}
			xbuf_puts(err, "PROXY v2 declared length too large");
			return false;
		}
		rc = read_exact(fd, buf + have, (size_t)total - have, deadline);
		if (rc != 1)
			return read_fail(rc, err);
		have = (size_t)total;
	} else {
		/* v1: one byte at a time so nothing after the LF is consumed. */
		while (total == 0) {
			rc = read_exact(fd, buf + have, 1, deadline);
			if (rc != 1)
				return read_fail(rc, err);
			have++;
			total = proxy_header_length(buf, have);
		}
		if (total < 0) {
			xbuf_puts(err, "PROXY v1 line without CRLF within 107 bytes");
			return false;
		}
	}
	proxy_header h;
	const char *why = NULL;
	if (!proxy_parse(buf, have, &h, &why)) {
		xbuf_puts(err, why);
		return false;
	}
	fill_info(&h, out);
	return true;
}

static bool yes_no(xbuf *out, bool v)
{
	xbuf_puts(out, v ? "yes" : "no");
	return true;
}

static bool tlv_var(void *ctx, sv name, xbuf *out)
{
	const proxy_info *pi = ctx;
	if (!sv_starts(name, "proxy_"))
		return false;
	sv n = sv_sub(name, 6, name.len - 6);
	static const proxy_info none;
	if (pi == NULL)
		pi = &none;
	const struct { const char *name; bool present; size_t len; const char *s; } texts[] = {
#define T(nm, f) { nm, pi->f.present, pi->f.len, pi->f.s }
		T("alpn", alpn), T("authority", authority), T("unique_id", unique_id), T("netns", netns),
		T("ssl_version", ssl_version), T("ssl_cn", ssl_cn), T("ssl_cipher", ssl_cipher),
		T("ssl_sig_alg", ssl_sig_alg), T("ssl_key_alg", ssl_key_alg),
#undef T
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (sv_eq_cstr(n, texts[i].name)) {
			if (texts[i].present)
				xbuf_putsv(out, sv_tainted(sv_make(texts[i].s, texts[i].len)));
			return true;
		}
	if (sv_eq_cstr(n, "ssl"))
		return yes_no(out, pi->ssl && (pi->ssl_client & PP2_CLIENT_SSL));
	if (sv_eq_cstr(n, "ssl_verified"))
		return yes_no(out, pi->ssl && (pi->ssl_client & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS)) &&
			pi->ssl_verify == 0);
	if (sv_eq_cstr(n, "crc32c"))
		return yes_no(out, pi->crc32c_verified);
	return false;
}

void proxy_vars_provider(const proxy_info *pi, xp_provider *p)
{
	p->get = tlv_var;
	p->ctx = (void *)pi;
	p->next = NULL;
}
