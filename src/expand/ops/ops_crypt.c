/* Password and MAC helpers shared with conditions and items: crypteq and ${hmac}. */
#include "expand/ops/ops_int.h"

#include <crypt.h>
#include <stdlib.h>

#include "lib/codec.h"
#include "lib/digest.h"

/* crypt(3) of a NUL-free copy of key; false when the library refuses (bad salt). */
static bool crypt_once(sv key, const char *salt, char *out, size_t outsz)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	char *k = malloc(key.len + 1);
	if (!cd || !k)
		abort();
	memcpy(k, key.p ? key.p : "", key.len);
	k[key.len] = 0;
	/* crypt_rn rather than crypt_r: sanitizer runtimes intercept crypt_r, and with --as-needed
	 * that can leave libcrypt unlinked and the real function missing. */
	const char *r = crypt_rn(k, salt, cd, (int)sizeof *cd);
	bool ok = r && r[0] && r[0] != '*' && strlen(r) < outsz;
	if (ok)
		strcpy(out, r);
	free(k);
	free(cd);
	return ok;
}

/* Exim's own crypt16: the first eight bytes crypted with the given salt and, for longer keys,
 * the next eight crypted with the third and fourth characters of that result as salt, its
 * hash part appended. */
static bool crypt16(sv key, const char *salt, char *out, size_t outsz)
{
	char first[256], second[256], salt2[3];
	if (!crypt_once(sv_sub(key, 0, 8), salt, first, sizeof first))
		return false;
	if (key.len <= 8 || strlen(first) < 4) {
		if (strlen(first) >= outsz)
			return false;
		strcpy(out, first);
		return true;
	}
	salt2[0] = first[2];
	salt2[1] = first[3];
	salt2[2] = 0;
	if (!crypt_once(sv_sub(key, 8, 8), salt2, second, sizeof second) || strlen(second) < 2)
		return false;
	if (strlen(first) + strlen(second + 2) >= outsz)
		return false;
	strcpy(out, first);
	strcat(out, second + 2);
	return true;
}

/* Compare a digest with its printable form: base64 of b64len characters or hex of twice the
 * digest length (case-independent); any other length does not match. */
static bool digest_matches(digest_alg alg, sv plain, sv printable)
{
	uint8_t md[DIGEST_MAX_LEN];
	size_t n = digest_compute(alg, plain, md);
	if (!n)
		return false;
	xbuf enc;
	bool match = false;
	xbuf_init(&enc, NULL);
	sv raw = sv_make((const char *)md, n);
	if (printable.len == (n + 2) / 3 * 4) {
		codec_b64_encode(raw, &enc);
		match = sv_eq(xbuf_sv(&enc), printable);
	} else if (printable.len == 2 * n) {
		codec_hex_encode(raw, false, &enc);
		match = sv_eqi(xbuf_sv(&enc), printable);
	}
	xbuf_free(&enc);
	return match;
}

bool xp_crypteq(sv plain, sv encrypted, bool *match, xbuf *err)
{
	enum { M_MD5, M_SHA1, M_CRYPT, M_CRYPT16 } mech = M_CRYPT;
	sv data = encrypted;
	*match = false;
	if (encrypted.len && encrypted.p[0] == '{') {
		const char *close = memchr(encrypted.p, '}', encrypted.len);
		sv name = close ? sv_make(encrypted.p + 1, (size_t)(close - encrypted.p - 1)) : SV_NULL;
		if (close && sv_eqi(name, SV_LIT("md5"))) mech = M_MD5;
		else if (close && sv_eqi(name, SV_LIT("sha1"))) mech = M_SHA1;
		else if (close && sv_eqi(name, SV_LIT("crypt"))) mech = M_CRYPT;
		else if (close && sv_eqi(name, SV_LIT("crypt16"))) mech = M_CRYPT16;
		else {
			xbuf_reset(err);
			xbuf_printf(err, "unknown encryption mechanism in \"" SV_FMT "\"", SV_ARG(encrypted));
			return false;
		}
		data = sv_sub(encrypted, (size_t)(close - encrypted.p) + 1, encrypted.len);
	}
	switch (mech) {
	case M_MD5: *match = digest_matches(DIGEST_MD5, plain, data); break;
	case M_SHA1: *match = digest_matches(DIGEST_SHA1, plain, data); break;
	case M_CRYPT:
	case M_CRYPT16: {
		/* The stored hash is its own salt (crypt reads what it needs from it). */
		char salt[256], got[512];
		if (data.len == 0 || data.len >= sizeof salt || memchr(data.p, 0, data.len))
			break;
		memcpy(salt, data.p, data.len);
		salt[data.len] = 0;
		bool ok = mech == M_CRYPT ? crypt_once(plain, salt, got, sizeof got) : crypt16(plain, salt, got, sizeof got);
		*match = ok && sv_eq(sv_cstr(got), data);
		break;
	}
	}
	return true;
}

bool xp_hmac(sv algo, sv key, sv data, xbuf *out, xbuf *err)
{
	digest_alg alg;
	/* Exim 4.96 knows exactly these two spellings. */
	if (sv_eq_cstr(algo, "md5"))
		alg = DIGEST_MD5;
	else if (sv_eq_cstr(algo, "sha1"))
		alg = DIGEST_SHA1;
	else {
		xbuf_reset(err);
		xbuf_printf(err, "hmac algorithm \"" SV_FMT "\" is not recognised", SV_ARG(algo));
		return false;
	}
	uint8_t mac[DIGEST_MAX_LEN];
	size_t n = digest_hmac(alg, key, data, mac);
	if (!n) {
		xbuf_reset(err);
		xbuf_printf(err, "hmac with \"" SV_FMT "\" is not supported in this build", SV_ARG(algo));
		return false;
	}
	sv raw = sv_make((const char *)mac, n);
	raw.taint = key.taint | data.taint;
	codec_hex_encode(raw, false, out);
	return true;
}
