/* openssl_options: Exim's space-separated "+name -name" adjustments of OpenSSL's SSL_OP_* flags
 * (the names are the flags' without "SSL_OP_", lower-cased). Flags OpenSSL 3 no longer has (they
 * are 0 there: no_sslv2, single_dh_use, the old bug workarounds) are accepted and change nothing,
 * so configurations written for older builds keep working. */
#include <string.h>

#include <openssl/ssl.h>

#include "tls/tls_int.h"

static const struct { const char *name; uint64_t bits; } names[] = {
	{ "all", SSL_OP_ALL },
	{ "allow_no_dhe_kex", SSL_OP_ALLOW_NO_DHE_KEX },
	{ "allow_unsafe_legacy_renegotiation", SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION },
	{ "cipher_server_preference", SSL_OP_CIPHER_SERVER_PREFERENCE },
	{ "crypto_all", 0 },
	{ "dont_insert_empty_fragments", SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS },
	{ "enable_middlebox_compat", SSL_OP_ENABLE_MIDDLEBOX_COMPAT },
	{ "ephemeral_rsa", 0 },
	{ "ignore_unexpected_eof", SSL_OP_IGNORE_UNEXPECTED_EOF },
	{ "legacy_server_connect", SSL_OP_LEGACY_SERVER_CONNECT },
	{ "microsoft_big_sslv3_buffer", 0 },
	{ "microsoft_sess_id_bug", 0 },
	{ "msie_sslv2_rsa_padding", 0 },
	{ "netscape_challenge_bug", 0 },
	{ "netscape_reuse_cipher_change_bug", 0 },
	{ "no_anti_replay", SSL_OP_NO_ANTI_REPLAY },
	{ "no_compression", SSL_OP_NO_COMPRESSION },
	{ "no_renegotiation", SSL_OP_NO_RENEGOTIATION },
	{ "no_session_resumption_on_renegotiation", SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION },
	{ "no_sslv2", 0 },
	{ "no_sslv3", SSL_OP_NO_SSLv3 },
	{ "no_ticket", SSL_OP_NO_TICKET },
	{ "no_tlsv1", SSL_OP_NO_TLSv1 },
	{ "no_tlsv1_1", SSL_OP_NO_TLSv1_1 },
	{ "no_tlsv1_2", SSL_OP_NO_TLSv1_2 },
	{ "no_tlsv1_3", SSL_OP_NO_TLSv1_3 },
	{ "prioritize_chacha", SSL_OP_PRIORITIZE_CHACHA },
	{ "safari_ecdhe_ecdsa_bug", SSL_OP_SAFARI_ECDHE_ECDSA_BUG },
	{ "single_dh_use", 0 },
	{ "single_ecdh_use", 0 },
	{ "ssleay_080_client_dh_bug", 0 },
	{ "sslref2_reuse_cert_type_bug", 0 },
	{ "tls_block_padding_bug", 0 },
	{ "tls_d5_bug", 0 },
	{ "tls_rollback_bug", SSL_OP_TLS_ROLLBACK_BUG },
};

bool tls_parse_openssl_options(const char *text, uint64_t *set, uint64_t *clear, xbuf *err)
{
	*set = *clear = 0;
	const char *p = text ? text : TLS_OPENSSL_OPTIONS_DEFAULT;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n') p++;
		if (!*p) return true;
		char sign = *p;
		const char *start = p;
		if (sign != '+' && sign != '-') {
			size_t n = strcspn(p, " \t\n");
			xbuf_printf(err, "openssl_options parse error at \"%.*s\" (want +name or -name)", (int)n, p);
			return false;
		}
		p++;
		size_t n = strcspn(p, " \t\n");
		size_t i;
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strlen(names[i].name) == n && strncmp(names[i].name, p, n) == 0) break;
		if (i == sizeof names / sizeof names[0]) {
			xbuf_printf(err, "openssl_options: unknown option \"%.*s\"", (int)(n + 1), start);
			return false;
		}
		if (sign == '+') { *set |= names[i].bits; *clear &= ~names[i].bits; }
		else { *clear |= names[i].bits; *set &= ~names[i].bits; }
		p += n;
	}
}
