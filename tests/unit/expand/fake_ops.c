/* TEST-ONLY stand-in for src/expand/ops (another engineer's module) so the engine's unit tests
 * link before that module is merged. Implements only what the engine tests use, faithfully to
 * Exim for those cases. Never linked into the program. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "expand/ops/ops.h"

static bool prefix_num(sv name, const char *pfx)
{
	size_t n = strlen(pfx);
	return name.len > n && memcmp(name.p, pfx, n) == 0;
}

bool xp_op_exists(sv name)
{
	static const char *const ops[] = { "lc", "uc", "eval", "eval10", "strlen", "listcount", "md5", "sha1", NULL };
	for (int i = 0; ops[i]; i++)
		if (sv_eq_cstr(name, ops[i]))
			return true;
	return prefix_num(name, "length_") || prefix_num(name, "l_") || prefix_num(name, "substr_") ||
		prefix_num(name, "s_");
}

bool xp_eval_arith(sv expr, bool decimal_only, long long *result, xbuf *err)
{
	/* a minimal left-to-right evaluator of + - * / over decimal integers */
	long long acc = 0, cur;
	char op = '+';
	size_t i = 0;
	(void)decimal_only;
	for (;;) {
		while (i < expr.len && isspace((unsigned char)expr.p[i])) i++;
		bool neg = false;
		if (i < expr.len && expr.p[i] == '-') { neg = true; i++; }
		if (i >= expr.len || !isdigit((unsigned char)expr.p[i])) {
			xbuf_printf(err, "bad number in \"" SV_FMT "\"", SV_ARG(expr));
			return false;
		}
		cur = 0;
		unsigned long long u = 0;
		while (i < expr.len && isdigit((unsigned char)expr.p[i])) u = u * 10 + (unsigned)(expr.p[i++] - '0');
		cur = (long long)(neg ? 0 - u : u);
		switch (op) {
		case '+': acc = (long long)((unsigned long long)acc + (unsigned long long)cur); break;
		case '-': acc = (long long)((unsigned long long)acc - (unsigned long long)cur); break;
		case '*': acc = (long long)((unsigned long long)acc * (unsigned long long)cur); break;
		default:
			if (!cur || (cur == -1 && acc == LLONG_MIN)) { xbuf_puts(err, "divide by zero"); return false; }
			acc /= cur;
			break;
		}
		while (i < expr.len && isspace((unsigned char)expr.p[i])) i++;
		if (i >= expr.len) break;
		op = expr.p[i++];
	}
	*result = acc;
	return true;
}

static void digest_hex(const char *md, sv in, xbuf *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(in.p, in.len, d, &n, EVP_get_digestbyname(md), NULL);
	for (unsigned i = 0; i < n; i++) xbuf_printf(out, "%02x", d[i]);
}

int xp_op_apply(sv name, sv in, xbuf *out, xbuf *err)
{
	if (sv_eq_cstr(name, "lc") || sv_eq_cstr(name, "uc")) {
		for (size_t i = 0; i < in.len; i++)
			xbuf_putc(out, (char)(name.p[0] == 'l' ? tolower((unsigned char)in.p[i]) : toupper((unsigned char)in.p[i])));
	} else if (sv_eq_cstr(name, "eval") || sv_eq_cstr(name, "eval10")) {
		long long r;
		if (!xp_eval_arith(in, false, &r, err)) return XP_OP_ERROR;
		xbuf_printf(out, "%lld", r);
	} else if (sv_eq_cstr(name, "strlen")) {
		xbuf_printf(out, "%zu", in.len);
	} else if (sv_eq_cstr(name, "listcount")) {
		int n = 0;
		size_t i = 0;
		while (i < in.len) { n++; while (i < in.len && in.p[i] != ':') i++; i++; }
		xbuf_printf(out, "%d", n);
	} else if (sv_eq_cstr(name, "md5") || sv_eq_cstr(name, "sha1")) {
		digest_hex(name.p[0] == 'm' ? "MD5" : "SHA1", in, out);
	} else if (prefix_num(name, "length_") || prefix_num(name, "l_")) {
		long long n = atoll(memchr(name.p, '_', name.len) + 1);
		xp_length(in, n, out);
	} else {
		return XP_OP_UNKNOWN;
	}
	out->taint |= in.taint;
	return XP_OP_OK;
}

bool xp_substr(sv in, long long start, long long len, bool have_len, xbuf *out, xbuf *err)
{
	long long l = (long long)in.len;
	(void)err;
	if (!have_len) len = start < 0 ? -start : l;
	if (start < 0) {
		start += l;
		if (start < 0) { len += start; start = 0; }
	}
	if (start > l) start = l;
	if (len < 0) len = 0;
	if (start + len > l) len = l - start;
	xbuf_put(out, in.p + start, (size_t)len);
	return true;
}

void xp_length(sv in, long long n, xbuf *out)
{
	xbuf_put(out, in.p, (size_t)n < in.len ? (size_t)n : in.len);
}

bool xp_hash(sv in, long long len, long long mod, bool have_mod, xbuf *out, xbuf *err)
{
	xbuf_puts(err, "hash is not in the test stand-in");
	return false;
}

bool xp_nhash(sv in, long long n, long long m, bool have_m, xbuf *out, xbuf *err)
{
	xbuf_puts(err, "nhash is not in the test stand-in");
	return false;
}

bool xp_crypteq(sv plain, sv encrypted, bool *match, xbuf *err)
{
	if (sv_starts(encrypted, "{md5}")) {
		xbuf h;
		xbuf_init(&h, NULL);
		digest_hex("MD5", plain, &h);
		*match = sv_eq(sv_sub(encrypted, 5, encrypted.len), xbuf_sv(&h));
		xbuf_free(&h);
		return true;
	}
	*match = sv_eq(plain, encrypted);
	return true;
}

bool xp_hmac(sv algo, sv key, sv data, xbuf *out, xbuf *err)
{
	const EVP_MD *md = EVP_get_digestbyname(sv_eq_cstr(algo, "md5") ? "MD5" : "SHA1");
	unsigned char k[64] = { 0 }, ipad[64], opad[64], inner[EVP_MAX_MD_SIZE], outer[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (key.len > 64)
		EVP_Digest(key.p, key.len, k, &n, md, NULL);
	else
		memcpy(k, key.p, key.len);
	for (int i = 0; i < 64; i++) { ipad[i] = k[i] ^ 0x36; opad[i] = k[i] ^ 0x5c; }
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, md, NULL);
	EVP_DigestUpdate(c, ipad, 64);
	EVP_DigestUpdate(c, data.p, data.len);
	EVP_DigestFinal_ex(c, inner, &n);
	EVP_DigestInit_ex(c, md, NULL);
	EVP_DigestUpdate(c, opad, 64);
	EVP_DigestUpdate(c, inner, n);
	EVP_DigestFinal_ex(c, outer, &n);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < n; i++) xbuf_printf(out, "%02x", outer[i]);
	return true;
}

bool xp_parse_number(sv text, long long *out, xbuf *err)
{
	return sv_to_long(text, out);
}
