/* Digests over OpenSSL EVP; see digest.h. */
#include "lib/digest.h"

#include "build_config.h"
#include "lib/codec.h"

#if SUPPORT_OPENSSL
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

static const struct {
	const char *name;
	digest_alg alg;
	size_t size;
} digest_table[] = {
	{ "md5", DIGEST_MD5, 16 }, { "sha1", DIGEST_SHA1, 20 }, { "sha224", DIGEST_SHA224, 28 },
	{ "sha256", DIGEST_SHA256, 32 }, { "sha384", DIGEST_SHA384, 48 }, { "sha512", DIGEST_SHA512, 64 },
	{ "sha3-224", DIGEST_SHA3_224, 28 }, { "sha3-256", DIGEST_SHA3_256, 32 },
	{ "sha3-384", DIGEST_SHA3_384, 48 }, { "sha3-512", DIGEST_SHA3_512, 64 },
};

bool digest_by_name(sv name, digest_alg *alg)
{
	for (size_t i = 0; i < sizeof digest_table / sizeof digest_table[0]; i++)
		if (sv_eqi(name, sv_cstr(digest_table[i].name))) {
			*alg = digest_table[i].alg;
			return true;
		}
	return false;
}

size_t digest_size(digest_alg alg)
{
	for (size_t i = 0; i < sizeof digest_table / sizeof digest_table[0]; i++)
		if (digest_table[i].alg == alg)
			return digest_table[i].size;
	return 0;
}

#if SUPPORT_OPENSSL
static const EVP_MD *evp_of(digest_alg alg)
{
	switch (alg) {
	case DIGEST_MD5: return EVP_md5();
	case DIGEST_SHA1: return EVP_sha1();
	case DIGEST_SHA224: return EVP_sha224();
	case DIGEST_SHA256: return EVP_sha256();
	case DIGEST_SHA384: return EVP_sha384();
	case DIGEST_SHA512: return EVP_sha512();
	case DIGEST_SHA3_224: return EVP_sha3_224();
	case DIGEST_SHA3_256: return EVP_sha3_256();
	case DIGEST_SHA3_384: return EVP_sha3_384();
	case DIGEST_SHA3_512: return EVP_sha3_512();
	}
	return NULL;
}

size_t digest_compute(digest_alg alg, sv data, uint8_t out[DIGEST_MAX_LEN])
{
	const EVP_MD *md = evp_of(alg);
	unsigned int len = 0;
	if (!md || !EVP_Digest(data.len ? data.p : "", data.len, out, &len, md, NULL))
		return 0;
	return len;
}

size_t digest_hmac(digest_alg alg, sv key, sv data, uint8_t out[DIGEST_MAX_LEN])
{
	const EVP_MD *md = evp_of(alg);
	unsigned int len = 0;
	if (!md || key.len > INT32_MAX)
		return 0;
	if (!HMAC(md, key.len ? key.p : "", (int)key.len, (const unsigned char *)(data.len ? data.p : ""), data.len,
		    out, &len))
		return 0;
	return len;
}
#else
size_t digest_compute(digest_alg alg, sv data, uint8_t out[DIGEST_MAX_LEN])
{
	(void)alg; (void)data; (void)out;
	return 0;
}

size_t digest_hmac(digest_alg alg, sv key, sv data, uint8_t out[DIGEST_MAX_LEN])
{
	(void)alg; (void)key; (void)data; (void)out;
	return 0;
}
#endif

bool digest_hex(digest_alg alg, sv data, bool upper, xbuf *out)
{
	uint8_t md[DIGEST_MAX_LEN];
	size_t n = digest_compute(alg, data, md);
	if (!n)
		return false;
	sv raw = sv_make((const char *)md, n);
	raw.taint = data.taint;
	codec_hex_encode(raw, upper, out);
	return true;
}
