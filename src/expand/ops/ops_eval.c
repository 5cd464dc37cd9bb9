/* ${eval:} and ${eval10:}: 64-bit integer arithmetic with C precedence, Exim's number forms
 * (octal/hex for eval, K/M/G multipliers) and Exim's overflow rules: sums and differences
 * are checked (coarsely, see additive()); products, negation and multipliers wrap; shift counts
 * are taken modulo 64; LLONG_MIN / -1 and LLONG_MIN % -1 give LLONG_MAX.
 *
 * Errors read "error in expression evaluation: <what> (after processing "<text so far>")".
 * Nesting is bounded (EVAL_MAX_DEPTH) since the grammar is recursive.
 */
#include "expand/ops/ops_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>

enum { EVAL_MAX_DEPTH = 200 };
#define EVAL_HALF_MAX (LLONG_MAX / 2)

typedef struct eval_state {
	sv expr;
	size_t pos;
	bool decimal_only;
	int depth;
	const char *error; /* first error, NULL while all is well */
} eval_state;

static int peek(eval_state *e)
{
	return e->pos < e->expr.len ? (unsigned char)e->expr.p[e->pos] : 0;
}

static void skip_space(eval_state *e)
{
	while (e->pos < e->expr.len && isspace((unsigned char)e->expr.p[e->pos]))
		e->pos++;
}

static long long fail(eval_state *e, const char *what)
{
	if (!e->error)
		e->error = what;
	return 0;
}

static long long wrap_mul(long long a, long long b)
{
	return (long long)((unsigned long long)a * (unsigned long long)b);
}

/* Digits in the given base, saturating at LLONG_MAX as strtoll does. */
static long long digits(eval_state *e, int base)
{
	unsigned long long v = 0;
	bool sat = false;
	for (;;) {
		int c = peek(e), d;
		if (c >= '0' && c <= '9') d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
		else break;
		if (d >= base)
			break;
		e->pos++;
		if (v > ((unsigned long long)LLONG_MAX - (unsigned)d) / (unsigned)base)
			sat = true;
		else
			v = v * (unsigned)base + (unsigned)d;
	}
	return sat ? LLONG_MAX : (long long)v;
}

static long long number(eval_state *e)
{
	long long v;
	int c = peek(e);
	if (!isdigit(c))
		return fail(e, "expecting number or opening parenthesis");
	if (!e->decimal_only && c == '0' && e->pos + 1 < e->expr.len &&
		(e->expr.p[e->pos + 1] == 'x' || e->expr.p[e->pos + 1] == 'X')) {
		e->pos += 2; /* "0x" alone reads as zero, as sscanf's %lli does */
		v = digits(e, 16);
	} else if (!e->decimal_only && c == '0')
		v = digits(e, 8);
	else
		v = digits(e, 10);
	switch (peek(e)) {
	case 'k': case 'K': e->pos++; v = wrap_mul(v, 1024); break;
	case 'm': case 'M': e->pos++; v = wrap_mul(v, 1024 * 1024); break;
	case 'g': case 'G': e->pos++; v = wrap_mul(v, 1024 * 1024 * 1024); break;
	}
	return v;
}

static long long expr_or(eval_state *e);

static long long primary(eval_state *e)
{
	long long v;
	skip_space(e);
	if (peek(e) == '(') {
		if (++e->depth > EVAL_MAX_DEPTH)
			return fail(e, "expression nested too deeply");
		e->pos++;
		v = expr_or(e);
		e->depth--;
		if (e->error)
			return 0;
		skip_space(e);
		if (peek(e) != ')')
			return fail(e, "expecting closing parenthesis");
		e->pos++;
	} else {
		v = number(e);
		if (e->error)
			return 0;
	}
	skip_space(e);
	return v;
}

static long long unary(eval_state *e)
{
	/* Runs of prefix operators are applied innermost first; counting them keeps this flat. */
	char ops[EVAL_MAX_DEPTH];
	int n = 0;
	for (;;) {
		skip_space(e);
		int c = peek(e);
		if (c != '-' && c != '~' && c != '+')
			break;
		if (n == EVAL_MAX_DEPTH)
			return fail(e, "expression nested too deeply");
		ops[n++] = (char)c;
		e->pos++;
	}
	long long v = primary(e);
	if (e->error)
		return 0;
	while (n--) {
		if (ops[n] == '-')
			v = (long long)(0ULL - (unsigned long long)v);
		else if (ops[n] == '~')
			v = ~v;
	}
	return v;
}

static long long multiplicative(eval_state *e)
{
	long long x = unary(e);
	while (!e->error && (peek(e) == '*' || peek(e) == '/' || peek(e) == '%')) {
		int op = peek(e);
		e->pos++;
		long long y = unary(e);
		if (e->error)
			return 0;
		if (op == '*')
			x = wrap_mul(x, y);
		else if (y == 0)
			return fail(e, op == '/' ? "divide by zero" : "modulo by zero");
		else if (x == LLONG_MIN && y == -1)
			x = LLONG_MAX;
		else
			x = op == '/' ? x / y : x % y;
	}
	return x;
}

static long long additive(eval_state *e)
{
	long long x = multiplicative(e);
	while (!e->error && (peek(e) == '+' || peek(e) == '-')) {
		int op = peek(e);
		e->pos++;
		long long y = multiplicative(e);
		if (e->error)
			return 0;
		/* Exim's overflow test, reproduced as observed: the left operand alone decides on the
		 * positive side (so 0x7fffffffffffffff+0 "overflows" and 1+0x7ffffffffffffffe does not),
		 * both operands on the negative side; anything it lets through wraps. */
		if (x >= EVAL_HALF_MAX || (x <= -EVAL_HALF_MAX && y <= -EVAL_HALF_MAX))
			return fail(e, op == '+' ? "overflow in sum" : "overflow in difference");
		if (op == '+')
			x = (long long)((unsigned long long)x + (unsigned long long)y);
		else
			x = (long long)((unsigned long long)x - (unsigned long long)y);
	}
	return x;
}

static long long shift(eval_state *e)
{
	long long x = additive(e);
	while (!e->error && e->pos + 1 < e->expr.len &&
		((peek(e) == '<' && e->expr.p[e->pos + 1] == '<') || (peek(e) == '>' && e->expr.p[e->pos + 1] == '>'))) {
		int op = peek(e);
		e->pos += 2;
		long long y = additive(e);
		if (e->error)
			return 0;
		unsigned n = (unsigned)y & 63; /* as the hardware does it */
		x = op == '<' ? (long long)((unsigned long long)x << n) : x >> n;
	}
	return x;
}

static long long bit_and(eval_state *e)
{
	long long x = shift(e);
	while (!e->error && peek(e) == '&') {
		e->pos++;
		long long y = shift(e);
		x &= y;
	}
	return x;
}

static long long bit_xor(eval_state *e)
{
	long long x = bit_and(e);
	while (!e->error && peek(e) == '^') {
		e->pos++;
		long long y = bit_and(e);
		x ^= y;
	}
	return x;
}

static long long expr_or(eval_state *e)
{
	long long x = bit_xor(e);
	while (!e->error && peek(e) == '|') {
		e->pos++;
		long long y = bit_xor(e);
		x |= y;
	}
	return x;
}

bool xp_eval_arith(sv expr, bool decimal_only, long long *result, xbuf *err)
{
	eval_state e = { .expr = expr, .decimal_only = decimal_only };
	long long v = expr_or(&e);
	if (!e.error && e.pos < expr.len)
		e.error = "expecting operator";
	if (e.error) {
		xbuf_reset(err);
		xbuf_printf(err, "error in expression evaluation: %s (after processing \"%.*s\")", e.error, (int)e.pos,
			expr.p ? expr.p : "");
		return false;
	}
	*result = v;
	return true;
}

static int eval_op(op_ctx *c, bool decimal_only)
{
	long long v;
	if (!xp_eval_arith(c->in, decimal_only, &v, c->err))
		return XP_OP_ERROR;
	xbuf_printf(c->out, "%lld", v);
	return XP_OP_OK;
}

int op_eval(op_ctx *c)
{
	return eval_op(c, false);
}

int op_eval10(op_ctx *c)
{
	return eval_op(c, true);
}
