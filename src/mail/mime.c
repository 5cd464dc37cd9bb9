/* MIME parts as Exim's MIME ACL walks them; see mime.h. */
#include "mail/mime.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>

#include "mail/header.h"
#include "mail/rfc2047.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void mime_normalise(sv value, bool lower, xbuf *out)
{
	int depth = 0;
	for (size_t i = 0; i < value.len; i++) {
		char c = value.p[i];
		if (depth) {
			if (c == '\\' && i + 1 < value.len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		if (c == ';')
			break;
		if (is_ws(c))
			continue;
		xbuf_putc(out, lower ? (char)tolower((unsigned char)c) : c);
	}
	out->taint |= value.taint;
}

bool mime_param(sv value, const char *name, xbuf *out)
{
	size_t nlen = strlen(name);
	size_t i = 0;
	bool quoted = false;
	/* Skip the main value: parameters start after the first ';' outside quotes. */
	for (; i < value.len; i++) {
		if (value.p[i] == '"')
			quoted = !quoted;
		else if (value.p[i] == ';' && !quoted)
			break;
	}
	while (i < value.len) {
		i++; /* past ';' */
		while (i < value.len && is_ws(value.p[i]))
			i++;
		size_t ns = i;
		while (i < value.len && value.p[i] != '=' && value.p[i] != ';')
			i++;
		size_t ne = i;
		while (ne > ns && is_ws(value.p[ne - 1]))
			ne--;
		bool match = ne - ns == nlen && strncasecmp(value.p + ns, name, nlen) == 0;
		if (i >= value.len || value.p[i] == ';')
			continue;
		i++; /* past '=' */
		while (i < value.len && is_ws(value.p[i]))
			i++;
		if (i < value.len && value.p[i] == '"') {
			for (i++; i < value.len && value.p[i] != '"'; i++) {
				if (value.p[i] == '\\' && i + 1 < value.len)
					i++;
				if (match)
					xbuf_putc(out, value.p[i]);
			}
			if (i < value.len)
				i++;
		}
		/* Text after a quoted string, or an unquoted value, runs to the next ';'. */
		size_t rs = i;
		while (i < value.len && value.p[i] != ';')
			i++;
		size_t re = i;
		while (re > rs && is_ws(value.p[re - 1]))
			re--;
		if (match) {
			xbuf_put(out, value.p + rs, re - rs);
			out->taint |= value.taint;
			return true;
		}
	}
	return false;
}

/* The first header called name in a header block, its value (after the colon); NULL view if
 * there is none. */
static sv header_value(sv headers, const char *name)
{
	size_t pos = 0;
	sv f;
	while (hdr_next_field(headers, &pos, &f))
		if (hdr_name_is(f, sv_cstr(name)))
			return hdr_field_body(f);
	return SV_NULL;
}

/* Split an entity into its header lines and body: header lines run to an empty line (which
 * belongs to neither) or to the first line that is neither a header nor a continuation. */
static void split_entity(sv text, sv *headers, sv *body)
{
	size_t i = 0;
	bool any = false;
	while (i < text.len) {
		const char *nl = memchr(text.p + i, '\n', text.len - i);
		size_t end = nl ? (size_t)(nl - text.p) : text.len;
		sv line = sv_sub(text, i, end - i);
		if (line.len == 0 || (line.len == 1 && line.p[0] == '\r')) {
			*headers = sv_sub(text, 0, i);
			*body = sv_sub(text, nl ? end + 1 : end, text.len);
			return;
		}
		bool cont = any && (line.p[0] == ' ' || line.p[0] == '\t');
		if (!cont && !hdr_is_field_start(line.p, line.len))
			break;
		any = true;
		i = nl ? end + 1 : end;
	}
	*headers = sv_sub(text, 0, i);
	*body = sv_sub(text, i, text.len);
}

/* Percent-decoding of an RFC 2231 value "charset'lang'text" (the text is kept in its
 * charset, as Exim shows UTF-8 names). */
static void rfc2231_decode(sv v, xbuf *out)
{
	const char *q1 = memchr(v.p, '\'', v.len);
	const char *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(v.p + v.len - q1 - 1)) : NULL;
	size_t i = q2 ? (size_t)(q2 - v.p) + 1 : 0;
	for (; i < v.len; i++) {
		if (v.p[i] == '%' && i + 2 < v.len && isxdigit((unsigned char)v.p[i + 1]) && isxdigit((unsigned char)v.p[i + 2])) {
			char hex[3] = { v.p[i + 1], v.p[i + 2], 0 };
			xbuf_putc(out, (char)strtol(hex, NULL, 16));
			i += 2;
		} else
			xbuf_putc(out, v.p[i]);
	}
	out->taint |= v.taint;
}

static sv copy_of(arena *a, xbuf *b)
{
	sv v = xbuf_sv(b);
	return sv_copy(a, v);
}

/* Fill a part's values from its header lines. */
static void describe(mime_iter *it, mime_part *p)
{
	arena *a = it->a;
	xbuf b;
	xbuf_init(&b, a);
	sv ct = header_value(p->headers, "Content-Type");
	if (ct.p) {
		mime_normalise(ct, true, &b);
		p->content_type = copy_of(a, &b);
		xbuf_reset(&b);
		if (mime_param(ct, "charset", &b))
			p->charset = copy_of(a, &b);
		xbuf_reset(&b);
	}
	p->is_multipart = p->content_type.len > 10 && memcmp(p->content_type.p, "multipart/", 10) == 0;
	if (p->is_multipart && mime_param(ct, "boundary", &b))
		p->boundary = copy_of(a, &b);
	xbuf_reset(&b);
	static const struct { const char *name; size_t off; bool lower; } simple[] = {
		{ "Content-Disposition", offsetof(mime_part, disposition), true },
		{ "Content-Transfer-Encoding", offsetof(mime_part, transfer_encoding), true },
		{ "Content-ID", offsetof(mime_part, content_id), false },
		{ "Content-Description", offsetof(mime_part, description), false },
	};
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
		sv v = header_value(p->headers, simple[i].name);
		if (!v.p)
			continue;
		mime_normalise(v, simple[i].lower, &b);
		*(sv *)((char *)p + simple[i].off) = copy_of(a, &b);
		xbuf_reset(&b);
	}
	/* The file name: Content-Disposition filename (RFC 2231 form too), else Content-Type name. */
	sv cd = header_value(p->headers, "Content-Disposition");
	xbuf raw;
	xbuf_init(&raw, a);
	bool found = false;
	if (cd.p && mime_param(cd, "filename*", &raw)) {
		rfc2231_decode(xbuf_sv(&raw), &b);
		found = true;
	} else if (cd.p && mime_param(cd, "filename", &raw))
		found = true;
	else if (ct.p && mime_param(ct, "name*", &raw)) {
		rfc2231_decode(xbuf_sv(&raw), &b);
		found = true;
	} else if (ct.p && mime_param(ct, "name", &raw))
		found = true;
	if (found && b.len == 0 && raw.len) {
		xbuf err;
		xbuf_init(&err, a);
		if (!rfc2047_decode(xbuf_sv(&raw), "UTF-8", false, &b, &err)) {
			xbuf_reset(&b);
			xbuf_putsv(&b, xbuf_sv(&raw));
		}
	}
	if (found)
		p->filename = copy_of(a, &b);
}

void mime_begin(mime_iter *it, arena *a, sv headers, sv body)
{
	memset(it, 0, sizeof *it);
	it->a = a;
	it->count = -1;
	it->pending = true;
	it->pending_cover = true;
	it->pending_rfc822 = false;
	/* The message itself comes split already. */
	it->top = true;
	it->top_headers = headers;
	it->pending_text = body;
}

/* Where the next boundary line ("--b" or "--b--" at a line start) is, from pos. */
static bool find_boundary(sv body, size_t pos, sv b, size_t *line_start, size_t *after, bool *close)
{
	size_t i = pos;
	while (i < body.len) {
		const char *nl = memchr(body.p + i, '\n', body.len - i);
		size_t end = nl ? (size_t)(nl - body.p) : body.len;
		size_t len = end - i;
		if (len >= 2 + b.len && body.p[i] == '-' && body.p[i + 1] == '-' && memcmp(body.p + i + 2, b.p, b.len) == 0) {
			*line_start = i;
			*after = nl ? end + 1 : end;
			*close = len >= 4 + b.len && body.p[i + 2 + b.len] == '-' && body.p[i + 3 + b.len] == '-';
			return true;
		}
		i = nl ? end + 1 : end;
	}
	return false;
}

/* The next part of a multipart frame as text; false when it has no more. */
static bool next_subpart(mime_frame *f, sv *text)
{
	if (f->done)
		return false;
	size_t ls, after;
	bool close;
	if (!f->started) {
		f->started = true;
		if (!find_boundary(f->body, 0, f->boundary, &ls, &after, &close) || close) {
			f->done = true;
			return false;
		}
		f->pos = after;
	}
	size_t start = f->pos;
	if (find_boundary(f->body, start, f->boundary, &ls, &after, &close)) {
		size_t end = ls > start ? ls - 1 : start; /* the line end before the boundary belongs to it */
		if (end > start && f->body.p[end - 1] == '\r')
			end--;
		*text = sv_sub(f->body, start, end - start);
		f->pos = after;
		if (close)
			f->done = true;
	} else {
		*text = sv_sub(f->body, start, f->body.len - start);
		f->done = true;
	}
	return true;
}

static void push_frame(mime_iter *it, mime_frame f)
{
	if (it->depth + 1 >= MIME_MAX_DEPTH)
		return;
	it->stack[++it->depth] = f;
}

bool mime_next(mime_iter *it, mime_part *out)
{
	for (;;) {
		if (it->total >= MIME_MAX_PARTS)
			return false;
		if (it->pending) {
			it->pending = false;
			memset(out, 0, sizeof *out);
			if (it->top) {
				it->top = false;
				out->headers = it->top_headers;
				out->body = it->pending_text;
			} else
				split_entity(it->pending_text, &out->headers, &out->body);
			out->is_coverletter = it->pending_cover;
			out->is_rfc822 = it->pending_rfc822;
			out->part_count = ++it->count;
			out->depth = it->depth;
			it->total++;
			describe(it, out);
			if (out->is_multipart && out->boundary.len) {
				sv ct = out->content_type;
				push_frame(it, (mime_frame){
					.body = out->body, .boundary = out->boundary,
					.coverletter = out->is_coverletter, .rfc822 = out->is_rfc822,
					.alternative = sv_eq_cstr(ct, "multipart/alternative") || sv_eq_cstr(ct, "multipart/related"),
				});
			} else if (sv_eq_cstr(out->content_type, "message/rfc822") && it->attached_n < MIME_MAX_ATTACHED) {
				/* Walked as a message of its own once this one is done. */
				it->attached[(it->attached_head + it->attached_n++) % MIME_MAX_ATTACHED] = out->body;
			}
			return true;
		}
		if (it->depth <= 0) {
			if (!it->attached_n)
				return false;
			it->pending = true;
			it->pending_text = it->attached[it->attached_head];
			it->attached_head = (it->attached_head + 1) % MIME_MAX_ATTACHED;
			it->attached_n--;
			it->pending_cover = true;
			it->pending_rfc822 = true;
			it->count = -1;
			continue;
		}
		mime_frame *f = &it->stack[it->depth];
		sv text;
		if (!next_subpart(f, &text)) {
			it->depth--;
			continue;
		}
		it->pending = true;
		it->pending_text = text;
		it->pending_cover = f->coverletter && (f->alternative || f->index == 0);
		it->pending_rfc822 = f->rfc822;
		f->index++;
	}
}
