/* RFC 5322 address extraction (src/mail/address.c). Expected values were checked against
 * Exim 4.96's ${address:}, ${local_part:}, ${domain:} and ${addresses:}. */
#include <stdlib.h>

#include "../unit.h"
#include "mail/address.h"

static const struct {
	const char *in, *address, *local, *domain; /* address NULL: must not parse */
} single[] = {
	{ "a@b", "a@b", "a", "b" },
	{ "A B <a@b>", "a@b", "a", "b" },
	{ "<a@b>", "a@b", "a", "b" },
	{ "a@b (comment)", "a@b", "a", "b" },
	{ "(c) a@b", "a@b", "a", "b" },
	{ "((nested)) a@b", "a@b", "a", "b" },
	{ "\"a b\"@c", "\"a b\"@c", "\"a b\"", "c" },
	{ "\"a b\" <x@y>", "x@y", "x", "y" },
	{ "<@r1,@r2:u@d>", "u@d", "u", "d" },
	{ "Name <@r1:u@d>", "u@d", "u", "d" },
	{ "a", "a", "a", "" },
	{ "<u>", "u", "u", "" },
	{ " a @ b ", "a@b", "a", "b" },
	{ "a(x)@b", "a@b", "a", "b" },
	{ "a . b@c", "a.b@c", "a.b", "c" },
	{ "a@b . c", "a@b.c", "a", "b.c" },
	{ "a.@b", "a.@b", "a.", "b" },
	{ ".a@b", ".a@b", ".a", "b" },
	{ "a..b@c", "a..b@c", "a..b", "c" },
	{ "a.\"b c\"@d", "a.\"b c\"@d", "a.\"b c\"", "d" },
	{ "a@[1.2.3.4]", "a@[1.2.3.4]", "a", "[1.2.3.4]" },
	{ "a@[IPv6:::1]", "a@[IPv6:::1]", "a", "[IPv6:::1]" },
	{ "a@b-", "a@b-", "a", "b-" },
	{ "A@B-1.c0", "A@B-1.c0", "A", "B-1.c0" },
	{ "=?utf-8?q?a?= \"b\" c.d <x@y>", "x@y", "x", "y" },
	{ "x <a@b>\n", "a@b", "a", "b" },
	{ "\xc3\xa9@b", "\xc3\xa9@b", "\xc3\xa9", "b" },
	{ "a@b (\\))", "a@b", "a", "b" },
	{ "a@b (\\)", "a@b", "a", "b" },
	{ "a@b (x", "a@b", "a", "b" },
	{ "a\\@b@c", "a\\@b@c", "a\\@b", "c" },
	{ "a\\ b@c", "a\\ b@c", "a\\ b", "c" },
	{ "x\\<y <a@b>", "a@b", "a", "b" },
	{ "a@b\\c", NULL, NULL, NULL },
	{ "", NULL, NULL, NULL },
	{ "a@", NULL, NULL, NULL },
	{ "@b", NULL, NULL, NULL },
	{ "a@b c", NULL, NULL, NULL },
	{ "a@b.", NULL, NULL, NULL },
	{ "a@b..c", NULL, NULL, NULL },
	{ "a@-b", NULL, NULL, NULL },
	{ "a@b_c", NULL, NULL, NULL },
	{ "a@b.-c", NULL, NULL, NULL },
	{ "<a@b", NULL, NULL, NULL },
	{ "a@b>", NULL, NULL, NULL },
	{ "a@b, c@d", NULL, NULL, NULL },
	{ "x <a@b> y", NULL, NULL, NULL },
	{ "(a b@c", NULL, NULL, NULL },
	{ "\"abc@d", NULL, NULL, NULL },
	{ "a@[1.2.3", NULL, NULL, NULL },
	{ "a@[a b]", NULL, NULL, NULL },
	{ "a@b.[1.2.3.4]", NULL, NULL, NULL },
	{ "\"a\"\"b\"@d", NULL, NULL, NULL },
	{ "<<a@b>>", NULL, NULL, NULL },
	{ "<@r1,r2:u@d>", NULL, NULL, NULL },
	{ "<@:u@d>", NULL, NULL, NULL },
	{ "<@r1:u>", NULL, NULL, NULL },
	{ "a@b <x@y>", NULL, NULL, NULL },
	{ "a,b <x@y>", NULL, NULL, NULL },
	{ "a:b <x@y>", NULL, NULL, NULL },
	{ "g: a@b, c@d;", NULL, NULL, NULL },
	{ "a@\xc3\xa9.com", NULL, NULL, NULL },
};

static void test_single(void)
{
	for (size_t i = 0; i < sizeof single / sizeof single[0]; i++) {
		xbuf out;
		addr_parsed info;
		const char *why;
		xbuf_init(&out, NULL);
		bool ok = addr_extract(sv_cstr(single[i].in), NULL, &out, &info, &why);
		if (!single[i].address) {
			CHECK(!ok);
			if (ok)
				fprintf(stderr, "  accepted \"%s\" as \"%s\"\n", single[i].in, xbuf_cstr(&out));
			CHECK_INT(out.len, 0);
		} else {
			CHECK(ok);
			CHECK_STR(xbuf_cstr(&out), single[i].address);
			xbuf local;
			xbuf_init(&local, NULL);
			xbuf_put(&local, out.p, info.local_len);
			CHECK_STR(xbuf_cstr(&local), single[i].local);
			CHECK_STR(info.has_domain ? out.p + info.local_len + 1 : "", single[i].domain);
			xbuf_free(&local);
		}
		xbuf_free(&out);
	}
}

/* The ${addresses:} loop, as ops_addr.c runs it, joined with ':'. */
static void list_addresses(const char *in, xbuf *out)
{
	addr_group_state g = { .allow = true };
	size_t pos = 0;
	sv item, list = sv_cstr(in);
	xbuf a;
	xbuf_init(&a, NULL);
	while (addr_next_item(list, &pos, &item)) {
		addr_parsed info;
		const char *why;
		xbuf_reset(&a);
		if (!addr_extract(item, &g, &a, &info, &why) || info.empty || !a.len)
			continue;
		if (out->len)
			xbuf_putc(out, ':');
		xbuf_putsv(out, xbuf_sv(&a));
	}
	xbuf_free(&a);
}

static const struct {
	const char *in, *want;
} lists[] = {
	{ "a@b, c@d", "a@b:c@d" },
	{ "A <a@b>, \"x,y\" <c@d>", "a@b:c@d" },
	{ "a@b, junk, c@d", "a@b:junk:c@d" },
	{ "g: a@b, c@d;, e@f", "a@b:c@d:e@f" },
	{ "g: c;", "c" },
	{ "g:;", "" },
	{ "g: a@b;x, e@f", "a@b:e@f" },
	{ "g h: a@b", "a@b" },
	{ ": a@b", "a@b" },
	{ "\"g\": a@b", "a@b" },
	{ "From: Last, First <user@example.com>", "Last:user@example.com" },
	{ "a@b,,c@d", "a@b:c@d" },
	{ "a@b, <>, c@d", "a@b:c@d" },
	{ "a@b (x, y), c@d", "a@b:c@d" },
	{ "<a@b, c@d>, e@f", "e@f" },
	{ "a@[1,2], e@f", "e@f" },
	{ "<@a.example,@b.example:user@c.example>", "user@c.example" },
	{ "a@b;c@d", "" },
	{ "c;d@e", "" },
	{ "x <a@b>, g: c@d", "a@b:c@d" },
	{ "", "" },
};

static void test_lists(void)
{
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		xbuf out;
		xbuf_init(&out, NULL);
		list_addresses(lists[i].in, &out);
		CHECK_STR(xbuf_cstr(&out), lists[i].want);
		xbuf_free(&out);
	}
}

/* ADDR_UTF8_DOMAINS (Exim 4.96's -f, command line and -t): 8-bit domains if they are UTF-8. */
static void test_utf8_domains(void)
{
	static const struct { const char *in, *address, *why; } cases[] = {
		{ "s\xc3\xa9nder@s\xc3\xa9.test", "s\xc3\xa9nder@s\xc3\xa9.test", NULL },
		{ "Name <r@b\xc3\xbc" "cher.test>", "r@b\xc3\xbc" "cher.test", NULL },
		{ "a@\xc3\xa9", "a@\xc3\xa9", NULL },
		{ "a@s\xe9.test", NULL, "invalid UTF-8 byte sequence" },
		{ "a@s\xc3", NULL, "invalid UTF-8 byte sequence" },
		{ "a@-\xc3\xa9", NULL, "malformed address" },
		{ "\xe9@s.test", "\xe9@s.test", NULL },        /* the local part is not checked */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		xbuf out;
		addr_parsed info;
		const char *why = NULL;
		xbuf_init(&out, NULL);
		bool ok = addr_extract_opts(sv_cstr(cases[i].in), NULL, ADDR_UTF8_DOMAINS, &out, &info, &why);
		CHECK(ok == (cases[i].address != NULL));
		if (ok)
			CHECK_STR(xbuf_cstr(&out), cases[i].address);
		else
			CHECK_STR(why, cases[i].why);
		xbuf_free(&out);
	}
	CHECK(addr_is_8bit(sv_cstr("\xc3\xa9@b")));
	CHECK(!addr_is_8bit(sv_cstr("a@b")));
}

/* Junk never crashes and never reads outside the view (run under ASan in the sanitizer tree);
 * deep comment nesting is refused rather than recursed into. */
static void test_robust(void)
{
	char deep[4096];
	memset(deep, '(', 2000);
	memset(deep + 2000, ')', 2000);
	memcpy(deep + 4000, " a@b", 5);
	xbuf out;
	addr_parsed info;
	const char *why;
	xbuf_init(&out, NULL);
	CHECK(!addr_extract(sv_cstr(deep), NULL, &out, &info, &why));
	static const char alphabet[] = "ab@.<>()\":;,[]\\ \t\n\xc3-";
	srand(1234);
	bool bounded = true;
	for (int round = 0; round < 20000; round++) {
		char buf[40];
		size_t n = (size_t)(rand() % 40);
		for (size_t k = 0; k < n; k++)
			buf[k] = alphabet[rand() % (int)(sizeof alphabet - 1)];
		/* an exactly-sized heap copy, so that a read past the end is caught by ASan */
		char *heap = malloc(n ? n : 1);
		memcpy(heap, buf, n);
		addr_group_state g = { .allow = true };
		xbuf_reset(&out);
		addr_extract(sv_make(heap, n), round & 1 ? &g : NULL, &out, &info, &why);
		size_t pos = 0;
		sv item;
		int items = 0;
		while (addr_next_item(sv_make(heap, n), &pos, &item) && items < 100)
			items++;
		bounded &= items <= (int)n + 1;
		free(heap);
	}
	CHECK(bounded);
	xbuf_free(&out);
}

int main(void)
{
	RUN(test_single);
	RUN(test_lists);
	RUN(test_utf8_domains);
	RUN(test_robust);
	return unit_report("test_address");
}
