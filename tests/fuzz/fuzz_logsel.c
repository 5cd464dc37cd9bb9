/* Fuzz lib/logsel: any bytes as a log_selector setting.
 *
 * A model in this file applies the setting independently (items "+name"/"-name" with optional
 * white space, "all", or a whole "=number"), using only the name table and the default set from
 * the library; logsel_parse must agree on success and on the result. Failure leaves the output
 * untouched and words the error as one of Exim's three messages; logsel_format of a result is a
 * setting that parses back to the same set (and is "" exactly for the default set). */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/logsel.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static bool model_parse(const uint8_t *p, size_t n, uint64_t known, uint64_t *out)
{
	uint64_t bits = logsel_default().bits;
	size_t i = 0;
	while (i < n && isspace(p[i]))
		i++;
	if (i < n && p[i] == '=') {
		size_t j = n;
		while (j > i + 1 && isspace(p[j - 1]))
			j--;
		char tmp[64];
		size_t k = i + 1;
		while (k < j && isspace(p[k]))
			k++;
		if (j - k >= sizeof tmp || memchr(p + k, 0, j - k))
			return false;
		memcpy(tmp, p + k, j - k);
		tmp[j - k] = 0;
		char *end;
		unsigned long long v = strtoull(tmp, &end, 0);
		if (*end)
			return false;
		*out = v & known;
		return true;
	}
	for (;;) {
		while (i < n && isspace(p[i]))
			i++;
		if (i == n)
			break;
		if (p[i] != '+' && p[i] != '-')
			return false;
		bool on = p[i++] == '+';
		size_t start = i;
		while (i < n && (isalnum(p[i]) || p[i] == '_'))
			i++;
		sv name = sv_make((const char *)p + start, i - start);
		uint64_t b;
		if (sv_eq_cstr(name, "all")) {
			bits = on ? known : 0;
			continue;
		}
		int id = logsel_lookup(name);
		if (id < 0)
			return false;
		b = (uint64_t)1 << id;
		bits = on ? bits | b : bits & ~b;
	}
	*out = bits;
	return true;
}

static bool starts(const xbuf *b, const char *prefix)
{
	return strncmp(xbuf_cstr(b), prefix, strlen(prefix)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t known = LS__COUNT == 64 ? ~(uint64_t)0 : ((uint64_t)1 << LS__COUNT) - 1;
	const logsel sentinel = { 0x5a5a5a5a5a5a5a5aull };
	logsel s = sentinel;
	xbuf err, text;
	xbuf_init(&err, NULL);
	xbuf_init(&text, NULL);

	uint64_t want = 0;
	bool mok = model_parse(data, size, known, &want);
	bool ok = logsel_parse(sv_make((const char *)data, size), &s, &err);
	CHECK(ok == mok);
	if (ok)
		CHECK(s.bits == want);
	if (!ok) {
		CHECK(s.bits == sentinel.bits);
		CHECK(starts(&err, "unknown log_selector setting: ") ||
			starts(&err, "malformed log_selector setting: + or - expected but found \"") ||
			starts(&err, "malformed numeric log_selector setting: "));
		/* Without an error buffer the answer is the same. */
		logsel t = sentinel;
		CHECK(!logsel_parse(sv_make((const char *)data, size), &t, NULL));
	} else {
		CHECK(err.len == 0);
		CHECK((s.bits & ~known) == 0);
		logsel_format(&s, &text);
		logsel d = logsel_default();
		CHECK((text.len == 0) == (s.bits == d.bits));
		logsel back = sentinel;
		CHECK(logsel_parse(xbuf_sv(&text), &back, NULL));
		CHECK(back.bits == s.bits);
		/* Every name the formatter wrote is a known selector. */
		for (int i = 0; i < LS__COUNT; i++)
			CHECK(logsel_lookup(sv_cstr(logsel_name((logsel_id)i))) == i);
	}
	xbuf_free(&err);
	xbuf_free(&text);
	return 0;
}
