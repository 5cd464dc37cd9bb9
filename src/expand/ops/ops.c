/* Operator dispatch: maps "${name:" to its handler the way Exim 4.96 resolves operator names.
 *
 * A few names contain underscores themselves (from_utf8, local_part, time_eval, ...) and match
 * only exactly. Every other name is split at its first underscore: the part before selects the
 * operator, the part after is its argument ("hash_3_5", "sha2_512", "quote_mysql", "mask_n"),
 * which operators that take none ignore, as Exim does ("${lc_x:A}" is "a").
 */
#include "expand/ops/ops_int.h"

#include <stdarg.h>

typedef struct op_entry {
	const char *name;
	op_handler fn;
} op_entry;

/* Matched only as the whole name. */
static const op_entry exact_ops[] = {
	{ "from_utf8", op_from_utf8 },
	{ "local_part", op_local_part },
	{ "quote_local_part", op_quote_local_part },
	{ "reverse_ip", op_reverse_ip },
	{ "time_eval", op_time_eval },
	{ "time_interval", op_time_interval },
	{ "utf8_domain_from_alabel", op_utf8_domain_from_alabel },
	{ "utf8_domain_to_alabel", op_utf8_domain_to_alabel },
	{ "utf8_localpart_from_alabel", op_utf8_localpart_from_alabel },
	{ "utf8_localpart_to_alabel", op_utf8_localpart_to_alabel },
};

/* Matched by the part of the name before its first underscore. */
static const op_entry prefix_ops[] = {
	{ "address", op_address },
	{ "addresses", op_addresses },
	{ "base32", op_base32 },
	{ "base32d", op_base32d },
	{ "base62", op_base62 },
	{ "base62d", op_base62d },
	{ "base64", op_base64 },
	{ "base64d", op_base64d },
	{ "domain", op_domain },
	{ "escape", op_escape },
	{ "escape8bit", op_escape8bit },
	{ "eval", op_eval },
	{ "eval10", op_eval10 },
	{ "h", op_hash },
	{ "hash", op_hash },
	{ "hex2b64", op_hex2b64 },
	{ "hexquote", op_hexquote },
	{ "ipv6denorm", op_ipv6denorm },
	{ "ipv6norm", op_ipv6norm },
	{ "l", op_length },
	{ "lc", op_lc },
	{ "length", op_length },
	{ "listcount", op_listcount },
	{ "listnamed", op_listnamed },
	{ "mask", op_mask },
	{ "md5", op_md5 },
	{ "nh", op_nhash },
	{ "nhash", op_nhash },
	{ "quote", op_quote },
	{ "randint", op_randint },
	{ "rfc2047", op_rfc2047 },
	{ "rfc2047d", op_rfc2047d },
	{ "rxquote", op_rxquote },
	{ "s", op_substr },
	{ "sha1", op_sha1 },
	{ "sha2", op_sha2 },
	{ "sha256", op_sha2 },
	{ "sha3", op_sha3 },
	{ "stat", op_stat },
	{ "str2b64", op_base64 },
	{ "strlen", op_strlen },
	{ "substr", op_substr },
	{ "uc", op_uc },
	{ "utf8clean", op_utf8clean },
};

static const op_entry *find_entry(const op_entry *table, size_t n, sv name)
{
	for (size_t i = 0; i < n; i++)
		if (sv_eq_cstr(name, table[i].name))
			return &table[i];
	return NULL;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Resolve name into ctx (base, arg) and the handler; NULL if it is no operator. */
static op_handler resolve(sv name, op_ctx *ctx)
{
	ctx->name = name;
	ctx->base = name;
	ctx->arg = SV_NULL;
	ctx->has_arg = false;
	const op_entry *e = find_entry(exact_ops, NELEM(exact_ops), name);
	if (e)
		return e->fn;
	const char *us = name.len ? memchr(name.p, '_', name.len) : NULL;
	if (us) {
		ctx->base = sv_make(name.p, (size_t)(us - name.p));
		ctx->arg = sv_make(us + 1, name.len - (size_t)(us - name.p) - 1);
		ctx->has_arg = true;
	}
	e = find_entry(prefix_ops, NELEM(prefix_ops), ctx->base);
	if (!e)
		return NULL;
	if (e->fn == op_quote && ctx->has_arg)
		return op_quote_lookup;
	return e->fn;
}

bool xp_op_exists(sv name)
{
	op_ctx ctx;
	return resolve(name, &ctx) != NULL;
}

int op_fail(op_ctx *c, const char *fmt, ...)
{
	va_list ap;
	xbuf_reset(c->err);
	va_start(ap, fmt);
	xbuf_vprintf(c->err, fmt, ap);
	va_end(ap);
	return XP_OP_ERROR;
}

/* Operators whose result is digits or hex derived from the subject, never its text. */
static bool result_is_untainted(op_handler fn)
{
	static const op_handler untainted[] = {
		op_strlen, op_listcount, op_md5, op_sha1, op_sha2, op_sha3, op_nhash, op_eval,
		op_eval10, op_base62, op_base32, op_randint,
	};
	for (size_t i = 0; i < NELEM(untainted); i++)
		if (fn == untainted[i])
			return true;
	return false;
}

int xp_op_apply(sv name, sv in, xbuf *out, xbuf *err)
{
	op_ctx ctx;
	op_handler fn = resolve(name, &ctx);
	if (!fn) {
		xbuf_reset(err);
		xbuf_printf(err, "unknown expansion operator \"" SV_FMT "\"", SV_ARG(name));
		return XP_OP_UNKNOWN;
	}
	ctx.in = in;
	ctx.out = out;
	ctx.err = err;
	uint8_t quoter = out->quoter, prior_taint = out->taint;
	int rc = fn(&ctx);
	if (rc == XP_OP_OK) {
		/* Results carry the subject's taint, except where the result is only a number, a
		 * count or a digest (Exim 4.96 leaves those untainted; no sender text survives in
		 * them); only quote_<lookup> sets a quoter. */
		if (result_is_untainted(fn))
			out->taint = prior_taint; /* whatever the helpers passed on from the subject */
		else
			out->taint |= in.taint;
		if (fn != op_quote_lookup)
			out->quoter = quoter;
	}
	return rc;
}
