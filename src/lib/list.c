/* Exim list iteration; see list.h. */
#include "lib/list.h"

#include <ctype.h>

static sv skip_prefix(sv l, int want, int *sep)
{
	*sep = want > 0 ? want : want < 0 ? -want : ':';
	if (want > 0)
		return l;
	size_t i = 0;
	while (i < l.len && isspace((unsigned char)l.p[i]))
		i++;
	/* A lone "<" at the end is a separator change with nothing after it: an empty list. */
	if (i + 1 == l.len && l.p[i] == '<')
		return sv_sub(l, l.len, 0);
	if (i + 1 < l.len && l.p[i] == '<' && (ispunct((unsigned char)l.p[i + 1]) || iscntrl((unsigned char)l.p[i + 1]))) {
		*sep = (unsigned char)l.p[i + 1];
		return sv_sub(l, i + 2, l.len);
	}
	return l;
}

void list_iter_init(list_iter *it, sv list, int sep)
{
	it->want = sep;
	it->rest = skip_prefix(list, sep, &it->sep);
}

int list_separator(sv list, int sep)
{
	int s;
	skip_prefix(list, sep, &s);
	return s;
}

bool list_next(list_iter *it, xbuf *item)
{
	sv r = it->rest;
	int sep = it->sep;
	xbuf_reset(item);
	item->taint = r.taint;
	size_t i = 0;
	/* Leading white space is skipped, but never a separator that is itself white space. */
	while (i < r.len && isspace((unsigned char)r.p[i]) && r.p[i] != sep)
		i++;
	if (i >= r.len) {
		it->rest = sv_sub(r, r.len, 0);
		return false;
	}
	while (i < r.len) {
		char c = r.p[i];
		if (c == sep) {
			/* A doubled separator stands for itself, except a control character (newline...),
			 * which always separates: two in a row make an empty item, as in Exim. */
			if (i + 1 < r.len && r.p[i + 1] == sep && !iscntrl((unsigned char)sep)) {
				xbuf_putc(item, c);
				i += 2;
				continue;
			}
			i++;
			break;
		}
		xbuf_putc(item, c);
		i++;
	}
	while (item->len && isspace((unsigned char)item->p[item->len - 1]))
		xbuf_truncate(item, item->len - 1);
	item->taint = r.taint;
	it->rest = sv_sub(r, i, r.len);
	return true;
}

int list_count(sv list, int sep)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	int n = 0;
	list_iter_init(&it, list, sep);
	while (list_next(&it, &item))
		n++;
	xbuf_free(&item);
	return n;
}

void list_append_item(xbuf *list, int sep, sv item)
{
	if (list->len)
		xbuf_putc(list, (char)sep);
	for (size_t i = 0; i < item.len; i++) {
		xbuf_putc(list, item.p[i]);
		if (item.p[i] == sep)
			xbuf_putc(list, (char)sep);
	}
	list->taint |= item.taint;
}
