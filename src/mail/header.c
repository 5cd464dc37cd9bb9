/* RFC 5322 header fields; see header.h. */
#include "mail/header.h"

#include "mail/address.h"

bool hdr_is_field_start(const char *p, size_t n)
{
	size_t i = 0;
	if (n && (p[0] == ' ' || p[0] == '\t'))
		return false;
	/* Printable ASCII or 8-bit bytes (Exim 4.96 takes "X-Na\xefve:" as a header, for
	 * verify = header_names_ascii to find; DEL and controls end the header block). */
	while (i < n && (unsigned char)p[i] > 32 && (unsigned char)p[i] != 127 && p[i] != ':')
		i++;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

bool hdr_next_field(sv block, size_t *pos, sv *field)
{
	size_t i = *pos;
	if (i >= block.len)
		return false;
	size_t start = i;
	for (;;) {
		const char *nl = memchr(block.p + i, '\n', block.len - i);
		if (!nl) {
			i = block.len;
			break;
		}
		i = (size_t)(nl - block.p) + 1;
		if (i >= block.len || (block.p[i] != ' ' && block.p[i] != '\t'))
			break;
	}
	*field = sv_sub(block, start, i - start);
	field->taint = block.taint;
	*pos = i;
	return true;
}

/* Offset of the ':' that ends the name, or field.len when there is none. */
static size_t colon_at(sv field)
{
	if (!hdr_is_field_start(field.p, field.len))
		return field.len;
	const char *c = memchr(field.p, ':', field.len);
	return (size_t)(c - field.p);
}

sv hdr_field_name(sv field)
{
	size_t c = colon_at(field);
	if (c == field.len)
		return sv_sub(field, 0, 0);
	while (c > 0 && (field.p[c - 1] == ' ' || field.p[c - 1] == '\t'))
		c--;
	sv name = sv_sub(field, 0, c);
	name.taint = field.taint;
	return name;
}

sv hdr_field_body(sv field)
{
	size_t c = colon_at(field);
	size_t i = c == field.len ? 0 : c + 1;
	while (i < field.len && (field.p[i] == ' ' || field.p[i] == '\t'))
		i++;
	size_t end = field.len;
	if (end > i && field.p[end - 1] == '\n')
		end--;
	sv body = sv_sub(field, i, end - i);
	body.taint = field.taint;
	return body;
}

bool hdr_name_is(sv field, sv name)
{
	return sv_eqi(hdr_field_name(field), name) && name.len > 0;
}

void hdr_unfold(sv body, xbuf *out)
{
	size_t end = body.len;
	if (end && body.p[end - 1] == '\n')
		end--;
	for (size_t i = 0; i < end; i++) {
		if (body.p[i] == '\n' && i + 1 < end && (body.p[i + 1] == ' ' || body.p[i + 1] == '\t'))
			continue;
		xbuf_putc(out, body.p[i]);
	}
	out->taint |= body.taint;
}

size_t hdr_addresses_each(sv body, unsigned addr_flags, xbuf *out, hdr_bad_item_fn on_bad, void *ctx)
{
	size_t n = 0, pos = 0;
	addr_group_state groups = { .allow = true, .in_group = false };
	sv item;
	while (addr_next_item(body, &pos, &item)) {
		sv t = sv_trim(item);
		if (t.len == 0)
			continue;
		size_t before = out->len;
		addr_parsed info;
		const char *why = NULL;
		if (!addr_extract_opts(t, &groups, addr_flags, out, &info, &why)) {
			xbuf_truncate(out, before);
			if (on_bad)
				on_bad(ctx, t, why);
			continue;
		}
		if (info.empty || out->len == before)
			continue;
		/* A NUL cannot be in an address (and would break the NUL-separated result). */
		if (memchr(out->p + before, '\0', out->len - before)) {
			xbuf_truncate(out, before);
			if (on_bad)
				on_bad(ctx, t, "NUL in address");
			continue;
		}
		xbuf_putc(out, '\0');
		n++;
	}
	return n;
}

static void count_bad(void *ctx, sv item, const char *why)
{
	(void)item;
	(void)why;
	(*(size_t *)ctx)++;
}

size_t hdr_addresses(sv body, xbuf *out, size_t *bad)
{
	size_t nbad = 0;
	size_t n = hdr_addresses_each(body, 0, out, count_bad, &nbad);
	if (bad)
		*bad = nbad;
	out->taint |= body.taint;
	return n;
}
