/* ALPN names and the server's choice (src/tls/tls_alpn.c). */
#include <string.h>

#include "../unit.h"
#include "lib/arena.h"
#include "tls/tls_alpn.h"

static const struct {
	const char *allowed;
	const char *offer;   /* wire form */
	size_t len;
	bool ok;
	const char *chosen;
} choose_cases[] = {
	{ "smtp : esmtp", "\4smtp", 5, true, "smtp" },
	{ "smtp : esmtp", "\5esmtp", 6, true, "esmtp" },
	{ "smtp : esmtp", "\10http/1.1", 9, false, NULL },           /* a web client */
	{ "smtp : esmtp", "\4smtp\5esmtp", 11, false, NULL },         /* more than one name */
	{ "smtp : esmtp", "\4smt", 4, false, NULL },                  /* length beyond the data */
	{ "smtp : esmtp", "\0", 1, false, NULL },                     /* an empty name */
	{ "smtp : esmtp", "", 0, false, NULL },
	{ "smtp", "\3smt", 4, false, NULL },                          /* a prefix is not the name */
	{ "SMTP", "\4smtp", 5, false, NULL },                         /* exact bytes */
};

int main(void)
{
	arena_init_pools();
	for (size_t i = 0; i < sizeof choose_cases / sizeof choose_cases[0]; i++) {
		const unsigned char *sel = NULL;
		unsigned char sel_len = 0;
		bool ok = tls_alpn_choose(choose_cases[i].allowed, (const unsigned char *)choose_cases[i].offer,
			choose_cases[i].len, &sel, &sel_len);
		CHECK_INT(ok, choose_cases[i].ok);
		if (ok) {
			CHECK_INT(sel_len, (int)strlen(choose_cases[i].chosen));
			CHECK(memcmp(sel, choose_cases[i].chosen, sel_len) == 0);
		}
	}
	xbuf w;
	xbuf_init(&w, pool_scratch);
	CHECK(tls_alpn_wire("smtp : esmtp", &w));
	CHECK_INT((int)w.len, 11);
	CHECK(memcmp(w.p, "\4smtp\5esmtp", 11) == 0);
	xbuf_reset(&w);
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	xbuf_reset(&w);
	CHECK(!tls_alpn_wire(longname, &w));
	return unit_report("test_tls_alpn");
}
