/* Fuzz the redirect router's list parser (src/drivers/routers/redirect_route.c): any bytes as
 * alias data or a .forward file.
 *
 * Invariants: parsing either fails with a message or yields at most REDIRECT_MAX_ITEMS items of a
 * valid kind; pipe items start with '|', file and directory items with '/' (directories end with
 * '/'); mail items contain an '@' and their text before the last '@' is non-empty; :fail: and
 * :defer: texts are substrings of the input. :include: is forbidden here (it reads files). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/routers/redirect_parse.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

/* skip_syntax_errors log lines go nowhere. */
static void quiet(void *ctx, unsigned which, const char *text)
{
	(void)ctx;
	(void)which;
	(void)text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static arena *a;
	if (!a) {
		arena_init_pools();
		a = arena_new("fuzz_redirect");
	}
	arena_mark m = arena_getmark(a);
	/* Options from the first byte, so allow/forbid combinations are explored. */
	uint8_t flags = size ? data[0] : 0;
	struct redirect_router_options o = { 0 };
	o.allow_fail = flags & 1;
	o.allow_defer = flags & 2;
	o.forbid_pipe = flags & 4;
	o.forbid_file = flags & 8;
	o.forbid_blackhole = flags & 16;
	o.skip_syntax_errors = flags & 32;
	o.qualify_preserve_domain = flags & 64;
	o.forbid_include = true;
	route_ctx c;
	route_ctx_init(&c, a, NULL, ROUTE_MODE_DELIVER, SV_NULL);
	c.log_main = quiet;
	driver_instance r = { .name = "fuzz" };
	address_item *parent = route_new_address(a, SV_LIT("user@example.com"));
	redirect_list s = { .c = &c, .r = &r, .o = &o, .a = parent, .special = ROUTE_OK };
	xbuf_init(&s.err, a);
	sv text = sv_make((const char *)data + (size ? 1 : 0), size ? size - 1 : 0);
	if (redirect_parse(&s, text)) {
		CHECK(s.n <= REDIRECT_MAX_ITEMS);
		for (size_t i = 0; i < s.n; i++) {
			sv t = s.items[i].text;
			CHECK(t.len > 0);
			switch (s.items[i].kind) {
			case ADDR_PIPE:
				CHECK(t.p[0] == '|');
				break;
			case ADDR_FILE:
				CHECK(t.p[0] == '/');
				break;
			case ADDR_DIRECTORY:
				CHECK(t.p[0] == '/' && t.p[t.len - 1] == '/');
				break;
			case ADDR_MAIL: {
				const char *at = memrchr(t.p, '@', t.len);
				CHECK(at != NULL && at > t.p);
				break;
			}
			case ADDR_REPLY:
				CHECK(!"a .forward list never makes an autoreply item");
				break;
			}
		}
		if (s.special != ROUTE_OK) {
			CHECK(s.special == ROUTE_FAIL ? o.allow_fail : o.allow_defer);
			CHECK(!s.special_text.len || memmem(text.p, text.len, s.special_text.p, s.special_text.len));
		}
		CHECK(!s.discard || !o.forbid_blackhole);
	} else {
		CHECK(s.err.len > 0);
	}
	arena_reset(a, m);
	return 0;
}
