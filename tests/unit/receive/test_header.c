/* RFC 5322 header fields (src/mail/header.c). */
#include "mail/header.h"
#include "../unit.h"

static void test_field_start(void)
{
	static const struct { const char *line; bool want; } t[] = {
		{ "Subject: x", true }, { "Subject:x", true }, { "Subject :x", true }, { "Subject \t: x", true },
		{ "X-Y:", true }, { ":x", true }, { " :x", false }, { " Subject: x", false }, { "not a header", false },
		{ "Sub ject: x", false }, { "", false }, { "Subject", false }, { "S\x01: x", false },
		/* 8-bit bytes may be in a name (Exim 4.96 takes them; header_names_ascii finds them),
		 * DEL may not */
		{ "S\xc3\xa9: x", true }, { "S\x7f: x", false }, { "From a@b Mon Jan 1", false },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		CHECK(hdr_is_field_start(t[i].line, strlen(t[i].line)) == t[i].want);
}

static void test_split(void)
{
	sv block = sv_cstr("Subject: a\n\tb\nTo: x@y,\n z@w\nX: 1\nLast: no newline");
	const char *want[] = { "Subject: a\n\tb\n", "To: x@y,\n z@w\n", "X: 1\n", "Last: no newline" };
	size_t pos = 0, n = 0;
	sv f;
	while (hdr_next_field(block, &pos, &f)) {
		if (n < 4) {
			char *s = sv_dup(pool_scratch, f);
			CHECK_STR(s, want[n]);
		}
		n++;
	}
	CHECK_INT(n, 4);
	sv field = sv_cstr("Subject :  hello\n world\n");
	CHECK_STR(sv_dup(pool_scratch, hdr_field_name(field)), "Subject");
	CHECK_STR(sv_dup(pool_scratch, hdr_field_body(field)), "hello\n world");
	CHECK(hdr_name_is(field, sv_cstr("SUBJECT")));
	CHECK(!hdr_name_is(field, sv_cstr("Subj")));
	xbuf u;
	xbuf_init(&u, pool_scratch);
	hdr_unfold(hdr_field_body(field), &u);
	CHECK_STR(xbuf_cstr(&u), "hello world");
	CHECK_INT(hdr_field_name(sv_cstr("no colon here\n")).len, 0);
}

static void test_addresses(void)
{
	static const struct { const char *body; const char *want; size_t n, bad; } t[] = {
		{ "a@b.c", "a@b.c|", 1, 0 },
		{ "Fred <fred@x.y>, \"Smith, J\" <j@s.t>,\n (c) bare", "fred@x.y|j@s.t|bare|", 3, 0 },
		{ "group: a@b, c@d;, e@f", "a@b|c@d|e@f|", 3, 0 },
		{ "<>, x@y", "x@y|", 1, 0 },
		{ "a@b, <unterminated, c@d", "a@b|", 1, 1 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		xbuf out;
		xbuf_init(&out, pool_scratch);
		size_t bad = 0;
		size_t n = hdr_addresses(sv_cstr(t[i].body), &out, &bad);
		for (size_t j = 0; j < out.len; j++)
			if (out.p[j] == '\0')
				out.p[j] = '|';
		CHECK_STR(xbuf_cstr(&out), t[i].want);
		CHECK_INT(n, t[i].n);
		CHECK_INT(bad, t[i].bad);
	}
}

int main(void)
{
	arena_init_pools();
	RUN(test_field_start);
	RUN(test_split);
	RUN(test_addresses);
	return unit_report("test_header");
}
