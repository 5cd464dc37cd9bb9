/* The small part of JSON that ${extract json{}} and forall_json/forany_json need: find a member
 * of an object or an element of an array and return its text. A bounded, non-recursive-beyond-
 * a-limit scanner; never reads past the view. */
#include <ctype.h>

#include "expand/xp_internal.h"

#define JSON_MAX_DEPTH 200

static size_t skip_ws(sv s, size_t i)
{
	while (i < s.len && isspace((unsigned char)s.p[i]))
		i++;
	return i;
}

/* End of the value starting at i (index after it), or SIZE_MAX on malformed input. */
static size_t skip_value(sv s, size_t i)
{
	i = skip_ws(s, i);
	if (i >= s.len)
		return SIZE_MAX;
	if (s.p[i] == '"') {
		for (i++; i < s.len; i++) {
			if (s.p[i] == '\\')
				i++;
			else if (s.p[i] == '"')
				return i + 1;
		}
		return SIZE_MAX;
	}
	if (s.p[i] == '{' || s.p[i] == '[') {
		int depth = 0;
		for (; i < s.len; i++) {
			char c = s.p[i];
			if (c == '"') {
				for (i++; i < s.len && s.p[i] != '"'; i++)
					if (s.p[i] == '\\')
						i++;
				if (i >= s.len)
					return SIZE_MAX;
			} else if (c == '{' || c == '[') {
				if (++depth > JSON_MAX_DEPTH)
					return SIZE_MAX;
			} else if (c == '}' || c == ']') {
				if (--depth == 0)
					return i + 1;
			}
		}
		return SIZE_MAX;
	}
	/* A bare value (number, true, null...) runs to a delimiter; an empty one is malformed
	 * (and would not move the caller on). */
	size_t st = i;
	while (i < s.len && s.p[i] && !strchr(",}] \t\r\n", s.p[i]))
		i++;
	return i > st ? i : SIZE_MAX;
}

/* A JSON string's content with escapes resolved (\uXXXX kept as UTF-8 for the BMP). */
static void unquote(sv v, xbuf *out)
{
	for (size_t i = 1; i + 1 < v.len; i++) {
		char c = v.p[i];
		if (c == '\\' && i + 2 < v.len) {
			c = v.p[++i];
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (i + 4 < v.len) {
					unsigned cp = 0;
					for (int k = 1; k <= 4; k++) {
						char h = v.p[i + k];
						cp = cp * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower((unsigned char)h) - 'a' + 10) & 15);
					}
					i += 4;
					if (cp < 0x80) {
						xbuf_putc(out, (char)cp);
					} else if (cp < 0x800) {
						xbuf_putc(out, (char)(0xc0 | (cp >> 6)));
						xbuf_putc(out, (char)(0x80 | (cp & 0x3f)));
					} else {
						xbuf_putc(out, (char)(0xe0 | (cp >> 12)));
						xbuf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
						xbuf_putc(out, (char)(0x80 | (cp & 0x3f)));
					}
					continue;
				}
				break;
			default: break;
			}
		}
		xbuf_putc(out, c);
	}
}

static void put_value(sv v, bool strip, xbuf *out)
{
	if (strip && v.len >= 2 && v.p[0] == '"')
		unquote(v, out);
	else
		xbuf_putsv(out, v);
}

bool xp_json_extract(sv key, bool numeric, long long idx, sv json, bool strip, xbuf *val, xbuf *err)
{
	sv s = sv_trim(json);
	char open = numeric ? '[' : '{', close = numeric ? ']' : '}';
	const char *what = numeric ? "array" : "object";
	if (!s.len || s.p[0] != open) {
		xbuf_printf(err, "missing '%c' wrapping %s for extract json", open, what);
		return false;
	}
	if (s.p[s.len - 1] != close) {
		xbuf_printf(err, "missing '%c' wrapping %s for extract json", close, what);
		return false;
	}
	size_t i = 1;
	long long n = 0;
	xbuf k;
	xbuf_init(&k, NULL);
	bool found = false;
	while (i < s.len - 1) {
		i = skip_ws(s, i);
		if (i >= s.len - 1)
			break;
		sv name = SV_NULL;
		if (!numeric) {
			/* Exim 4.96 reports a member that is not "key": value when it reaches it. */
			size_t e = s.p[i] == '"' ? skip_value(s, i) : SIZE_MAX;
			if (e == SIZE_MAX || e > s.len - 1) {
				xbuf_puts(err, "missing '\"' wrapping string key for extract json");
				break;
			}
			name = sv_sub(s, i, e - i);
			i = skip_ws(s, e);
			if (i >= s.len - 1 || s.p[i] != ':') {
				xbuf_puts(err, "missing object value-separator for extract json");
				break;
			}
			i++;
		}
		size_t vs = skip_ws(s, i), ve = skip_value(s, vs);
		if (ve == SIZE_MAX)
			break;
		n++;
		bool hit;
		if (numeric) {
			hit = n == idx;
		} else {
			xbuf_reset(&k);
			unquote(name, &k);
			hit = sv_eq(xbuf_sv(&k), key);
		}
		if (hit) {
			sv v = sv_sub(s, vs, ve - vs);
			if (strip && (v.len < 2 || v.p[0] != '"')) {
				xbuf_puts(err, "missing '\"' wrapping string result for extract jsons");
				break;
			}
			put_value(v, strip, val);
			found = true;
			break;
		}
		i = skip_ws(s, ve);
		if (i < s.len - 1 && s.p[i] != ',')
			break; /* members not separated by a comma: Exim stops, not found */
		if (i < s.len && s.p[i] == ',')
			i++;
	}
	xbuf_free(&k);
	val->taint |= json.taint;
	return found;
}

bool xp_json_array_items(arena *a, sv json, sv **items, size_t *n, bool strip, xbuf *err)
{
	sv s = sv_trim(json);
	*items = NULL;
	*n = 0;
	if (!s.len || s.p[0] != '[' || s.p[s.len - 1] != ']') {
		xp_err(err, "\"" SV_FMT "\" is not a json array", SV_ARG(json));
		return false;
	}
	size_t cap = 0, i = 1;
	while (i < s.len - 1) {
		size_t vs = skip_ws(s, i);
		if (vs >= s.len - 1)
			break;
		size_t ve = skip_value(s, vs);
		/* Exim stops at what it cannot read: the items so far are the list. A value of no length
		 * must end the loop too, so it can never spin without progress. */
		if (ve == SIZE_MAX || ve == vs)
			break;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			*items = arena_realloc(a, *items, cap * sizeof **items, ncap * sizeof **items);
			cap = ncap;
		}
		xbuf v;
		xbuf_init(&v, a);
		sv raw = sv_sub(s, vs, ve - vs);
		put_value(raw, strip, &v);
		sv item = xbuf_sv(&v);
		item.taint = json.taint;
		if (strip && (raw.len < 2 || raw.p[0] != '"'))
			item = SV_NULL; /* not a string: an error if the loop reaches it */
		(*items)[(*n)++] = item;
		i = skip_ws(s, ve);
		if (i < s.len && s.p[i] == ',')
			i++;
	}
	return true;
}
