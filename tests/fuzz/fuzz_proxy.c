/* Fuzz src/mail/proxy: the PROXY v1/v2 header parser (bytes straight from the network).
 *
 * Invariants: proxy_header_length never claims more than a v2 maximum or a v1 line; when the
 * parser accepts, the header it accepted is exactly what proxy_header_length measured (so the
 * reader and the parser agree), ports are 0..65535, a non-local header has addresses of one
 * family, v1 accepts only lines ending in CRLF, and every TLV view lies inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "mail/proxy.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool inside(sv v, const uint8_t *data, size_t size)
{
	if (v.p == NULL)
		return true;
	const uint8_t *p = (const uint8_t *)v.p;
	return p >= data && p + v.len <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	long len = proxy_header_length(data, size);
	CHECK(len <= (long)(PROXY_V2_HEADER_FIXED + PROXY_V2_MAX_PAYLOAD));
	proxy_header h;
	const char *why = NULL;
	bool ok = proxy_parse(data, size, &h, &why);
	CHECK(ok || why != NULL);
	if (!ok)
		return 0;
	CHECK(len == (long)size);
	CHECK(h.version == 1 || h.version == 2);
	if (h.version == 1)
		CHECK(size >= 2 && size <= PROXY_V1_MAX_LINE && data[size - 2] == '\r' && data[size - 1] == '\n');
	if (!h.local) {
		CHECK(h.src.family == h.dst.family);
		CHECK(h.src_port >= 0 && h.src_port <= 65535 && h.dst_port >= 0 && h.dst_port <= 65535);
	}
	const proxy_tlvs *t = &h.tlv;
	sv all[] = { t->alpn, t->authority, t->unique_id, t->netns, t->ssl_version, t->ssl_cn,
		t->ssl_cipher, t->ssl_sig_alg, t->ssl_key_alg };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		CHECK(inside(all[i], data, size));
	CHECK(t->unique_id.len <= PROXY_UNIQUE_ID_MAX);
	return 0;
}
