/* Fuzz the appendfile transport's parsers of text users control: maildirsize files (written by
 * mail readers in the user's maildir) and quota sizes (expanded options, which may carry
 * looked-up or tainted data).
 *
 * Invariants: an accepted maildirsize text starts with the quota line, ends with a newline, and
 * its totals equal the sums a simple model in this file computes; an accepted size is
 * non-negative and, printed in decimal, parses back to the same value. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/transports/appendfile_internal.h"
#include "fuzz_check.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

/* Model: every line after the first is "<n> <m>" with optional '-' signs. */
static bool model(const char *t, size_t n, long long *s, long long *c)
{
	*s = *c = 0;
	const char *nl = memchr(t, '\n', n);
	if (!nl)
		return false;
	const char *p = nl + 1, *e = t + n;
	while (p < e) {
		const char *le = memchr(p, '\n', (size_t)(e - p));
		if (!le)
			return false;
		size_t ll = (size_t)(le - p);
		char *line = malloc(ll + 1);
		memcpy(line, p, ll);
		line[ll] = '\0';
		long long a, b;
		int used = 0;
		int got = sscanf(line, "%lld %lld%n", &a, &b, &used);
		free(line);
		if (got != 2 || (size_t)used != ll)
			return false;
		*s += a;
		*c += b;
		p = le + 1;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data;
	long long s = 0, c = 0;
	if (af_maildirsize_parse(t, size, "100S,0C", &s, &c)) {
		CHECK(size >= 8 && memcmp(t, "100S,0C\n", 8) == 0);
		CHECK(t[size - 1] == '\n');
		long long ms, mc;
		CHECK(model(t, size, &ms, &mc));
		CHECK(ms == s && mc == c);
	}
	long long v = -1;
	bool nc;
	if (af_parse_size(sv_make(t, size), true, 1000, &v, &nc)) {
		CHECK(v >= 0);
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", v);
		long long w = -1;
		CHECK(af_parse_size(sv_cstr(buf), false, 0, &w, NULL) && w == v);
	}
	return 0;
}
