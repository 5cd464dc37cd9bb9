/* Text operators: case, length, list counting, quoting and escaping, UTF-8 cleaning.
 * All work on bytes in the C locale, as Exim's do. */
#include "expand/ops/ops_int.h"

#include <ctype.h>
#include <stdint.h>

#include "conf/conf.h"
#include "lib/list.h"
#include "lib/printing.h"
#include "mail/address.h"

int op_lc(op_ctx *c)
{
	for (size_t i = 0; i < c->in.len; i++)
		xbuf_putc(c->out, (char)tolower((unsigned char)c->in.p[i]));
	return XP_OP_OK;
}

int op_uc(op_ctx *c)
{
	for (size_t i = 0; i < c->in.len; i++)
		xbuf_putc(c->out, (char)toupper((unsigned char)c->in.p[i]));
	return XP_OP_OK;
}

int op_strlen(op_ctx *c)
{
	xbuf_printf(c->out, "%zu", c->in.len);
	return XP_OP_OK;
}

int op_listcount(op_ctx *c)
{
	xbuf_printf(c->out, "%d", list_count(c->in, 0));
	return XP_OP_OK;
}

int op_rxquote(op_ctx *c)
{
	for (size_t i = 0; i < c->in.len; i++) {
		unsigned char ch = (unsigned char)c->in.p[i];
		if (!isalnum(ch))
			xbuf_putc(c->out, '\\');
		xbuf_putc(c->out, (char)ch);
	}
	return XP_OP_OK;
}

int op_quote(op_ctx *c)
{
	bool needs = c->in.len == 0;
	for (size_t i = 0; i < c->in.len && !needs; i++) {
		unsigned char ch = (unsigned char)c->in.p[i];
		needs = !isalnum(ch) && ch != '_' && ch != '.' && ch != '-';
	}
	if (needs)
		printing_quoted(c->in, c->out);
	else
		xbuf_putsv(c->out, c->in);
	return XP_OP_OK;
}

int op_quote_local_part(op_ctx *c)
{
	addr_quote_local_part(c->in, c->out);
	return XP_OP_OK;
}

/* ${escape:} and ${escape8bit:} use the shared renderings in lib/printing (Exim's
 * string_printing): for ${escape:} TAB counts as printing, and bytes above 127 do when the
 * print_topbitchars option is set. */
int op_escape(op_ctx *c)
{
	xbuf v;
	unsigned flags = PRINT_TAB_LITERAL;
	xbuf_init(&v, NULL);
	if (conf_main_value("print_topbitchars", &v) && sv_eq_cstr(xbuf_sv(&v), "true"))
		flags |= PRINT_TOPBIT;
	xbuf_free(&v);
	printing_escape(c->in, flags, c->out);
	return XP_OP_OK;
}

int op_escape8bit(op_ctx *c)
{
	printing_escape8bit(c->in, c->out);
	return XP_OP_OK;
}

int op_hexquote(op_ctx *c)
{
	for (size_t i = 0; i < c->in.len; i++) {
		unsigned char ch = (unsigned char)c->in.p[i];
		if (ch >= 33 && ch <= 126)
			xbuf_putc(c->out, (char)ch);
		else
			xbuf_printf(c->out, "\\x%02x", ch);
	}
	return XP_OP_OK;
}

/* Number of continuation bytes a UTF-8 lead byte announces; -1 if it cannot start a character
 * (continuation bytes, C0/C1, F8..FF). Exim takes F5..F7 as four-byte leads and rejects the
 * resulting value, and does not reject overlong three- and four-byte forms. */
static int utf8_trail_count(unsigned char ch)
{
	if (ch < 0x80) return 0;
	if (ch < 0xC2) return -1;
	if (ch < 0xE0) return 1;
	if (ch < 0xF0) return 2;
	if (ch < 0xF8) return 3;
	return -1;
}

/* ${utf8clean:}: each bad sequence becomes '?'. A sequence cut short by a non-ASCII byte
 * swallows that byte into its '?'; one cut short by an ASCII byte leaves it to be copied. */
int op_utf8clean(op_ctx *c)
{
	const unsigned char *p = (const unsigned char *)c->in.p;
	size_t n = c->in.len, i = 0;
	while (i < n) {
		int trail = utf8_trail_count(p[i]);
		if (trail <= 0) {
			xbuf_putc(c->out, trail == 0 ? (char)p[i] : '?');
			i++;
			continue;
		}
		uint32_t cp = p[i] & (0x3F >> trail);
		size_t j = 1;
		while ((int)j <= trail && i + j < n && (p[i + j] & 0xC0) == 0x80) {
			cp = cp << 6 | (p[i + j] & 0x3F);
			j++;
		}
		if ((int)j <= trail) {
			xbuf_putc(c->out, '?');
			if (i + j < n && p[i + j] >= 0x80)
				j++;
		} else if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			xbuf_putc(c->out, '?');
		else
			xbuf_put(c->out, p + i, j);
		i += j;
	}
	return XP_OP_OK;
}

/* ${from_utf8:} to ISO-8859-1: code points above 255 become '_'. Exim does not validate (the
 * spec calls the result of bad input undefined); this follows its observable decoding: a lead
 * byte takes as many following bytes as it announces, whatever they are, and stray
 * continuation bytes pass through unchanged. */
int op_from_utf8(op_ctx *c)
{
	const unsigned char *p = (const unsigned char *)c->in.p;
	size_t n = c->in.len, i = 0;
	while (i < n) {
		unsigned char ch = p[i++];
		int trail = ch < 0xC0 ? 0 : ch < 0xE0 ? 1 : ch < 0xF0 ? 2 : ch < 0xF8 ? 3 : ch < 0xFC ? 4 : 5;
		if (trail == 0) {
			xbuf_putc(c->out, (char)ch);
			continue;
		}
		uint32_t cp = ch & (0x3F >> trail);
		bool cut = false;
		for (int k = 0; k < trail; k++) {
			unsigned char next = i < n ? p[i++] : 0;
			cut |= next == 0;
			cp = cp << 6 | (next & 0x3F);
		}
		/* Exim's string ends at a NUL: a sequence cut short that decodes to 0 adds nothing */
		if (cp == 0 && cut)
			break;
		xbuf_putc(c->out, cp > 255 ? '_' : (char)cp);
	}
	return XP_OP_OK;
}
