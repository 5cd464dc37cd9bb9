/* RFC 1413 reply parsing (src/smtp/rfc1413.c). Every case's verdict and user id was observed
 * from Exim 4.96's daemon against a test identd (query "<client port> , 2625"): the EHLO
 * reply's "Hello <ident> at" showed the id, or its absence. */
#include <stdio.h>

#include "../unit.h"
#include "lib/arena.h"
#include "smtp/rfc1413.h"

#define CP 40000
#define SP 2625

static const struct { const char *reply; size_t len; const char *want; } cases[] = {
	/* want NULL: no ident */
	{ "40000 , 2625 : USERID : UNIX : fred\r\n", 0, "fred" },
	{ "40000,2625:USERID:UNIX:fred\r\n", 0, "fred" },
	{ "40000 , 2625 : USERID : OTHER : fred bloggs \r\n", 0, "fred bloggs " },
	{ "40000 , 2625 : ERROR : NO-USER\r\n", 0, NULL },
	{ "40000 , 2625 : USERID : UNIX :fred", 0, NULL },          /* no line end */
	{ "40000 , 2626 : USERID : UNIX : fred\r\n", 0, NULL },     /* other port */
	{ "40000 , 2625 : USERID : UNIX : a:b\r\n", 0, "a:b" },
	{ "40000 , 2625 : USERID :: fred\r\n", 0, "fred" },
	{ "40000 , 2625 : USERID : : fred\r\n", 0, "fred" },
	{ "40000 , 2625 : USERID : UNIX : \r\n", 0, NULL },
	{ "40000 , 2625 : USERID : UNIX : \t  \r\n", 0, NULL },
	{ " 40000 , 2625 : USERID : UNIX : fred\r\n", 0, "fred" },
	{ "40000 , 2625 : userid : UNIX : fred\r\n", 0, NULL },
	{ "40000 , 2625 : USERID : UNIX : fred\n", 0, "fred" },
	{ "40000  ,   2625   :   USERID   :   UNIX   :   fred\r\n", 0, "fred" },
	{ "40000 , 2625 : USERID : UNIX : fred\rgarbage\n", 0, "fred\rgarbage" },
	{ "40000 , 2625 : USERID : UNIX :\tfred\r\n", 0, "fred" },
	{ "40000 , 2625 : USERID : UNIX\r\n", 0, NULL },
	{ "040000 , 02625 : USERID : UNIX : fred\r\n", 0, "fred" },
	{ "+40000 , +2625 : USERID : UNIX : fred\r\n", 0, "fred" },
	{ "40000 , 2625 :USERID: UNIX : fred\r\n", 0, "fred" },
	{ "40000 , 2625\t: USERID : UNIX : fred\r\n", 0, "fred" },
	{ "40000x , 2625 : USERID : UNIX : fred\r\n", 0, NULL },
	{ "40000 : 2625 : USERID : UNIX : fred\r\n", 0, NULL },
	{ "40000 , 2625 : USERID : UNIX : fred :x\r\n", 0, "fred :x" },
	{ "40000 , 2625 : USERID: UNIX fred\r\n", 0, NULL },
	{ "40000 , 2625 : USERID : UNIX : fred\r\nextra\r\n", 0, "fred" },
	{ "40000 , 2625 : USERID : UNIX : fred\t\r\n", 0, "fred\t" },
	{ "40000 , 2625 : USERID : UNIX : fr\0ed\n\n", 37, NULL },    /* a NUL before the newline */
	{ "", 0, NULL },
	{ "\n", 0, NULL },
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sv r = { cases[i].reply, cases[i].len ? cases[i].len : strlen(cases[i].reply), 1, 0 };
		sv user = SV_NULL;
		bool ok = rfc1413_parse(r, CP, SP, &user);
		char got[200];
		snprintf(got, sizeof got, "%s%.*s", ok ? "" : "(none)", (int)user.len, user.p ? user.p : "");
		CHECK_STR(got, cases[i].want ? cases[i].want : "(none)");
	}
}

static void test_printable(void)
{
	/* Cut to 127 bytes before escaping (Exim: 126 'y' + "\303" from a cut UTF-8 pair). */
	char raw[300];
	memset(raw, 'y', 126);
	memcpy(raw + 126, "\xc3\xa9zzz", 5);
	sv p = rfc1413_printable(pool_scratch, (sv){ raw, 131, 1, 0 }, false);
	CHECK_INT((long long)p.len, 130);
	CHECK(p.taint);
	CHECK(p.len >= 4 && memcmp(p.p + 126, "\\303", 4) == 0);
	p = rfc1413_printable(pool_scratch, sv_cstr("fr\x01" "ed\t"), false);
	CHECK(p.len == 9 && memcmp(p.p, "fr\\001ed\t", 9) == 0);
	p = rfc1413_printable(pool_scratch, sv_cstr("fr\xc3\xa9" "d"), true);
	CHECK(p.len == 5 && memcmp(p.p, "fr\xc3\xa9" "d", 5) == 0);
}

int main(void)
{
	arena_init_pools();
	RUN(test_parse);
	RUN(test_printable);
	return unit_report("test_rfc1413");
}
