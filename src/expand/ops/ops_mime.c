/* Character-set operators: rfc2047, rfc2047d and the utf8_* A-label conversions. */
#include "expand/ops/ops_int.h"

#include "conf/conf.h"
#include "mail/punycode.h"
#include "mail/rfc2047.h"

/* headers_charset, whose build-time default in Exim (and here) is UTF-8. */
static const char *headers_charset(void)
{
	const char *cs = conf_main_string("headers_charset");
	return cs && *cs ? cs : "UTF-8";
}

int op_rfc2047(op_ctx *c)
{
	rfc2047_encode(c->in, headers_charset(), c->out);
	return XP_OP_OK;
}

int op_rfc2047d(op_ctx *c)
{
	xbuf v;
	bool check_length = true;
	xbuf_init(&v, NULL);
	if (conf_main_value("check_rfc2047_length", &v))
		check_length = !sv_eq_cstr(xbuf_sv(&v), "false");
	xbuf_free(&v);
	return rfc2047_decode(c->in, headers_charset(), check_length, c->out, c->err) ? XP_OP_OK : XP_OP_ERROR;
}

int op_utf8_domain_to_alabel(op_ctx *c)
{
	if (!idna_domain_to_alabel(c->in, c->out))
		return op_fail(c, "error converting utf8 (" SV_FMT ") to alabel", SV_ARG(c->in));
	return XP_OP_OK;
}

int op_utf8_domain_from_alabel(op_ctx *c)
{
	if (!idna_domain_from_alabel(c->in, c->out))
		return op_fail(c, "error converting alabel (" SV_FMT ") to utf8", SV_ARG(c->in));
	return XP_OP_OK;
}

/* Local parts: the whole local part is one Punycode string after "xn--" when it has any
 * non-ASCII byte; otherwise it is returned unchanged. */
int op_utf8_localpart_to_alabel(op_ctx *c)
{
	bool ascii = true;
	for (size_t i = 0; i < c->in.len && ascii; i++)
		ascii = (unsigned char)c->in.p[i] < 0x80;
	if (ascii) {
		xbuf_putsv(c->out, c->in);
		return XP_OP_OK;
	}
	size_t mark = c->out->len;
	xbuf_puts(c->out, "xn--");
	if (!punycode_encode(c->in, c->out)) {
		xbuf_truncate(c->out, mark);
		return op_fail(c, "error converting utf8 (" SV_FMT ") to alabel", SV_ARG(c->in));
	}
	return XP_OP_OK;
}

int op_utf8_localpart_from_alabel(op_ctx *c)
{
	sv in = c->in;
	if (!(in.len >= 4 && (in.p[0] | 0x20) == 'x' && (in.p[1] | 0x20) == 'n' && in.p[2] == '-' && in.p[3] == '-')) {
		xbuf_putsv(c->out, in);
		return XP_OP_OK;
	}
	size_t mark = c->out->len;
	if (!punycode_decode(sv_sub(in, 4, in.len), c->out)) {
		xbuf_truncate(c->out, mark);
		return op_fail(c, "error converting alabel (" SV_FMT ") to utf8", SV_ARG(c->in));
	}
	return XP_OP_OK;
}
