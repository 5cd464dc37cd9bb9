/* -bf on a file without the "# Exim filter" line: Exim treats it as a traditional .forward
 * file and lists what it would generate (last first), or the first error. Items are separated
 * by commas or newlines; "|command" and "/file" items (quoted when they hold commas),
 * ":include:file", ":blackhole:" and ":unknown:" are understood; ":fail:" and ":defer:" are not
 * permitted here, as in Exim's test mode. */
#include <stdio.h>
#include <string.h>

#include "core/filter.h"
#include "mail/address.h"
#include "prog/bf.h"

enum { FWD_MAX_ITEMS = 4096, FWD_MAX_INCLUDE_DEPTH = 5, FWD_MAX_FILE = 1 << 20 };

typedef struct fwd {
	arena *a;
	sv qualify;      /* for unqualified addresses */
	sv domain;       /* for unqualified "\local" items: the recipient's domain */
	sv items[FWD_MAX_ITEMS];
	size_t n;
	bool blackhole;
	const char *error;
} fwd;

static bool at_sep(char c)
{
	return c == ',' || c == '\n';
}

/* The end of an address item: a comma or newline outside quotes, <>, () and []. */
static size_t address_end(sv t, size_t i)
{
	int paren = 0, angle = 0, square = 0;
	bool quoted = false;
	for (; i < t.len; i++) {
		char c = t.p[i];
		if (c == '\\' && i + 1 < t.len) {
			i++;
		} else if (quoted) {
			quoted = c != '"';
		} else if (c == '"') {
			quoted = true;
		} else if (c == '(') {
			paren++;
		} else if (c == ')' && paren) {
			paren--;
		} else if (c == '<') {
			angle++;
		} else if (c == '>' && angle) {
			angle--;
		} else if (c == '[') {
			square++;
		} else if (c == ']' && square) {
			square--;
		} else if (at_sep(c) && !paren && !angle && !square) {
			break;
		}
	}
	return i;
}

static void add_item(fwd *f, sv item)
{
	if (f->n < FWD_MAX_ITEMS)
		f->items[f->n++] = item;
}

static void parse_list(fwd *f, sv t, int depth);

static void include_file(fwd *f, sv name, int depth)
{
	if (depth >= FWD_MAX_INCLUDE_DEPTH)
		return;
	char *path = sv_dup(f->a, name);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	xbuf b;
	xbuf_init(&b, f->a);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0 && b.len < FWD_MAX_FILE)
		xbuf_put(&b, buf, n);
	fclose(fp);
	parse_list(f, xbuf_sv(&b), depth + 1);
}

static void parse_list(fwd *f, sv t, int depth)
{
	size_t i = 0;
	while (i < t.len && !f->error) {
		char c = t.p[i];
		if (c == ' ' || c == '\t' || c == '\r' || at_sep(c)) {
			i++;
			continue;
		}
		size_t line_end = i;
		while (line_end < t.len && t.p[line_end] != '\n')
			line_end++;
		if (c == '#') {
			i = line_end;
			continue;
		}
		sv rest = sv_make(t.p + i, t.len - i);
		if (sv_starts(rest, ":fail:") || sv_starts(rest, ":defer:")) {
			size_t e = i;
			while (e < t.len && !at_sep(t.p[e]))
				e++;
			sv text = sv_trim(sv_make(t.p + i, e - i));
			xbuf m;
			xbuf_init(&m, f->a);
			xbuf_printf(&m, "\"%.*s\" is not permitted", SV_ARG(text));
			f->error = xbuf_cstr(&m);
			return;
		}
		size_t end;
		if (sv_starts(rest, ":blackhole:") || sv_starts(rest, ":unknown:")) {
			if (rest.p[1] == 'b' && !f->blackhole) {
				printf("exim: forwardfile contains \":blackhole:\"\n");
				f->blackhole = true;
			}
			end = i + (rest.p[1] == 'b' ? 11 : 9);
		} else if (sv_starts(rest, ":include:")) {
			size_t s = i + 9;
			end = s;
			while (end < t.len && !at_sep(t.p[end]))
				end++;
			sv name = sv_trim(sv_make(t.p + s, end - s));
			if (name.len == 0) {
				f->error = "file name missing after :include:";
				return;
			}
			include_file(f, name, depth);
		} else if (c == '"' && i + 1 < t.len && (t.p[i + 1] == '|' || t.p[i + 1] == '/')) {
			xbuf b;
			xbuf_init(&b, f->a);
			for (end = i + 1; end < t.len && t.p[end] != '"'; end++) {
				if (t.p[end] == '\\' && end + 1 < t.len)
					end++;
				xbuf_putc(&b, t.p[end]);
			}
			if (end < t.len)
				end++;
			add_item(f, xbuf_sv(&b));
		} else if (c == '|' || c == '/') {
			for (end = i; end < t.len && !at_sep(t.p[end]); end++)
				;
			add_item(f, sv_trim(sv_make(t.p + i, end - i)));
		} else {
			end = address_end(t, i);
			sv item = sv_trim(sv_make(t.p + i, end - i));
			bool backslash = item.len && item.p[0] == '\\';
			if (backslash)
				item = sv_sub(item, 1, item.len - 1);
			/* A wholly quoted item is an address in quotes (not a quoted local part). */
			if (item.len >= 2 && item.p[0] == '"' && address_end(item, 0) == item.len) {
				size_t close = 1;
				while (close < item.len && item.p[close] != '"')
					close += item.p[close] == '\\' ? 2 : 1;
				if (close == item.len - 1)
					item = sv_sub(item, 1, item.len - 2);
			}
			xbuf out;
			xbuf_init(&out, f->a);
			addr_parsed info;
			const char *why;
			if (!addr_extract(item, NULL, &out, &info, &why)) {
				xbuf m;
				xbuf_init(&m, f->a);
				xbuf_printf(&m, "%s in \"%.*s\"", filter_address_error(item, f->a), SV_ARG(item));
				f->error = xbuf_cstr(&m);
				return;
			}
			if (!info.empty) {
				if (!info.has_domain) {
					xbuf_putc(&out, '@');
					xbuf_putsv(&out, backslash ? f->domain : f->qualify);
				}
				add_item(f, xbuf_sv(&out));
			}
		}
		i = end > i ? end : i + 1;
	}
}

int bf_test_forward(sv text, sv qualify, sv domain, arena *a)
{
	fwd *f = arena_calloc(a, 1, sizeof *f);
	f->a = a;
	f->qualify = qualify;
	f->domain = domain;
	parse_list(f, text, 0);
	if (f->error) {
		printf("exim: error in forward file: %s\n", f->error);
		return 1;
	}
	if (f->n == 0 || f->blackhole) {
		printf("exim: no addresses generated from forward file\n");
		return 0;
	}
	printf("exim: forward file generated:\n");
	while (f->n > 0) {
		f->n--;
		printf("  %.*s\n", SV_ARG(f->items[f->n]));
	}
	return 0;
}
