/* The hints tools' record printing against lines recorded from Exim 4.96's exim_dumpdb and
 * exim_fixdb for the same records (UTC), fixdb field edits, wait-<t> id lists and the message id
 * of message-specific retry keys. */
#include <stdlib.h>
#include <string.h>

#include "core/retry.h"
#include "lib/arena.h"
#include "prog/hints_format.h"
#include "../unit.h"

static const time_t T = 1795261691;  /* 21-Nov-2026 11:48:11 UTC */

static sv retry_value(arena *a, int basic, int more, const char *text, long long ff, long long lt,
	long long nt, bool expired)
{
	retry_record r = { .basic_errno = basic, .more_errno = more, .text = sv_cstr(text),
		.first_failed = T + ff, .last_try = T + lt, .next_try = T + nt, .expired = expired, .written = T + lt };
	xbuf b;
	xbuf_init(&b, a);
	retry_record_encode(&r, &b);
	return xbuf_sv(&b);
}

static void test_dump(void)
{
	arena *a = arena_new("t");
	xbuf out;
	xbuf_init(&out, a);
	hints_format_record("retry", sv_cstr("T:127.0.0.1:127.0.0.1:2599"),
		retry_value(a, 111, 65, "Connection refused", 0, 0, 900, false), &out);
	CHECK_STR(xbuf_cstr(&out), "  T:127.0.0.1:127.0.0.1:2599 111 65 Connection refused\n"
		"21-Nov-2026 11:48:11  21-Nov-2026 11:48:11  21-Nov-2026 12:03:11 \n");
	xbuf_reset(&out);
	/* an expired record (Exim: first failed 02:48:00, last 11:48:41, next 12:50:03 "*") */
	hints_format_record("retry", sv_cstr("T:127.0.0.1:127.0.0.1:2599"),
		retry_value(a, 111, 65, "Connection refused", 2 * 3600 + 48 * 60 - 11 * 3600 - 48 * 60 - 11, 30, 3712, true), &out);
	CHECK_STR(xbuf_cstr(&out), "  T:127.0.0.1:127.0.0.1:2599 111 65 Connection refused\n"
		"21-Nov-2026 02:48:00  21-Nov-2026 11:48:41  21-Nov-2026 12:50:03 *\n");
	xbuf_reset(&out);
	hints_format_record("retry", sv_cstr("R:u@r.example:<s@snd.example>"),
		retry_value(a, -44, 13121, "H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<u@r.example>: 451 4.7.1 greylisted", 42, 42, 642, false), &out);
	CHECK_STR(xbuf_cstr(&out), "  R:u@r.example:<s@snd.example> -44 13121 H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<u@r.example>: 451 4.7.1 greylisted\n"
		"21-Nov-2026 11:48:53  21-Nov-2026 11:48:53  21-Nov-2026 11:58:53 \n");
	xbuf_reset(&out);
	/* wait-<t>: Exim prints "127.0.0.1 1xUjZj-00020V-2Y 1xUjZk-00020b-01 " */
	hints_format_record("wait-t1", sv_cstr("127.0.0.1"), sv_cstr("1xUjZj-00020V-2Y 1xUjZk-00020b-01"), &out);
	CHECK_STR(xbuf_cstr(&out), "127.0.0.1 1xUjZj-00020V-2Y 1xUjZk-00020b-01 \n");
	xbuf_reset(&out);
	hints_format_record("wait-t1", sv_cstr("127.0.0.1"), sv_cstr("1xUjZj-00020V-2Y1xUjZk-00020b-01"), &out);
	CHECK_STR(xbuf_cstr(&out), "127.0.0.1 1xUjZj-00020V-2Y 1xUjZk-00020b-01 \n");
	xbuf_reset(&out);
	/* seen: "u1\t21-Nov-2026 11:56:41" */
	char seen[9];
	double stamp = (double)T + 510.25;
	seen[0] = 1;
	memcpy(seen + 1, &stamp, sizeof stamp);
	hints_format_record("seen", sv_cstr("u1"), sv_make(seen, sizeof seen), &out);
	CHECK_STR(xbuf_cstr(&out), "u1\t21-Nov-2026 11:56:41\n");
	xbuf_reset(&out);
	/* something that is not a record of the layout: escaped, never trusted */
	hints_format_record("retry", sv_cstr("k\x01"), sv_cstr("\x07junk"), &out);
	CHECK_STR(xbuf_cstr(&out), "  k\\x01 \\x07junk\n");
	arena_free(a);
}

static void test_fixdb(void)
{
	arena *a = arena_new("t");
	xbuf out;
	xbuf_init(&out, a);
	sv v = retry_value(a, 111, 65, "Connection refused", 0, 0, 900, false);
	hints_format_fields("retry", v, &out);
	CHECK_STR(xbuf_cstr(&out), "21-Nov-2026 11:48:11\n"
		"0 error number: 111 Connection refused\n"
		"1 extra data:   65\n"
		"2 first failed: 21-Nov-2026 11:48:11\n"
		"3 last try:     21-Nov-2026 11:48:11\n"
		"4 next try:     21-Nov-2026 12:03:11\n"
		"5 expired:      no\n");
	xbuf nv;
	xbuf_init(&nv, a);
	/* "2 2611210800": yymmddhhmm, as Exim's fixdb reads it */
	CHECK(hints_modify_field("retry", v, 2, "2611210800", T, &nv) == NULL);
	retry_record r;
	CHECK(retry_record_decode(xbuf_sv(&nv), &r, a));
	CHECK_INT(r.first_failed, T - 3 * 3600 - 48 * 60 - 11);
	xbuf_reset(&nv);
	CHECK(hints_modify_field("retry", v, 4, "1140", T, &nv) == NULL);
	CHECK(retry_record_decode(xbuf_sv(&nv), &r, a));
	CHECK_INT(r.next_try, T - 8 * 60 - 11);
	xbuf_reset(&nv);
	CHECK(hints_modify_field("retry", v, 5, "yes", T, &nv) == NULL);
	CHECK(retry_record_decode(xbuf_sv(&nv), &r, a) && r.expired);
	CHECK_STR(hints_modify_field("retry", v, 2, "21-Nov-2026", T, &nv), "bad time value");
	CHECK(hints_modify_field("retry", v, 9, "1", T, &nv) != NULL);
	arena_free(a);
}

static void test_keys(void)
{
	arena *a = arena_new("t");
	CHECK_STR(sv_dup(a, hints_key_message_id(sv_cstr("T:127.0.0.1:127.0.0.1:2601:1xUjaP-0002dG-0K"))),
		"1xUjaP-0002dG-0K");
	CHECK(hints_key_message_id(sv_cstr("T:127.0.0.1:127.0.0.1:2601")).len == 0);
	CHECK(hints_key_message_id(sv_cstr("R:u@r.example:<s@snd.example>")).len == 0);
	CHECK_INT(hints_wait_decode(sv_cstr(" a  b"))->n, 2);
	CHECK_INT(hints_wait_decode(sv_cstr("1xUjZj-00020V-2Y1xUjZk-00020b-01 1xUjaa-0002lB-14"))->n, 3);
	CHECK_INT(hints_wait_decode(sv_cstr("@1795261691 +2 1xUjaa-0002lB-14"))->sequence, 2);
	CHECK_INT(hints_record_time("wait-x", sv_cstr("@1795261691 +2 1xUjaa-0002lB-14")), T);
	CHECK_INT(retry_record_decode(sv_cstr(""), &(retry_record){ 0 }, a), 0);
	CHECK_INT(hints_record_time("retry", retry_value(a, 1, 2, "x", 0, 5, 9, false)), T + 5);
	CHECK_INT(hints_record_time("misc", sv_cstr("1795261691")), T);
	CHECK_INT(hints_record_time("wait-x", sv_cstr("1795261691")), 0);
	arena_free(a);
}

int main(void)
{
	arena_init_pools();
	hints_time_utc(true);
	RUN(test_dump);
	RUN(test_fixdb);
	RUN(test_keys);
	return unit_report("test_hints");
}
