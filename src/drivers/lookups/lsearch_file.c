/* Reader for the lsearch line format; see lsearch_file.h. */
#include "drivers/lookups/lsearch_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void *lsearch_open(const char *filename, xbuf *errmsg)
{
	FILE *f = fopen(filename, "r");
	if (!f) {
		xbuf_printf(errmsg, "failed to open %s for linear search: %s", filename, strerror(errno));
		return NULL;
	}
	return f;
}

/* Exim names the whole family "lsearch" in these messages. */
bool lsearch_check(void *handle, const char *filename, int modemask, const uid_t *owners,
	const gid_t *owngroups, xbuf *errmsg)
{
	return search_check_file(fileno((FILE *)handle), filename, S_IFREG, modemask, owners, owngroups,
		"lsearch", errmsg);
}

void lsearch_close(void *handle)
{
	fclose((FILE *)handle);
}

bool lsearch_opt_ret_full(const char *opts)
{
	if (!opts)
		return false;
	sv o = sv_cstr(opts);
	size_t i = 0;
	while (i <= o.len) {
		size_t j = i;
		while (j < o.len && o.p[j] != ',')
			j++;
		if (sv_eq_cstr(sv_trim(sv_sub(o, i, j - i)), "ret=full"))
			return true;
		i = j + 1;
	}
	return false;
}

/* One line without its newline; false at EOF. Over-long lines set *toolong. */
static bool read_line(FILE *f, xbuf *line, bool *toolong)
{
	xbuf_reset(line);
	int c;
	bool any = false;
	while ((c = getc(f)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (line->len >= LSEARCH_MAX_LINE) {
			*toolong = true;
			continue;
		}
		xbuf_putc(line, (char)c);
	}
	if (line->len && line->p[line->len - 1] == '\r')
		xbuf_truncate(line, line->len - 1);
	return any;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return tolower(c) - 'a' + 10;
}

/* A double-quoted key with backslash escapes (\n \t \r \\ \" \ooo \xhh); returns the index just
 * past the closing quote (or the end of the line). */
static size_t parse_quoted_key(sv line, xbuf *key)
{
	size_t i = 1;
	while (i < line.len && line.p[i] != '"') {
		char c = line.p[i++];
		if (c == '\\' && i < line.len) {
			c = line.p[i++];
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'r')
				c = '\r';
			else if (c >= '0' && c <= '7') {
				int v = c - '0';
				for (int k = 0; k < 2 && i < line.len && line.p[i] >= '0' && line.p[i] <= '7'; k++)
					v = v * 8 + (line.p[i++] - '0');
				c = (char)v;
			} else if (c == 'x' && i < line.len && isxdigit((unsigned char)line.p[i])) {
				int v = hexval((unsigned char)line.p[i++]);
				if (i < line.len && isxdigit((unsigned char)line.p[i]))
					v = v * 16 + hexval((unsigned char)line.p[i++]);
				c = (char)v;
			}
		}
		xbuf_putc(key, c);
	}
	if (i < line.len)
		i++;
	return i;
}

int lsearch_scan(FILE *f, sv key, lsearch_match_fn match, void *ctx, bool ret_full, xbuf *result,
	xbuf *err)
{
	rewind(f);
	xbuf line, fkey;
	xbuf_init(&line, NULL);
	xbuf_init(&fkey, NULL);
	bool toolong = false;
	int rc = SEARCH_FAIL;
	bool have = read_line(f, &line, &toolong);
	while (have) {
		sv l = xbuf_sv(&line);
		if (l.len == 0 || l.p[0] == '#' || isspace((unsigned char)l.p[0])) {
			have = read_line(f, &line, &toolong);
			continue;
		}
		xbuf_reset(&fkey);
		size_t i;
		if (l.p[0] == '"') {
			i = parse_quoted_key(l, &fkey);
		} else {
			i = 0;
			while (i < l.len && l.p[i] != ':' && !isspace((unsigned char)l.p[i]))
				i++;
			xbuf_put(&fkey, l.p, i);
		}
		int m = fkey.len ? match(xbuf_sv(&fkey), key, ctx, err) : SEARCH_FAIL;
		if (m == SEARCH_DEFER) {
			rc = SEARCH_DEFER;
			break;
		}
		if (m == SEARCH_FAIL) {
			have = read_line(f, &line, &toolong);
			continue;
		}
		/* Found: the data is the rest of the line (after an optional colon) plus continuations. */
		sv rest = sv_sub(l, i, l.len);
		if (ret_full) {
			xbuf_putsv(result, xbuf_sv(&fkey));
			size_t e = rest.len;
			while (e && isspace((unsigned char)rest.p[e - 1]))
				e--;
			xbuf_put(result, rest.p, e);
		} else {
			rest = sv_trim(rest);
			if (rest.len && rest.p[0] == ':')
				rest = sv_trim(sv_sub(rest, 1, rest.len));
			xbuf_putsv(result, rest);
		}
		while ((have = read_line(f, &line, &toolong))) {
			/* Exim 4.96 ends the entry at any line that is not indented data: a blank,
			 * white-space-only or comment line stops it (despite the documentation). */
			sv c = xbuf_sv(&line);
			if (c.len == 0 || !isspace((unsigned char)c.p[0]))
				break;
			c = sv_trim(c);
			if (c.len == 0)
				break;
			xbuf_putc(result, ' ');
			xbuf_putsv(result, c);
		}
		rc = SEARCH_OK;
		break;
	}
	if (toolong && rc != SEARCH_DEFER) {
		xbuf_reset(err);
		xbuf_printf(err, "line longer than %d bytes in linear search file", LSEARCH_MAX_LINE);
		rc = SEARCH_DEFER;
	}
	xbuf_free(&line);
	xbuf_free(&fkey);
	return rc;
}
