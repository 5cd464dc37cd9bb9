/* Randomised checks of the lib parsers and formatters (deterministic seed):
 *  - ip_parse agrees with the C library's inet_pton on random strings built from address
 *    characters, and ip_format agrees with inet_ntop on random addresses (the C library's text
 *    forms are what Exim prints for host addresses);
 *  - every format parses back to the same address;
 *  - garbage into every parser never crashes and never reads past the view (ASan builds). */
#include "lib/ip.h"
#include "lib/logsel.h"
#include "lib/printing.h"
#include "lib/timefmt.h"
#include "../unit.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>

static arena *A;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* A random address with runs of zero groups, so compression and the embedded-v4 forms occur. */
static void random_v6(ip_addr *a)
{
	a->family = 6;
	for (int g = 0; g < 8; g++) {
		uint32_t r = next();
		unsigned v = (r % 3 == 0) ? 0 : (r % 7 == 0) ? 0xffff : (next() & ((r & 8) ? 0xf : 0xffff));
		a->b[2 * g] = (uint8_t)(v >> 8);
		a->b[2 * g + 1] = (uint8_t)v;
	}
	if (next() % 10 == 0) /* v4-mapped or v4-compatible */
		memset(a->b, 0, 10), a->b[10] = a->b[11] = (next() & 1) ? 0xff : 0;
}

static void test_format_vs_libc(void)
{
	int mismatch = 0, roundtrip = 0;
	for (int i = 0; i < 20000; i++) {
		ip_addr a, back;
		random_v6(&a);
		char want[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, a.b, want, sizeof want);
		xbuf b;
		xbuf_init(&b, A);
		arena_mark m = arena_getmark(A);
		ip_format(&a, &b);
		if (strcmp(xbuf_cstr(&b), want) != 0) {
			if (mismatch++ < 5)
				fprintf(stderr, "ip_format %s, inet_ntop %s\n", xbuf_cstr(&b), want);
		}
		if (!ip_parse(xbuf_sv(&b), &back) || !ip_equal(&a, &back))
			roundtrip++;
		xbuf_reset(&b);
		ip_format_full(&a, &b);
		if (!ip_parse(xbuf_sv(&b), &back) || !ip_equal(&a, &back))
			roundtrip++;
		xbuf_reset(&b);
		ip_format_ipv6norm(&a, &b);
		bool zero = strcmp(xbuf_cstr(&b), ":") == 0; /* Exim's quirk for :: */
		if (!zero && (!ip_parse(xbuf_sv(&b), &back) || !ip_equal(&a, &back)))
			roundtrip++;
		arena_reset(A, m);
	}
	CHECK_INT(mismatch, 0);
	CHECK_INT(roundtrip, 0);

	mismatch = 0;
	for (int i = 0; i < 5000; i++) {
		ip_addr a = { 4, { 0 } }, back;
		uint32_t r = next();
		memcpy(a.b, &r, 4);
		char want[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, a.b, want, sizeof want);
		xbuf b;
		xbuf_init(&b, A);
		ip_format(&a, &b);
		if (strcmp(xbuf_cstr(&b), want) != 0 || !ip_parse(xbuf_sv(&b), &back) || !ip_equal(&a, &back))
			mismatch++;
	}
	CHECK_INT(mismatch, 0);
}

static void test_parse_vs_libc(void)
{
	static const char alphabet[] = "0123456789abcdefABCDEFg:.:.:::..";
	int disagree = 0, accepted = 0;
	char text[48];
	for (int i = 0; i < 200000; i++) {
		size_t len = 1 + next() % 40;
		for (size_t j = 0; j < len; j++)
			text[j] = alphabet[next() % (sizeof alphabet - 1)];
		text[len] = 0;
		if (i % 4 == 0) { /* bias towards near-valid v4 text */
			snprintf(text, sizeof text, "%u.%u.%u.%u", next() % 300, next() % 300, next() % 300, next() % 300);
		}
		uint8_t lib[16];
		bool lib_ok = inet_pton(AF_INET, text, lib) == 1 || inet_pton(AF_INET6, text, lib) == 1;
		ip_addr a;
		bool ok = ip_parse(sv_cstr(text), &a);
		if (ok != lib_ok) {
			if (disagree++ < 5)
				fprintf(stderr, "\"%s\": ip_parse %d, inet_pton %d\n", text, ok, lib_ok);
		} else if (ok) {
			accepted++;
			if (memcmp(a.b, lib, a.family == 4 ? 4 : 16) != 0)
				disagree++;
		}
	}
	CHECK_INT(disagree, 0);
	CHECK(accepted > 1000); /* the generator does produce valid addresses */
}

/* Random bytes into every parser: only "does not crash / stays in bounds" is checked, plus
 * that results are self-consistent. The buffer is copied to an exact-size allocation so an
 * overread trips AddressSanitizer. */
static void test_garbage(void)
{
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		size_t len = next() % 64;
		char *p = malloc(len ? len : 1);
		for (size_t j = 0; j < len; j++)
			p[j] = next() % 4 ? "0123456789:./%+-=abcdefhmswDM \t"[next() % 31] : (char)next();
		sv v = sv_make(p, len);
		ip_addr a;
		int bits, secs;
		sv zone;
		if (ip_parse(v, &a) && a.family != 4 && a.family != 6)
			bad++;
		ip_parse_zone(v, &a, &zone);
		if (ip_parse_cidr(v, &a, &bits) && (bits < 0 || bits > ip_max_bits(&a)))
			bad++;
		if (interval_parse(v, &secs) && secs < 0)
			bad++;
		logsel ls;
		xbuf err, out;
		xbuf_init(&err, A);
		xbuf_init(&out, A);
		arena_mark m = arena_getmark(A);
		logsel_parse(v, &ls, &err);
		printing_escape(v, 0, &out);
		if (!printing_is_clean(v, 0) && out.len <= len)
			bad++; /* escaping always lengthens a string that needs it */
		arena_reset(A, m);
		free(p);
	}
	CHECK_INT(bad, 0);
}

int main(void)
{
	A = arena_new("test_lib_random");
	RUN(test_format_vs_libc);
	RUN(test_parse_vs_libc);
	RUN(test_garbage);
	arena_free(A);
	return unit_report("test_lib_random");
}
