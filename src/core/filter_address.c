/* Why an address in a deliver command is malformed, in Exim's words. mail/address.c decides
 * validity (as ${address:} does); this only names the first problem the way Exim's address
 * parser reports it ("no local part", "domain missing or malformed", "malformed address: X may
 * not follow Y", ...), from observed behaviour. A single left-to-right scan, no recursion. */
#include <ctype.h>
#include <string.h>

#include "core/filter_internal.h"

static const char *specials = "()<>@,;:\\\".[]";

static size_t skip_blank(sv s, size_t i)
{
	while (i < s.len && isspace((unsigned char)s.p[i]))
		i++;
	return i;
}

/* An atom or quoted string at i; returns the end (i when there is none). */
static size_t word_end(sv s, size_t i)
{
	if (i < s.len && s.p[i] == '"') {
		for (size_t k = i + 1; k < s.len; k++) {
			if (s.p[k] == '\\')
				k++;
			else if (s.p[k] == '"')
				return k + 1;
		}
		return s.len;
	}
	size_t k = i;
	while (k < s.len && !isspace((unsigned char)s.p[k]) && (unsigned char)s.p[k] > 31 &&
		!strchr(specials, s.p[k]))
		k++;
	return k;
}

/* A domain at i (after '@'): atoms separated by dots, or a domain literal. Returns the end, or
 * sets *why. */
static size_t domain_end(sv s, size_t i, const char **why)
{
	i = skip_blank(s, i);
	if (i < s.len && s.p[i] == '[') {
		while (i < s.len && s.p[i] != ']')
			i++;
		if (i >= s.len) {
			*why = "malformed domain literal";
			return s.len;
		}
		return i + 1;
	}
	for (;;) {
		size_t e = word_end(s, i);
		if (e == i) {
			*why = "domain missing or malformed";
			return s.len;
		}
		i = skip_blank(s, e);
		if (i < s.len && s.p[i] == '.') {
			i = skip_blank(s, i + 1);
			continue;
		}
		return e;
	}
}

/* local-part [@ domain] at i; returns the end or sets *why. in_angle: inside <...>. */
static size_t addr_spec_end(sv s, size_t i, bool in_angle, const char **why, arena *a)
{
	size_t start = i;
	for (;;) {
		size_t e = word_end(s, i);
		if (e == i) {
			*why = "missing or malformed local part (expected word or \"<\")";
			return s.len;
		}
		i = skip_blank(s, e);
		if (i < s.len && s.p[i] == '.') {
			i = skip_blank(s, i + 1);
			continue;
		}
		if (i < s.len && s.p[i] == '@')
			return domain_end(s, i + 1, why);
		if (in_angle && i < s.len && s.p[i] != '>') {
			xbuf m;
			xbuf_init(&m, a);
			xbuf_printf(&m, "\"@\" or \".\" expected after \"%.*s\"", (int)(e - start), s.p + start);
			*why = xbuf_cstr(&m);
			return s.len;
		}
		return e;
	}
}

const char *filter_address_error(sv s, arena *a)
{
	const char *why = NULL;
	size_t i = skip_blank(s, 0);
	if (i >= s.len)
		return "empty address";
	if (s.p[i] == '@')
		return "no local part";
	size_t lt = i;
	while (lt < s.len && s.p[lt] != '<' && s.p[lt] != '"')
		lt++;
	size_t e;
	if (i < s.len && s.p[i] == '<') {
		lt = i;
	} else {
		/* An addr-spec, unless a phrase is followed by "<". */
		size_t w = word_end(s, i);
		size_t after = skip_blank(s, w);
		bool phrase = w > i && after < s.len && s.p[after] != '@' && s.p[after] != '.';
		if (!phrase) {
			e = addr_spec_end(s, i, false, &why, a);
			if (why)
				return why;
			size_t rest = skip_blank(s, e);
			if (rest < s.len) {
				int n = s.len - rest > 32 ? 32 : (int)(s.len - rest);
				xbuf m;
				xbuf_init(&m, a);
				xbuf_printf(&m, "malformed address: %.*s may not follow %.*s", n, s.p + rest,
					(int)rest, s.p);
				return xbuf_cstr(&m);
			}
			return "malformed address";
		}
		while (lt < s.len && s.p[lt] != '<')
			lt++;
		if (lt >= s.len)
			return "missing or malformed local part (expected word or \"<\")";
	}
	/* What is inside the brackets is read first: "d<e, f@x" is '"@" or "." expected after "e"'
	 * (observed from Exim's -t), "<a@b" is "'>' missing at end of address". */
	addr_spec_end(s, skip_blank(s, lt + 1), true, &why, a);
	if (why)
		return why;
	size_t gt = lt;
	while (gt < s.len && s.p[gt] != '>')
		gt++;
	if (gt >= s.len)
		return "'>' missing at end of address";
	return "malformed address";
}
