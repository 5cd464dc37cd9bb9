/* openssl_options parsing (src/tls/tls_openssl_options.c). */
#include <openssl/ssl.h>

#include "../unit.h"
#include "lib/arena.h"
#include "tls/tls_int.h"

static const struct { const char *text; bool ok; uint64_t set, clear; const char *err; } cases[] = {
	{ NULL, true, SSL_OP_NO_SSLv3 | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION, 0, "" },
	{ "", true, 0, 0, "" },
	{ "+no_tlsv1 +no_tlsv1_1", true, SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1, 0, "" },
	{ "-all +dont_insert_empty_fragments", true, SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS,
	  SSL_OP_ALL & ~SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS, "" },
	{ "+no_ticket -no_ticket", true, 0, SSL_OP_NO_TICKET, "" },
	{ "  +cipher_server_preference\t", true, SSL_OP_CIPHER_SERVER_PREFERENCE, 0, "" },
	{ "+microsoft_big_sslv3_buffer", true, 0, 0, "" },
	{ "no_tlsv1", false, 0, 0, "openssl_options parse error at \"no_tlsv1\" (want +name or -name)" },
	{ "+no_tlsv9", false, 0, 0, "openssl_options: unknown option \"+no_tlsv9\"" },
	{ "+", false, 0, 0, "openssl_options: unknown option \"+\"" },
	{ "+no_tlsv1_", false, 0, 0, "openssl_options: unknown option \"+no_tlsv1_\"" },
};

int main(void)
{
	arena_init_pools();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		xbuf err;
		xbuf_init(&err, pool_scratch);
		uint64_t set = 1, clear = 1;
		bool ok = tls_parse_openssl_options(cases[i].text, &set, &clear, &err);
		CHECK_INT(ok, cases[i].ok);
		if (ok) {
			CHECK(set == cases[i].set);
			CHECK(clear == cases[i].clear);
		}
		CHECK_STR(xbuf_cstr(&err), cases[i].err);
	}
	return unit_report("test_openssl_options");
}
