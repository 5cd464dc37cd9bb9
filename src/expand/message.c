/* A minimal message reader for -bem and tests: RFC 5322 header lines (with folded continuation
 * lines) up to the first empty line, then the body. Bounded by the input size; never fails —
 * a line that is not a header ends the header section, as Exim's -bem reading does. */
#include <ctype.h>

#include "expand/message.h"

static void add_header(arena *a, xp_message *m, size_t *cap, sv name, sv text)
{
	if (m->nheaders == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		m->headers = arena_realloc(a, m->headers, *cap * sizeof *m->headers, ncap * sizeof *m->headers);
		*cap = ncap;
	}
	m->headers[m->nheaders++] = (xp_header){ sv_tainted(name), sv_tainted(text) };
}

void xp_message_parse(arena *a, sv data, xp_message *m)
{
	memset(m, 0, sizeof *m);
	size_t cap = 0, i = 0;
	while (i < data.len) {
		size_t eol = i;
		while (eol < data.len && data.p[eol] != '\n')
			eol++;
		sv line = sv_sub(data, i, eol - i);
		if (line.len && line.p[line.len - 1] == '\r')
			line.len--;
		if (!line.len) {
			i = eol < data.len ? eol + 1 : eol;
			break;
		}
		size_t colon = 0;
		while (colon < line.len && line.p[colon] != ':' && (unsigned char)line.p[colon] > ' ')
			colon++;
		if (colon == 0 || colon >= line.len || line.p[colon] != ':')
			break; /* not a header: the body starts here */
		/* The text runs to the end of the last continuation line (those starting with white space). */
		size_t end = eol;
		while (end + 1 < data.len && (data.p[end + 1] == ' ' || data.p[end + 1] == '\t')) {
			end++;
			while (end < data.len && data.p[end] != '\n')
				end++;
		}
		size_t tend = end < data.len ? end + 1 : end;
		add_header(a, m, &cap, sv_sub(data, i, colon), sv_sub(data, i + colon + 1, tend - i - colon - 1));
		i = tend;
	}
	size_t header_end = i;
	m->body = sv_tainted(sv_sub(data, i, data.len - i));
	/* Counted as Exim's -bem reading counts them: body lines that are not empty, and binary
	 * zeros; the message's line count adds the header lines and the separating blank line. */
	bool empty = true;
	for (size_t k = 0; k < m->body.len; k++) {
		char c = m->body.p[k];
		if (c == 0)
			m->body_zerocount++;
		if (c == '\n') {
			if (!empty)
				m->body_linecount++;
			empty = true;
		} else {
			empty = false;
		}
	}
	if (!empty)
		m->body_linecount++;
	long long header_lines = 0;
	for (size_t k = 0; k < header_end; k++)
		if (data.p[k] == '\n')
			header_lines++;
	m->message_linecount = header_lines + m->body_linecount;
	for (size_t k = 0, st = 0; k <= data.len; k++)
		if (k == data.len || data.p[k] == '\n') {
			size_t len = k - st;
			if (len && data.p[k - 1] == '\r')
				len--;
			if ((long long)len > m->max_linelength)
				m->max_linelength = (long long)len;
			st = k + 1;
		}
	m->size = (long long)data.len;
	m->headers_cap = cap;
}

void xp_message_add_header(arena *a, xp_message *m, const char *name, const char *text)
{
	size_t cap = m->headers_cap;
	add_header(a, m, &cap, sv_cstr(arena_strdup(a, name)), sv_cstr(arena_strdup(a, text)));
	m->headers_cap = cap;
}

const xp_header *xp_message_find(const xp_message *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (sv_eqi(m->headers[i].name, sv_cstr(name)))
			return &m->headers[i];
	return NULL;
}
