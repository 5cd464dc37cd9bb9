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

/* The subject as Exim shows it in these messages: non-printing bytes in octal. */
static void put_printable(xbuf *out, sv in)
{
	for (size_t i = 0; i < in.len; i++) {
		unsigned char ch = (unsigned char)in.p[i];
		if (ch >= 32 && ch < 127)
			xbuf_putc(out, (char)ch);
		else
			xbuf_printf(out, "\\%03o", ch);
	}
}

static int alabel_fail(op_ctx *c, bool to_alabel, const char *why)
{
	op_fail(c, "error converting %s (", to_alabel ? "utf8" : "alabel");
	put_printable(c->err, c->in);
	xbuf_printf(c->err, ") to %s: %s", to_alabel ? "alabel" : "utf8", why);
	return XP_OP_ERROR;
}

int op_utf8_domain_to_alabel(op_ctx *c)
{
	size_t mark = c->out->len;
	const char *why;
	if (!idna_domain_to_alabel(c->in, c->out, &why)) {
		xbuf_truncate(c->out, mark);
		return alabel_fail(c, true, why);
	}
	return XP_OP_OK;
}

int op_utf8_domain_from_alabel(op_ctx *c)
{
	size_t mark = c->out->len;
	if (!idna_domain_from_alabel(c->in, c->out)) {
		xbuf_truncate(c->out, mark);
		return alabel_fail(c, false, "Invalid input");
	}
	return XP_OP_OK;
}

/* Local parts: the whole local part is one Punycode string after "xn--" when it has any
 * non-ASCII byte; otherwise it is returned unchanged (case kept). */
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
		return alabel_fail(c, true, "string encoding error");
	}
	return XP_OP_OK;
}

/* The reverse insists on the exact lower-case "xn--" prefix, as Exim does. */
int op_utf8_localpart_from_alabel(op_ctx *c)
{
	if (!sv_starts(c->in, "xn--"))
		return alabel_fail(c, false, "bad alabel prefix");
	size_t mark = c->out->len;
	if (!punycode_decode(sv_sub(c->in, 4, c->in.len), c->out)) {
		xbuf_truncate(c->out, mark);
		return alabel_fail(c, false, "Invalid input");
	}
	return XP_OP_OK;
}
