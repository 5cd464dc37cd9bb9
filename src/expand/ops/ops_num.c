/* Numeric operators and the helpers items share with them: hash, nhash, substr, length,
 * time_eval, time_interval, randint; number parsing as Exim's conditions do it.
 *
 * Exim holds these operands in C ints, so values written in operator names ("substr_4294967297")
 * wrap modulo 2^32; the helpers truncate their long long arguments the same way so that the
 * item and operator forms agree.
 */
#include "expand/ops/ops_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/list.h"
#include "lib/timefmt.h"

static int wrap_int(long long v)
{
	return (int)(int32_t)(uint32_t)(unsigned long long)v;
}

/* Characters of ${hash} output, in order; the modulus (default 26) takes a prefix of it.
 * Exim's table has "t" and "s" swapped, and so must ours for equal results. */
static const char hash_codes[] = "abcdefghijklmnopqrtsuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

bool xp_hash(sv in, long long len_ll, long long mod_ll, bool have_mod, xbuf *out, xbuf *err)
{
	int len = wrap_int(len_ll), mod = have_mod ? wrap_int(mod_ll) : -1;
	if (mod < 0)
		mod = 26;
	else if (mod > (int)sizeof hash_codes - 1) {
		xbuf_reset(err);
		xbuf_printf(err, "hash count \"%d\" too big", mod);
		return false;
	}
	if (len < 0) {
		/* Exim aborts here (a negative string length); refuse instead. */
		xbuf_reset(err);
		xbuf_printf(err, "hash length \"%d\" is negative", len);
		return false;
	}
	out->taint |= in.taint;
	if ((size_t)len >= in.len) {
		xbuf_putsv(out, in);
		return true;
	}
	if (mod == 0) {
		/* Exim dies with a division by zero here; refuse instead. */
		xbuf_reset(err);
		xbuf_printf(err, "hash count \"0\" too small");
		return false;
	}
	/* Fold the bytes after the first len into the first len, each rotated by an amount that
	 * depends on its value and position; then map each folded byte into the code set. */
	unsigned char *acc = malloc((size_t)len + 1);
	if (!acc)
		abort();
	memcpy(acc, in.p, (size_t)len);
	int i = 0;
	for (size_t j = (size_t)len; j < in.len; j++) {
		unsigned c = (unsigned char)in.p[j];
		unsigned shift = (c + (unsigned)j) & 7;
		acc[i] ^= (unsigned char)((c << shift) | (c >> (8 - shift)));
		if (++i >= len)
			i = 0;
	}
	for (i = 0; i < len; i++)
		xbuf_putc(out, hash_codes[acc[i] % (unsigned)mod]);
	free(acc);
	return true;
}

/* Weights for ${nhash}: applied from the largest down, cycling back to the largest. */
static const unsigned nhash_primes[] = { 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61,
	67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113 };

bool xp_nhash(sv in, long long n_ll, long long m_ll, bool have_m, xbuf *out, xbuf *err)
{
	enum { NPRIMES = sizeof nhash_primes / sizeof nhash_primes[0] };
	uint32_t n = (uint32_t)wrap_int(n_ll), m = have_m ? (uint32_t)wrap_int(m_ll) : 0;
	uint32_t total = 0;
	size_t k = NPRIMES - 1;
	for (size_t i = 0; i < in.len; i++) {
		total += nhash_primes[k] * (unsigned char)in.p[i];
		k = k ? k - 1 : NPRIMES - 1;
	}
	uint32_t divisor = have_m ? n * m : n;
	if (divisor == 0 || (have_m && m == 0)) {
		/* Exim dies with a division by zero here. */
		xbuf_reset(err);
		xbuf_printf(err, "division by zero in nhash");
		return false;
	}
	total %= divisor;
	if (have_m)
		xbuf_printf(out, "%d/%d", (int)(total / m), (int)(total % m));
	else
		xbuf_printf(out, "%d", (int)total);
	out->taint |= in.taint;
	return true;
}

bool xp_substr(sv in, long long start_ll, long long len_ll, bool have_len, xbuf *out, xbuf *err)
{
	long long sublen = (long long)in.len;
	long long start = wrap_int(start_ll), len = have_len ? wrap_int(len_ll) : -1;
	(void)err;
	if (start < 0) {
		/* from the right; with no length, everything before the offset */
		start += sublen;
		if (len < 0) {
			len = start < 0 ? 0 : start;
			start = 0;
		} else if (start < 0) {
			len += start; /* overshoot shortens the length */
			start = 0;
			if (len < 0)
				len = 0;
		}
	} else {
		if (start > sublen)
			start = sublen;
		if (len < 0)
			len = sublen - start;
	}
	if (len > sublen - start)
		len = sublen - start;
	out->taint |= in.taint;
	xbuf_putsv(out, sv_sub(in, (size_t)start, (size_t)len));
	return true;
}

void xp_length(sv in, long long n_ll, xbuf *out)
{
	int n = wrap_int(n_ll);
	size_t take = n < 0 || (size_t)n > in.len ? in.len : (size_t)n;
	out->taint |= in.taint;
	xbuf_putsv(out, sv_sub(in, 0, take));
}

/* The numbers in "hash_3_5", "substr_-1", "length_2": up to max of them, '_'-separated, each
 * at least one digit (only substr's first may be negative), wrapping as ints. */
static bool op_numbers(op_ctx *c, int max, bool neg_first, int vals[2], int *count)
{
	const char *t = c->arg.p, *end = c->arg.p + c->arg.len;
	*count = 0;
	while (t < end) {
		if (*count == max)
			return false;
		bool neg = false;
		if (neg_first && *count == 0 && *t == '-') {
			neg = true;
			t++;
		}
		if (neg && t == end) { /* Exim reads a bare "substr_-" as offset 0 */
			vals[(*count)++] = 0;
			return true;
		}
		if (t == end || !isdigit((unsigned char)*t))
			return false;
		uint32_t v = 0;
		while (t < end && isdigit((unsigned char)*t))
			v = v * 10 + (uint32_t)(*t++ - '0');
		vals[(*count)++] = neg ? -(int)(int32_t)v : (int)(int32_t)v;
		if (t < end) {
			if (*t != '_' || t + 1 == end)
				return false;
			t++;
		}
	}
	return true;
}

/* Shared front end of hash/nhash/substr/length in operator form. */
static bool numeric_args(op_ctx *c, int max, bool neg_first, int vals[2], int *count)
{
	if (!c->has_arg) {
		if (c->base.len <= 2)
			op_fail(c, "missing values after " SV_FMT, SV_ARG(c->base));
		else
			op_fail(c, "Not enough arguments for '" SV_FMT "' (min is 2)", SV_ARG(c->base));
		return false;
	}
	vals[0] = vals[1] = 0;
	if (!op_numbers(c, max, neg_first, vals, count)) {
		op_fail(c, "non-digit after underscore in \"" SV_FMT "\"", SV_ARG(c->name));
		return false;
	}
	return true;
}

int op_hash(op_ctx *c)
{
	int v[2], n;
	if (!numeric_args(c, 2, false, v, &n))
		return XP_OP_ERROR;
	return xp_hash(c->in, v[0], v[1], n > 1, c->out, c->err) ? XP_OP_OK : XP_OP_ERROR;
}

int op_nhash(op_ctx *c)
{
	int v[2], n;
	if (!numeric_args(c, 2, false, v, &n))
		return XP_OP_ERROR;
	return xp_nhash(c->in, v[0], v[1], n > 1, c->out, c->err) ? XP_OP_OK : XP_OP_ERROR;
}

int op_substr(op_ctx *c)
{
	int v[2], n;
	if (!numeric_args(c, 2, true, v, &n))
		return XP_OP_ERROR;
	return xp_substr(c->in, v[0], v[1], n > 1, c->out, c->err) ? XP_OP_OK : XP_OP_ERROR;
}

int op_length(op_ctx *c)
{
	int v[2], n;
	if (!numeric_args(c, 1, false, v, &n))
		return XP_OP_ERROR;
	xp_length(c->in, v[0], c->out);
	return XP_OP_OK;
}

/* Exim time intervals: one or more <digits><unit> with units w d h m s, summed; the whole
 * string must be consumed and the total must fit an int. Exim reads each number into an int,
 * so a huge count wraps ("99999999999s" is 1215752191 seconds) and a wrapped negative one is
 * refused. (lib/timefmt's interval_parse refuses such counts outright, so it is not used here.) */
static bool parse_time_interval(sv in, long long *out)
{
	long long total = 0;
	size_t i = 0;
	if (in.len == 0)
		return false;
	while (i < in.len) {
		if (!isdigit((unsigned char)in.p[i]))
			return false;
		uint32_t v = 0;
		while (i < in.len && isdigit((unsigned char)in.p[i]))
			v = v * 10 + (uint32_t)(in.p[i++] - '0');
		int n = (int)(int32_t)v;
		if (n < 0 || i == in.len)
			return false;
		long long mult;
		switch (in.p[i++]) {
		case 'w': mult = 7 * 24 * 60 * 60; break;
		case 'd': mult = 24 * 60 * 60; break;
		case 'h': mult = 60 * 60; break;
		case 'm': mult = 60; break;
		case 's': mult = 1; break;
		default: return false;
		}
		total += n * mult;
		if (total > INT_MAX)
			return false;
	}
	*out = total;
	return true;
}

int op_time_eval(op_ctx *c)
{
	long long t;
	if (!parse_time_interval(c->in, &t))
		return op_fail(c, "string \"" SV_FMT "\" is not an Exim time interval in \"time_eval\" operator",
			SV_ARG(c->in));
	xbuf_printf(c->out, "%lld", t);
	return XP_OP_OK;
}

/* Digits only (none means 0); Exim keeps the value in an int, so larger values wrap. A wrapped
 * negative value prints as a signed interval, where Exim prints a garbled form. */
int op_time_interval(op_ctx *c)
{
	uint32_t v = 0;
	for (size_t i = 0; i < c->in.len; i++) {
		if (!isdigit((unsigned char)c->in.p[i]))
			return op_fail(c, "string \"" SV_FMT "\" is not a positive number in \"time_interval\" operator",
				SV_ARG(c->in));
		v = v * 10 + (uint32_t)(c->in.p[i] - '0');
	}
	interval_format((int32_t)v, c->out);
	return XP_OP_OK;
}

bool xp_parse_number(sv text, long long *out, xbuf *err)
{
	char tmp[128];
	sv t = sv_trim(text);
	if (t.len == 0) {
		*out = 0;
		return true;
	}
	if (t.len >= sizeof tmp || memchr(t.p, 0, t.len)) {
		xbuf_reset(err);
		xbuf_printf(err, "invalid integer \"" SV_FMT "\"", SV_ARG(text));
		return false;
	}
	memcpy(tmp, t.p, t.len);
	tmp[t.len] = 0;
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (end == tmp) {
		xbuf_reset(err);
		xbuf_printf(err, "integer expected but \"" SV_FMT "\" found", SV_ARG(text));
		return false;
	}
	bool overflow = errno == ERANGE;
	long long mult = 1;
	switch (*end) {
	case 'k': case 'K': mult = 1024; end++; break;
	case 'm': case 'M': mult = 1024 * 1024; end++; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; end++; break;
	}
	if (!overflow && mult > 1 && (v > LLONG_MAX / mult || v < LLONG_MIN / mult))
		overflow = true;
	if (overflow) {
		xbuf_reset(err);
		xbuf_printf(err, "absolute value of integer \"" SV_FMT "\" is too large (overflow)", SV_ARG(text));
		return false;
	}
	if (*end) {
		xbuf_reset(err);
		xbuf_printf(err, "invalid integer \"" SV_FMT "\"", SV_ARG(text));
		return false;
	}
	*out = v * mult;
	return true;
}

int op_randint(op_ctx *c)
{
	long long max;
	if (sv_trim(c->in).len == 0)
		return op_fail(c, "integer expected but \"" SV_FMT "\" found", SV_ARG(c->in));
	if (!xp_parse_number(c->in, &max, c->err))
		return XP_OP_ERROR;
	if (max < 0)
		return op_fail(c, "non-negative integer expected but \"" SV_FMT "\" found", SV_ARG(c->in));
	/* Exim passes the limit on as an int: values that wrap to zero or below give 0. */
	int limit = wrap_int(max);
	long long r = 0;
	if (limit > 1) {
		r = arc4random_uniform((uint32_t)limit);
	}
	xbuf_printf(c->out, "%lld", r);
	return XP_OP_OK;
}
