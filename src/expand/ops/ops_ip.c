/* IP address operators: mask, mask_n, ipv6norm, ipv6denorm, reverse_ip (over lib/ip.h). */
#include "expand/ops/ops_int.h"

#include <ctype.h>

#include "lib/ip.h"

/* "address/bits": Exim accepts white space before the bit count, any number of leading zeros,
 * and an empty count (zero); a sign or other junk makes the whole thing "not an IP address". */
int op_mask(op_ctx *c)
{
	sv in = c->in;
	const char *slash = in.len ? memrchr(in.p, '/', in.len) : NULL;
	ip_addr a;
	if (!slash) {
		if (ip_parse(in, &a))
			return op_fail(c, "missing mask value in \"" SV_FMT "\"", SV_ARG(in));
		return op_fail(c, "\"" SV_FMT "\" is not an IP address", SV_ARG(in));
	}
	sv addr = sv_make(in.p, (size_t)(slash - in.p));
	sv bits_text = sv_make(slash + 1, in.len - addr.len - 1);
	size_t i = 0;
	while (i < bits_text.len && isspace((unsigned char)bits_text.p[i]))
		i++;
	long bits = 0;
	bool ok = ip_parse(addr, &a);
	for (; ok && i < bits_text.len; i++) {
		if (!isdigit((unsigned char)bits_text.p[i]))
			ok = false;
		else if (bits <= 1000)
			bits = bits * 10 + (bits_text.p[i] - '0');
	}
	if (!ok)
		return op_fail(c, "\"" SV_FMT "\" is not an IP address", SV_ARG(in));
	if (bits > ip_max_bits(&a))
		return op_fail(c, "mask value too big in \"" SV_FMT "\"", SV_ARG(in));
	ip_mask(&a, (int)bits);
	bool normalised = c->has_arg && sv_eq_cstr(c->arg, "n");
	if (a.family == 4)
		ip_format(&a, c->out);
	else if (normalised)
		ip_format_ipv6norm(&a, c->out);
	else {
		/* dots instead of colons, so that the result can be an lsearch key */
		size_t start = c->out->len;
		ip_format_full(&a, c->out);
		for (size_t k = start; k < c->out->len; k++)
			if (c->out->p[k] == ':')
				c->out->p[k] = '.';
	}
	xbuf_printf(c->out, "/%ld", bits);
	return XP_OP_OK;
}

int op_ipv6norm(op_ctx *c)
{
	ip_addr a;
	if (!ip_parse_zone(c->in, &a, NULL))
		return op_fail(c, "\"" SV_FMT "\" is not an IP address", SV_ARG(c->in));
	ip_format_ipv6norm(&a, c->out);
	return XP_OP_OK;
}

int op_ipv6denorm(op_ctx *c)
{
	ip_addr a;
	if (!ip_parse_zone(c->in, &a, NULL))
		return op_fail(c, "\"" SV_FMT "\" is not an IP address", SV_ARG(c->in));
	ip_format_full(&a, c->out);
	return XP_OP_OK;
}

int op_reverse_ip(op_ctx *c)
{
	ip_addr a;
	sv in = c->in;
	/* Exim treats the literal text "::ffff:" before a dotted quad as the IPv4 address. */
	if (sv_starts(in, "::ffff:")) {
		ip_addr v4;
		if (ip_parse(sv_sub(in, 7, in.len), &v4) && v4.family == 4) {
			ip_reverse(&v4, c->out);
			return XP_OP_OK;
		}
	}
	if (!ip_parse_zone(in, &a, NULL))
		return op_fail(c, "reverse_ip() not given an IP address [" SV_FMT "]", SV_ARG(in));
	ip_reverse(&a, c->out);
	return XP_OP_OK;
}
