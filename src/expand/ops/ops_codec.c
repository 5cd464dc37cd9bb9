/* Encoding and digest operators: base32/62/64 and their decoders, hex2b64, md5, sha1/2/3. */
#include "expand/ops/ops_int.h"

#include <errno.h>
#include <stdlib.h>

#include "lib/codec.h"
#include "lib/digest.h"

/* Exim reads these operands with strtoull: leading white space and a sign are accepted, a
 * negative number wraps, overflow saturates, and nothing may follow the digits. */
static bool parse_ull(sv in, unsigned long long *out)
{
	char tmp[64];
	if (in.len >= sizeof tmp || memchr(in.p ? in.p : "", 0, in.len))
		return false;
	memcpy(tmp, in.p ? in.p : "", in.len);
	tmp[in.len] = 0;
	char *end;
	errno = 0;
	*out = strtoull(tmp, &end, 10);
	return *end == 0;
}

int op_base32(op_ctx *c)
{
	unsigned long long n;
	if (!parse_ull(c->in, &n))
		return op_fail(c, "argument for base32 operator is \"" SV_FMT "\", which is not a decimal number",
			SV_ARG(c->in));
	codec_b32_number(n, c->out);
	return XP_OP_OK;
}

int op_base32d(op_ctx *c)
{
	uint64_t n;
	if (!codec_b32_parse(c->in, &n))
		return op_fail(c, "argument for base32d operator is \"" SV_FMT "\", which is not a base 32 number",
			SV_ARG(c->in));
	xbuf_printf(c->out, "%lld", (long long)n);
	return XP_OP_OK;
}

int op_base62(op_ctx *c)
{
	unsigned long long n;
	if (!parse_ull(c->in, &n))
		return op_fail(c, "argument for base62 operator is \"" SV_FMT "\", which is not a decimal number",
			SV_ARG(c->in));
	codec_b62_number6(n, c->out);
	return XP_OP_OK;
}

int op_base62d(op_ctx *c)
{
	uint64_t n;
	if (!codec_b62_parse(c->in, &n))
		return op_fail(c, "argument for base62d operator is \"" SV_FMT "\", which is not a base 62 number",
			SV_ARG(c->in));
	xbuf_printf(c->out, "%lld", (long long)n);
	return XP_OP_OK;
}

int op_base64(op_ctx *c)
{
	codec_b64_encode(c->in, c->out);
	return XP_OP_OK;
}

int op_base64d(op_ctx *c)
{
	size_t mark = c->out->len;
	if (!codec_b64_decode(c->in, c->out)) {
		xbuf_truncate(c->out, mark);
		return op_fail(c, "string \"" SV_FMT "\" is not well-formed for \"" SV_FMT "\" operator", SV_ARG(c->in),
			SV_ARG(c->name));
	}
	return XP_OP_OK;
}

int op_hex2b64(op_ctx *c)
{
	/* Exim checks the characters before the length. */
	for (size_t i = 0; i < c->in.len; i++)
		if (codec_hex_digit((unsigned char)c->in.p[i]) < 0)
			return op_fail(c, "\"" SV_FMT "\" is not a hex string", SV_ARG(c->in));
	if (c->in.len % 2)
		return op_fail(c, "\"" SV_FMT "\" contains an odd number of characters", SV_ARG(c->in));
	xbuf raw;
	xbuf_init(&raw, NULL);
	codec_hex_decode(c->in, &raw, NULL);
	codec_b64_encode(xbuf_sv(&raw), c->out);
	xbuf_free(&raw);
	return XP_OP_OK;
}

static int put_digest(op_ctx *c, digest_alg alg, bool upper)
{
	if (!digest_hex(alg, c->in, upper, c->out))
		return op_fail(c, "hashing with \"" SV_FMT "\" is not supported in this build", SV_ARG(c->base));
	return XP_OP_OK;
}

int op_md5(op_ctx *c)
{
	return put_digest(c, DIGEST_MD5, false);
}

int op_sha1(op_ctx *c)
{
	return put_digest(c, DIGEST_SHA1, true);
}

/* sha2 / sha256, optionally with _256, _384 or _512 (Exim accepts the size after either
 * spelling: "sha256_512" is SHA-512). */
int op_sha2(op_ctx *c)
{
	digest_alg alg = DIGEST_SHA256;
	if (c->has_arg) {
		if (sv_eq_cstr(c->arg, "256")) alg = DIGEST_SHA256;
		else if (sv_eq_cstr(c->arg, "384")) alg = DIGEST_SHA384;
		else if (sv_eq_cstr(c->arg, "512")) alg = DIGEST_SHA512;
		else return op_fail(c, "unrecognised sha2 variant");
	}
	return put_digest(c, alg, true);
}

int op_sha3(op_ctx *c)
{
	digest_alg alg = DIGEST_SHA3_256;
	if (c->has_arg) {
		if (sv_eq_cstr(c->arg, "224")) alg = DIGEST_SHA3_224;
		else if (sv_eq_cstr(c->arg, "256")) alg = DIGEST_SHA3_256;
		else if (sv_eq_cstr(c->arg, "384")) alg = DIGEST_SHA3_384;
		else if (sv_eq_cstr(c->arg, "512")) alg = DIGEST_SHA3_512;
		else return op_fail(c, "unrecognised sha3 variant");
	}
	return put_digest(c, alg, true);
}
