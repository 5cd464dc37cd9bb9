/* Fuzz lib/timefmt intervals: any bytes as an Exim time interval ("1w2d3h4m5s").
 *
 * A reference model in this file computes the expected answer independently (digits then one of
 * w d h m s, repeated; no bare number; total within int), and interval_parse must agree with it
 * exactly. Accepted values print (interval_format) in a form that parses back to the same
 * value, and the printed form of any 64-bit value is well-formed. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/timefmt.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

/* Independent model: big-number safe by stopping as soon as the total passes INT_MAX. */
static bool model_parse(const uint8_t *p, size_t n, int *out)
{
	unsigned long long total = 0;
	size_t i = 0;
	if (n == 0)
		return false;
	while (i < n) {
		unsigned long long v = 0;
		size_t digits = 0;
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
			v = v * 10 + (p[i] - '0');
			if (v > INT_MAX)
				return false;
		}
		if (digits == 0 || i == n)
			return false;
		const char *units = "wdhms";
		static const unsigned long long secs[] = { 604800, 86400, 3600, 60, 1 };
		const char *u = p[i] ? strchr(units, p[i]) : NULL;
		if (!u)
			return false;
		i++;
		total += v * secs[u - units];
		if (total > INT_MAX)
			return false;
	}
	*out = (int)total;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int got = -1, want = -1;
	bool ok = interval_parse(sv_make((const char *)data, size), &got);
	bool mok = model_parse(data, size, &want);
	CHECK(ok == mok);
	xbuf b;
	xbuf_init(&b, NULL);
	if (ok) {
		CHECK(got == want);
		interval_format(got, &b);
		int back = -1;
		CHECK(interval_parse(xbuf_sv(&b), &back));
		CHECK(back == got);
	}
	/* Any 64-bit value: "0s", or an optional '-' then strictly decreasing units. */
	if (size >= 8) {
		long long v;
		memcpy(&v, data, sizeof v);
		xbuf_reset(&b);
		interval_format(v, &b);
		const char *p = xbuf_cstr(&b);
		if (v == 0) {
			CHECK(strcmp(p, "0s") == 0);
		} else {
			CHECK((*p == '-') == (v < 0));
			if (*p == '-')
				p++;
			const char *order = "wdhms";
			int last = -1;
			unsigned long long sum = 0;
			static const unsigned long long secs[] = { 604800, 86400, 3600, 60, 1 };
			while (*p) {
				unsigned long long n = 0;
				const char *start = p;
				while (*p >= '0' && *p <= '9')
					n = n * 10 + (unsigned long long)(*p++ - '0');
				CHECK(p > start && *start != '0');
				const char *u = *p ? strchr(order, *p) : NULL;
				CHECK(u != NULL && u - order > last);
				last = (int)(u - order);
				sum += n * secs[last];
				p++;
			}
			unsigned long long mag = v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v;
			CHECK(sum == mag);
		}
	}
	xbuf_free(&b);
	return 0;
}
