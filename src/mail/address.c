/* RFC 5322 address extraction with Exim's observable rules; see address.h. */
#include "mail/address.h"

#include <ctype.h>
#include <string.h>

#include "lib/printing.h"

typedef struct cursor {
	const char *p;
	size_t len, pos;
	bool utf8_domains;   /* ADDR_UTF8_DOMAINS: bytes above 127 in domain labels */
} cursor;

static int cur(const cursor *c)
{
	return c->pos < c->len ? (unsigned char)c->p[c->pos] : -1;
}

/* Skip white space and comments. An unterminated comment runs to the end of the text (Exim
 * accepts "a@b (note"); false only when comments nest too deeply. */
static bool skip_cfws(cursor *c)
{
	for (;;) {
		int ch = cur(c);
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			c->pos++;
			continue;
		}
		if (ch != '(')
			return true;
		int depth = 0;
		do {
			ch = cur(c);
			if (ch < 0)
				return true;
			c->pos++;
			if (ch == '\\') {
				if (cur(c) < 0)
					return true;
				c->pos++;
			} else if (ch == '(') {
				if (++depth > ADDR_MAX_COMMENT_DEPTH)
					return false;
			} else if (ch == ')')
				depth--;
		} while (depth > 0);
	}
}

/* atext, plus bytes above 127 (UTF-8 local parts). */
static bool is_atom_char(int ch)
{
	if (ch < 0)
		return false;
	if (ch >= 128)
		return true;
	return isalnum(ch) || strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* An atom; Exim also takes a backslash and the character after it as part of one ("a\\@b"
 * is a local part of four characters). */
static void atom(cursor *c)
{
	for (;;) {
		int ch = cur(c);
		if (ch == '\\' && c->pos + 1 < c->len)
			c->pos += 2;
		else if (is_atom_char(ch))
			c->pos++;
		else
			return;
	}
}

/* A quoted string starting at '"'; copied as written into out (may be NULL). */
static bool quoted_string(cursor *c, xbuf *out)
{
	size_t start = c->pos;
	c->pos++;
	for (;;) {
		int ch = cur(c);
		if (ch < 0)
			return false;
		c->pos++;
		if (ch == '\\') {
			if (cur(c) < 0)
				return false;
			c->pos++;
		} else if (ch == '"')
			break;
	}
	if (out)
		xbuf_put(out, c->p + start, c->pos - start);
	return true;
}

/* local-part: words (atoms or quoted strings) joined by dots; Exim allows empty words around
 * dots ("a..b", ".a", "a."). White space and comments between tokens are dropped.
 * Returns false if there is no word at all, or two words are not separated by a dot. */
static bool local_part(cursor *c, xbuf *out)
{
	bool any = false, need_dot = false;
	for (;;) {
		if (!skip_cfws(c))
			return false;
		int ch = cur(c);
		if (ch == '.') {
			xbuf_putc(out, '.');
			c->pos++;
			need_dot = false;
			any = true;
			continue;
		}
		if (ch == '"') {
			if (need_dot || !quoted_string(c, out))
				return false;
		} else if (is_atom_char(ch) || (ch == '\\' && c->pos + 1 < c->len)) {
			if (need_dot)
				return false;
			size_t s = c->pos;
			atom(c);
			xbuf_put(out, c->p + s, c->pos - s);
		} else
			return any;
		any = true;
		need_dot = true;
	}
}

/* A byte of a domain label: letters, digits, hyphens, and with ADDR_UTF8_DOMAINS any byte
 * above 127 (checked as UTF-8 once the address is complete). */
static bool label_char(const cursor *c, int ch)
{
	if (ch < 0)
		return false;
	if (ch >= 128)
		return c->utf8_domains;
	return isalnum(ch) || ch == '-';
}

/* domain: a domain literal "[...]" (no white space or brackets inside) or dot-separated labels
 * of letters, digits and hyphens, none starting with a hyphen, no empty label. */
static bool domain(cursor *c, xbuf *out)
{
	if (!skip_cfws(c))
		return false;
	if (cur(c) == '[') {
		size_t s = c->pos++;
		for (;;) {
			int ch = cur(c);
			if (ch < 0 || ch == '[' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
				return false;
			c->pos++;
			if (ch == ']')
				break;
		}
		xbuf_put(out, c->p + s, c->pos - s);
		return true;
	}
	for (;;) {
		if (!skip_cfws(c))
			return false;
		int ch = cur(c);
		if (!label_char(c, ch) || ch == '-')
			return false;
		size_t s = c->pos;
		while (label_char(c, ch = cur(c)))
			c->pos++;
		xbuf_put(out, c->p + s, c->pos - s);
		if (!skip_cfws(c))
			return false;
		if (cur(c) != '.')
			return true;
		c->pos++;
		xbuf_putc(out, '.');
	}
}

/* addr-spec: local-part ["@" domain]. */
static bool addr_spec(cursor *c, xbuf *out, addr_parsed *info, bool need_domain)
{
	size_t base = out->len;
	if (!local_part(c, out))
		return false;
	info->local_len = out->len - base;
	if (!skip_cfws(c))
		return false;
	if (cur(c) == '@') {
		c->pos++;
		xbuf_putc(out, '@');
		if (!domain(c, out))
			return false;
		info->has_domain = true;
	} else if (need_domain)
		return false;
	return true;
}

/* After '<': [route ":"] addr-spec ">" , or just ">". */
static bool route_addr(cursor *c, xbuf *out, addr_parsed *info)
{
	size_t base = out->len;
	c->pos++;
	if (!skip_cfws(c))
		return false;
	if (cur(c) == '>') {
		c->pos++;
		info->empty = true;
		return true;
	}
	if (cur(c) == '@') {
		/* a source route: @d1,@d2,...: (the domains are checked, then dropped) */
		xbuf scratch;
		xbuf_init(&scratch, NULL);
		bool ok = true;
		for (;;) {
			size_t at = scratch.len;
			if (cur(c) != '@' || (c->pos++, !domain(c, &scratch))) {
				ok = false;
				break;
			}
			if (scratch.len > at && scratch.p[at] == '[')
				info->route_literal = true;
			if (!skip_cfws(c)) {
				ok = false;
				break;
			}
			if (cur(c) == ',') {
				c->pos++;
				if (!skip_cfws(c)) {
					ok = false;
					break;
				}
				continue;
			}
			if (cur(c) == ':')
				c->pos++;
			else
				ok = false;
			break;
		}
		xbuf_free(&scratch);
		if (!ok)
			return false;
		/* after a route the address must be qualified */
		if (!addr_spec(c, out, info, true))
			return false;
	} else if (!addr_spec(c, out, info, false))
		return false;
	if (info->has_domain && out->p[base + info->local_len + 1] == '[')
		info->route_literal = true;
	if (!skip_cfws(c) || cur(c) != '>')
		return false;
	c->pos++;
	return true;
}

/* A phrase (display name or group name): atoms, quoted strings and dots. Stops at '<'
 * (route-addr follows) or, when groups are allowed, at ':' (group). Returns the stopping
 * character, or -1 if neither is reached. */
static int phrase(cursor *c, bool groups_allowed)
{
	for (;;) {
		if (!skip_cfws(c))
			return -1;
		int ch = cur(c);
		if (ch == '<' || (ch == ':' && groups_allowed))
			return ch;
		if (ch == '"') {
			if (!quoted_string(c, NULL))
				return -1;
		} else if (is_atom_char(ch) || (ch == '\\' && c->pos + 1 < c->len))
			atom(c);
		else if (ch == '.')
			c->pos++;
		else
			return -1;
	}
}

/* End of an item: only white space and comments, or a group terminator (rest ignored). */
static bool item_end(cursor *c, addr_group_state *groups)
{
	if (!skip_cfws(c))
		return false;
	if (cur(c) < 0)
		return true;
	if (cur(c) == ';' && groups && groups->in_group) {
		groups->in_group = false;
		return true;
	}
	return false;
}

static bool extract(sv item, addr_group_state *groups, bool utf8_domains, xbuf *out, addr_parsed *info,
	const char **why)
{
	cursor c = { item.p ? item.p : "", item.len, 0, utf8_domains };
	size_t mark = out->len;
	bool groups_allowed = groups && groups->allow;
	*info = (addr_parsed){ 0 };
	*why = NULL;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!skip_cfws(&c)) {
			*why = "comments nested too deeply";
			break;
		}
		size_t start = c.pos;
		/* Empty group, or an empty item closing a group ("g: a, ;") */
		if (cur(&c) == ';' && groups && groups->in_group) {
			groups->in_group = false;
			info->empty = true;
			return true;
		}
		if (cur(&c) == '<') {
			if (route_addr(&c, out, info) && item_end(&c, groups))
				return true;
			*why = "malformed address in angle brackets";
			break;
		}
		/* Try a plain addr-spec first; if it does not fill the item, rescan as a phrase. */
		if (addr_spec(&c, out, info, false) && item_end(&c, groups))
			return true;
		xbuf_truncate(out, mark);
		*info = (addr_parsed){ 0 };
		c.pos = start;
		int stop = phrase(&c, groups_allowed);
		if (stop == '<') {
			if (route_addr(&c, out, info) && item_end(&c, groups))
				return true;
			*why = "malformed address in angle brackets";
			break;
		}
		if (stop == ':' && attempt == 0 && !groups->in_group) {
			/* a group opens; what follows the ':' is the item proper */
			c.pos++;
			groups->in_group = true;
			if (!skip_cfws(&c)) {
				*why = "comments nested too deeply";
				break;
			}
			if (cur(&c) < 0) {
				info->empty = true;
				return true;
			}
			continue;
		}
		*why = "malformed address";
		break;
	}
	xbuf_truncate(out, mark);
	*info = (addr_parsed){ 0 };
	return false;
}

/* Well-formed UTF-8: each lead byte followed by as many continuation bytes as it announces. */
static bool utf8_valid(const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char b = (unsigned char)p[i];
		size_t more = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : (b & 0xF8) == 0xF0 ? 3 : 9;
		if (more == 9 || (more && i + more >= n))
			return false;
		for (size_t k = 1; k <= more; k++)
			if (((unsigned char)p[i + k] & 0xC0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

bool addr_extract(sv item, addr_group_state *groups, xbuf *out, addr_parsed *info, const char **why)
{
	return addr_extract_opts(item, groups, 0, out, info, why);
}

bool addr_extract_opts(sv item, addr_group_state *groups, unsigned flags, xbuf *out, addr_parsed *info,
	const char **why)
{
	size_t mark = out->len;
	if (!extract(item, groups, (flags & ADDR_UTF8_DOMAINS) != 0, out, info, why))
		return false;
	/* Exim takes 8-bit domains only when they are UTF-8. */
	if ((flags & ADDR_UTF8_DOMAINS) && info->has_domain) {
		size_t d = mark + info->local_len + 1;
		if (!utf8_valid(out->p + d, out->len - d)) {
			xbuf_truncate(out, mark);
			*info = (addr_parsed){ 0 };
			*why = "invalid UTF-8 byte sequence";
			return false;
		}
	}
	return true;
}

bool addr_is_8bit(sv address)
{
	for (size_t i = 0; i < address.len; i++)
		if ((unsigned char)address.p[i] >= 0x80)
			return true;
	return false;
}

bool addr_next_item(sv list, size_t *pos, sv *item)
{
	size_t i = *pos;
	if (i > list.len)
		return false;
	size_t start = i;
	int depth = 0;
	bool quoted = false, angle = false;
	for (; i < list.len; i++) {
		char ch = list.p[i];
		if (ch == '\\' && (quoted || depth) && i + 1 < list.len) {
			i++;
			continue;
		}
		if (quoted) {
			if (ch == '"')
				quoted = false;
		} else if (depth) {
			if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
		} else if (ch == '"')
			quoted = true;
		else if (ch == '(')
			depth = 1;
		else if (ch == '<')
			angle = true;
		else if (ch == '>')
			angle = false;
		else if (ch == ',' && !angle)
			break;
	}
	*item = sv_sub(list, start, i - start);
	item->taint = list.taint;
	*pos = i + 1; /* past the comma; past the end when there was none */
	return true;
}

sv addr_local_part_unquote(arena *a, sv lp)
{
	if (!memchr(lp.p, '"', lp.len) && !memchr(lp.p, '\\', lp.len))
		return lp;
	char *p = arena_alloc(a, lp.len + 1);
	size_t n = 0;
	for (size_t i = 0; i < lp.len; i++) {
		if (lp.p[i] == '"')
			continue;
		if (lp.p[i] == '\\' && i + 1 < lp.len)
			i++;
		p[n++] = lp.p[i];
	}
	p[n] = 0;
	sv r = sv_make(p, n);
	r.taint = lp.taint;
	return r;
}

/* RFC 5322 atext. */
static bool is_atext(unsigned char ch)
{
	return ch < 128 && (isalnum(ch) || (ch && strchr("!#$%&'*+-/=?^_`{|}~", ch)));
}

void addr_quote_local_part(sv lp, xbuf *out)
{
	bool needs = lp.len == 0 || lp.p[0] == '.' || lp.p[lp.len - 1] == '.';
	for (size_t i = 0; i < lp.len && !needs; i++)
		needs = lp.p[i] != '.' && !is_atext((unsigned char)lp.p[i]);
	if (needs)
		printing_quoted(lp, out);
	else
		xbuf_putsv(out, lp);
}
