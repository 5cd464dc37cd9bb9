/* arena and sv/xbuf */
#include <sys/mman.h>

#include "lib/arena.h"
#include "lib/list.h"
#include "lib/str.h"
#include "../unit.h"

static void test_arena(void)
{
	arena *a = arena_new("t");
	arena_mark m = arena_getmark(a);
	char *s = arena_strdup(a, "hello");
	CHECK_STR(s, "hello");
	CHECK_STR(arena_printf(a, "%d-%s", 42, "x"), "42-x");
	void *big = arena_alloc(a, 1 << 20);
	CHECK(big != NULL);
	CHECK(arena_bytes_in_use(a) >= (1 << 20));
	arena_reset(a, m);
	CHECK_INT(arena_bytes_in_use(a), 0);
	/* in-place growth of the last allocation */
	char *p = arena_alloc(a, 10);
	char *q = arena_realloc(a, p, 10, 100);
	CHECK(p == q);
	arena_protect(a);
	/* Other arenas still allocate while this one is protected. */
	arena *other = arena_new("p");
	CHECK_STR(s = arena_strdup(other, "ro"), "ro");
	arena_free(other);
	arena_free(a);
}

/* A block freed by a reset is used again by the next allocation that needs one (a queue worker
 * grew its message arena past the first block for every message: an mmap, an munmap and page
 * faults each time); a smaller request may take a larger cached block, whole; one past the
 * cache's limit (1 MiB) is unmapped, not kept. */
static void test_arena_block_reuse(void)
{
	arena *a = arena_new("reuse");
	arena_mark m = arena_getmark(a);
	char *first = arena_alloc(a, 300001); /* a size no other test's block has */
	first[300000] = 'x';
	arena_reset(a, m);
	/* Were the block unmapped, this mapping would most likely take its place. */
	void *occupy = mmap(NULL, 400 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *again = arena_alloc(a, 300001);
	CHECK(again == first);
	arena_reset(a, m);
	char *smaller = arena_alloc(a, 250000);
	CHECK(smaller == first);
	CHECK(arena_bytes_in_use(a) >= 250000);
	char *more = arena_alloc(a, 40000); /* still fits the larger block taken */
	CHECK(more > smaller && more < first + 300001 + 4096);
	arena_reset(a, m);
	CHECK_INT(arena_bytes_in_use(a), 0);
	arena_free(a);
	if (occupy != MAP_FAILED)
		munmap(occupy, 400 * 1024);
}

static void test_xbuf_taint(void)
{
	arena *a = arena_new("t");
	xbuf b;
	xbuf_init(&b, a);
	xbuf_puts(&b, "clean ");
	CHECK_INT(b.taint, 0);
	sv t = sv_tainted(SV_LIT("dirty"));
	xbuf_putsv(&b, t);
	CHECK_INT(b.taint, 1);
	CHECK_STR(xbuf_cstr(&b), "clean dirty");
	for (int i = 0; i < 1000; i++)
		xbuf_putc(&b, 'x');
	CHECK_INT(b.len, 1011);
	xbuf_reset(&b);
	CHECK_INT(b.taint, 0);
	sv q = SV_LIT("quoted");
	q.quoter = 3;
	xbuf_putsv(&b, q);
	CHECK_INT(b.quoter, 3);
	xbuf_puts(&b, "more");
	CHECK_INT(b.quoter, 0);
	arena_free(a);
}

static void test_sv(void)
{
	static const struct { const char *a, *b; int eq, eqi; } rows[] = {
		{ "abc", "abc", 1, 1 }, { "ABC", "abc", 0, 1 }, { "ab", "abc", 0, 0 }, { "", "", 1, 1 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		CHECK_INT(sv_eq(sv_cstr(rows[i].a), sv_cstr(rows[i].b)), rows[i].eq);
		CHECK_INT(sv_eqi(sv_cstr(rows[i].a), sv_cstr(rows[i].b)), rows[i].eqi);
	}
	sv tr = sv_trim(SV_LIT("  x y \t"));
	CHECK(sv_eq(tr, SV_LIT("x y")));
	long long n;
	CHECK(sv_to_long(SV_LIT("-123"), &n) && n == -123);
	CHECK(!sv_to_long(SV_LIT("12a"), &n));
	CHECK(!sv_to_long(SV_LIT(" 12"), &n));           /* no leading blanks */
	CHECK(!sv_to_long(sv_make("33\0x", 4), &n));    /* no embedded NUL */
	CHECK(!sv_to_long(SV_LIT(""), &n));
}

static void test_lists(void)
{
	/* rows recorded from exim -be '${listcount:...}' */
	static const struct { const char *list; int sep; int count; } rows[] = {
		{ "a:b::c: d ", 0, 3 }, { "", 0, 0 }, { " ", 0, 0 }, { "<", 0, 0 }, { " <", 0, 0 },
		{ "<;", 0, 0 }, { "<;a", 0, 1 }, { "<; a;b ;; c", 0, 2 }, { "a::", 0, 1 }, { "a:b", ';', 1 },
		/* a control-character separator is never doubled: empty items */
		{ "<\n a\n\nb", 0, 3 }, { "<\n a\n\n\nb", 0, 4 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_INT(list_count(sv_cstr(rows[i].list), rows[i].sep), rows[i].count);
	xbuf b;
	xbuf_init(&b, NULL);
	xbuf_reserve(&b, 10);
	CHECK_STR(b.p, ""); /* terminated before the first append */
	xbuf_free(&b);
}

/* xbuf_printf formats into the free space and again only when the text did not fit; arena_printf
 * formats short texts on the stack and longer ones a second time: both paths, both kinds of
 * buffer, the result and the terminating NUL the same. */
static void test_printf_paths(void)
{
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	for (int heap = 0; heap < 2; heap++) {
		arena *a = arena_new("printf");
		xbuf b;
		xbuf_init(&b, heap ? NULL : a);
		xbuf_printf(&b, "%d-%s", 7, "ab");          /* first append: no room yet */
		CHECK_STR(xbuf_cstr(&b), "7-ab");
		xbuf_printf(&b, "|%05d", 42);               /* fits in what is left */
		CHECK_STR(xbuf_cstr(&b), "7-ab|00042");
		CHECK_INT(b.len, 10);
		xbuf_printf(&b, "%s", big);                  /* does not fit: grown, formatted again */
		CHECK_INT(b.len, 10 + sizeof big - 1);
		CHECK(memcmp(b.p, "7-ab|00042xx", 12) == 0 && b.p[b.len] == 0 && b.p[b.len - 1] == 'x');
		xbuf_printf(&b, "%s", "");                   /* nothing added, still terminated */
		CHECK_INT(b.len, 10 + sizeof big - 1);
		CHECK(b.p[b.len] == 0);
		if (heap)
			xbuf_free(&b);
		char *p = arena_printf(a, "%s%d", big + 2800, 5);   /* 199 + 1 bytes: on the stack */
		CHECK_INT(strlen(p), 200);
		CHECK(p[199] == '5');
		p = arena_printf(a, "<%s>", big);                  /* longer than the stack buffer */
		CHECK_INT(strlen(p), sizeof big + 1);
		CHECK(p[0] == '<' && p[sizeof big] == '>');
		arena_free(a);
	}
}

int main(void)
{
	RUN(test_printf_paths);
	RUN(test_lists);
	RUN(test_arena);
	RUN(test_arena_block_reuse);
	RUN(test_xbuf_taint);
	RUN(test_sv);
	return unit_report("lib_core");
}
