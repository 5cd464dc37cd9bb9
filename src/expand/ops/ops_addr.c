/* Address operators over the RFC 5322 parser in src/mail/address.c. A subject that does not
 * parse yields an empty result (never an error), as in Exim. */
#include "expand/ops/ops_int.h"

#include "mail/address.h"

/* Parse a single address into tmp; false if it does not parse or is empty ("<>"). */
static bool one_address(sv in, xbuf *tmp, addr_parsed *info)
{
	const char *why;
	xbuf_init(tmp, NULL);
	return addr_extract(in, NULL, tmp, info, &why) && !info->empty && tmp->len;
}

int op_address(op_ctx *c)
{
	xbuf tmp;
	addr_parsed info;
	if (one_address(c->in, &tmp, &info))
		xbuf_putsv(c->out, xbuf_sv(&tmp));
	xbuf_free(&tmp);
	return XP_OP_OK;
}

int op_domain(op_ctx *c)
{
	xbuf tmp;
	addr_parsed info;
	if (one_address(c->in, &tmp, &info) && info.has_domain)
		xbuf_putsv(c->out, sv_sub(xbuf_sv(&tmp), info.local_len + 1, tmp.len));
	xbuf_free(&tmp);
	return XP_OP_OK;
}

int op_local_part(op_ctx *c)
{
	xbuf tmp;
	addr_parsed info;
	if (one_address(c->in, &tmp, &info))
		xbuf_putsv(c->out, sv_sub(xbuf_sv(&tmp), 0, info.local_len));
	xbuf_free(&tmp);
	return XP_OP_OK;
}

int op_addresses(op_ctx *c)
{
	sv list = c->in;
	char sep = ':';
	size_t i = 0;
	while (i < list.len && (list.p[i] == ' ' || list.p[i] == '\t' || list.p[i] == '\n' || list.p[i] == '\r'))
		i++;
	if (i < list.len && list.p[i] == '>') {
		if (i + 1 >= list.len)
			return op_fail(c, "output separator missing in expanding ${addresses:" SV_FMT "}", SV_ARG(c->in));
		sep = list.p[i + 1];
		i += 2;
	}
	list = sv_sub(list, i, list.len);
	addr_group_state groups = { .allow = true };
	xbuf addr;
	xbuf_init(&addr, NULL);
	bool first = true;
	size_t pos = 0;
	sv item;
	while (addr_next_item(list, &pos, &item)) {
		addr_parsed info;
		const char *why;
		xbuf_reset(&addr);
		if (!addr_extract(item, &groups, &addr, &info, &why) || info.empty || addr.len == 0)
			continue;
		if (!first) {
			xbuf_putc(c->out, sep);
			if (addr.p[0] == sep) /* Exim's list builder: no doubled-separator look */
				xbuf_putc(c->out, ' ');
		}
		first = false;
		/* a separator character inside an address is doubled, as in any Exim list */
		for (size_t k = 0; k < addr.len; k++) {
			if (addr.p[k] == sep)
				xbuf_putc(c->out, sep);
			xbuf_putc(c->out, addr.p[k]);
		}
	}
	xbuf_free(&addr);
	return XP_OP_OK;
}
