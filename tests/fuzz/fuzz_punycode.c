/* Fuzz src/mail/punycode: Punycode and A-label conversion.
 *
 * Invariants: for valid UTF-8 input, encode then decode gives the input back; whatever decode
 * accepts encodes again, and that encoding decodes to the same text; A-label conversion of a
 * domain, when it succeeds, gives pure ASCII that converts back without error. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "mail/punycode.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	sv in = sv_make((const char *)data, size);
	xbuf a, b, c;
	xbuf_init(&a, NULL);
	xbuf_init(&b, NULL);
	xbuf_init(&c, NULL);

	if (punycode_encode(in, &a)) {
		for (size_t i = 0; i < a.len; i++)
			CHECK((unsigned char)a.p[i] < 0x80);
		CHECK(punycode_decode(xbuf_sv(&a), &b));
		CHECK(sv_eq(xbuf_sv(&b), in));
	}

	xbuf_reset(&a);
	xbuf_reset(&b);
	if (punycode_decode(in, &a)) {
		CHECK(punycode_encode(xbuf_sv(&a), &b));
		CHECK(punycode_decode(xbuf_sv(&b), &c));
		CHECK(sv_eq(xbuf_sv(&c), xbuf_sv(&a)));
	}

	xbuf_reset(&a);
	xbuf_reset(&b);
	const char *why = NULL;
	if (idna_domain_to_alabel(in, &a, &why)) {
		for (size_t i = 0; i < a.len; i++)
			CHECK((unsigned char)a.p[i] < 0x80);
		CHECK(idna_domain_from_alabel(xbuf_sv(&a), &b));
	} else {
		CHECK(why != NULL);
	}
	xbuf_reset(&b);
	(void)idna_domain_from_alabel(in, &b);

	xbuf_free(&a);
	xbuf_free(&b);
	xbuf_free(&c);
	return 0;
}
