/* Fuzz the SMTP command parser (src/mail/smtp_cmd.h) as the session drives it: the input is one
 * command line; it is split into verb and argument, and MAIL/RCPT arguments are parsed with
 * every combination of advertised features, HELO arguments checked, BDAT sizes read.
 *
 * Invariants: the argument is a piece of the line; a successful MAIL/RCPT parse gives a 250 and
 * an address no longer than the argument, carrying its taint; a failed one a 5xx code and a
 * non-empty message; parsing the same argument twice gives the same result. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "mail/smtp_cmd.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096) return 0;
	sv line = sv_tainted(sv_make((const char *)data, size));
	sv arg;
	smtp_verb v = smtp_cmd_split(line, &arg);
	CHECK(arg.len <= size && (arg.len == 0 || (arg.p >= line.p && arg.p + arg.len <= line.p + size)));
	CHECK(v != SMTP_UNKNOWN || arg.len == 0);

	char work[4097], work2[4097];
	xbuf msg, addr, msg2, addr2;
	xbuf_init(&msg, NULL); xbuf_init(&addr, NULL); xbuf_init(&msg2, NULL); xbuf_init(&addr2, NULL);
	for (unsigned bits = 0; bits < 16; bits++) {
		smtp_features f = { .dsn = bits & 1, .prdr = bits & 2, .smtputf8 = bits & 4,
			.eightbitmime = true, .allow_domain_literals = bits & 8 };
		smtp_addr_result r = { .msg = &msg, .addr = &addr }, r2 = { .msg = &msg2, .addr = &addr2 };
		bool ok, ok2;
		if (v == SMTP_RCPT || (v == SMTP_UNKNOWN && (bits & 1))) {
			smtp_rcpt_params p, p2;
			sv a = v == SMTP_RCPT ? arg : line;
			ok = smtp_parse_rcpt(a, work, &f, &p, &r);
			ok2 = smtp_parse_rcpt(a, work2, &f, &p2, &r2);
			CHECK(!ok || p.notify == p2.notify);
		} else {
			smtp_mail_params p, p2;
			sv a = v == SMTP_MAIL ? arg : line;
			ok = smtp_parse_mail(a, work, &f, &p, &r);
			ok2 = smtp_parse_mail(a, work2, &f, &p2, &r2);
			CHECK(!ok || (p.size == p2.size && p.size >= 0 && p.size <= 2147483647));
		}
		CHECK(ok == ok2);
		if (ok) {
			CHECK(r.code == 250);
			CHECK(r.address.len <= size);
			CHECK(r.address.taint == 1);
			CHECK(sv_eq(r.address, r2.address));
		} else {
			CHECK(r.code >= 500 && r.code < 600);
			CHECK(msg.len > 0);
			CHECK(strcmp(xbuf_cstr(&msg), xbuf_cstr(&msg2)) == 0);
		}
	}
	(void)smtp_helo_valid(arg, sv_cstr("_"));
	unsigned long long n;
	bool last;
	if (smtp_parse_bdat(arg, &n, &last)) CHECK(arg.len > 0);
	xbuf_free(&msg); xbuf_free(&addr); xbuf_free(&msg2); xbuf_free(&addr2);
	return 0;
}
