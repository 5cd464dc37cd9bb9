/* journal_seal: which lines of a -J count as delivered addresses. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/journal_seal.h"
#include "lib/arena.h"
#include "../unit.h"

#define ID "1tAbCd-000123-Ab"

static char got[1024];

static void add(void *ctx, sv a)
{
	(void)ctx;
	strncat(got, a.p, a.len);
	strcat(got, ",");
}

/* text with "@SEAL@" replaced by the seal of everything since the previous seal */
static const char *sealed(const char *id, const char *tmpl)
{
	static char out[2048];
	xbuf b;
	xbuf_init(&b, pool_scratch);
	const char *p = tmpl, *batch = tmpl;
	size_t bstart = 0;
	while (*p) {
		const char *s = strstr(p, "@SEAL@");
		if (!s) {
			xbuf_puts(&b, p);
			break;
		}
		xbuf_put(&b, p, (size_t)(s - p));
		journal_seal(&b, id, sv_make(b.p + bstart, b.len - bstart));
		bstart = b.len;
		p = s + 6;
		if (*p == '\n')
			p++;
		batch = p;
	}
	(void)batch;
	memcpy(out, b.p, b.len);
	out[b.len] = 0;
	return out;
}

static const char *parse(const char *text)
{
	got[0] = 0;
	journal_parse(sv_cstr(text), ID, add, NULL, NULL);
	return got;
}

static void test_table(void)
{
	static const struct { const char *name, *seal_id, *text, *want; } t[] = {
		{ "one sealed batch", ID, "a@x\nb@y\n@SEAL@", "a@x,b@y," },
		{ "two batches", ID, "a@x\n@SEAL@b@y\n@SEAL@", "a@x,b@y," },
		{ "seal of another message counts nothing", "1tZZZZ-000999-Zz", "a@x\n@SEAL@", "" },
		{ "lines after the last seal do not count", ID, "a@x\n@SEAL@b@y\n", "a@x," },
		{ "an unfinished line after a seal does not count", ID, "a@x\n@SEAL@b@y", "a@x," },
		{ "Exim's plain journal counts line by line", NULL, "a@x\nb@y\n", "a@x,b@y," },
		{ "Exim: a last line without newline counts", NULL, "a@x\nb@y", "a@x,b@y," },
		{ "a stale -H block counts nothing", NULL, ID "-H\nmail 8 8\n<s@x>\na@x\n", "" },
		{ "a stale body block counts nothing", NULL, "Subject: hi\na@x\n", "" },
		{ "empty", NULL, "", "" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *text = t[i].seal_id ? sealed(t[i].seal_id, t[i].text) : t[i].text;
		const char *g = parse(text);
		if (strcmp(g, t[i].want) != 0)
			fprintf(stderr, "case '%s': got '%s'\n", t[i].name, g);
		CHECK_STR(g, t[i].want);
	}
}

/* A batch changed after sealing (one byte) is rejected; the batch before it still counts. */
static void test_tampered(void)
{
	char text[256];
	strcpy(text, sealed(ID, "a@x\n@SEAL@b@y\n@SEAL@"));
	char *b = strstr(text, "b@y");
	b[0] = 'c';
	CHECK_STR(parse(text), "a@x,");
}

/* A pending batch (its Maildir directory not synced yet) counts during this boot and says so;
 * sealed for another boot it counts nothing. */
static void test_pending(void)
{
	xbuf b;
	xbuf_init(&b, pool_scratch);
	xbuf_puts(&b, "a@x\n");
	journal_seal_pending(&b, ID, sv_make(b.p, b.len));
	char text[256];
	memcpy(text, b.p, b.len);
	text[b.len] = 0;
	bool pending = false;
	got[0] = 0;
	CHECK(journal_parse(sv_cstr(text), ID, add, NULL, &pending) == (journal_boot_id()[0] ? 1u : 0u));
	if (journal_boot_id()[0]) {
		CHECK_STR(got, "a@x,");
		CHECK(pending);
	}
	/* The same line from another boot: the boot id differs in one character. */
	char *sp = strrchr(text, ' ');
	CHECK(sp != NULL);
	sp[1] = sp[1] == '0' ? '1' : '0';
	pending = false;
	CHECK_STR(parse(text), "");
	CHECK(journal_parse(sv_cstr(text), ID, add, NULL, &pending) == 0 && !pending);
	/* A plain seal is not pending. */
	CHECK(journal_parse(sv_cstr(sealed(ID, "b@y\n@SEAL@")), ID, add, NULL, &pending) == 1 && !pending);
}

/* A pending batch names the directories its delivery left unsynced ("#D" lines, inside the
 * seal): they are not addresses, and a reader that relies on the batch syncs just those. */
static void test_pending_dirs(void)
{
	if (!journal_boot_id()[0])
		return;
	char dir[] = "/tmp/journal-seal-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	xbuf b;
	xbuf_init(&b, pool_scratch);
	xbuf_puts(&b, "a@x\nb@y\n");
	const char *dirs[] = { dir, dir };
	journal_seal_pending_dirs(&b, dirs, 1);
	journal_seal_pending(&b, ID, sv_make(b.p, b.len));
	char text[512];
	memcpy(text, b.p, b.len);
	text[b.len] = 0;
	CHECK(strstr(text, "#D /tmp/journal-seal-") != NULL);
	bool pending = false;
	got[0] = 0;
	CHECK(journal_parse(sv_cstr(text), ID, add, NULL, &pending) == 2 && pending);
	CHECK_STR(got, "a@x,b@y,");
	CHECK(journal_sync_pending(sv_cstr(text), ID) == 1);
	/* A directory that is gone: everything is synced instead. */
	rmdir(dir);
	CHECK(journal_sync_pending(sv_cstr(text), ID) == -1);
	/* A pending batch without directories (an older writer): everything. */
	xbuf_reset(&b);
	xbuf_puts(&b, "c@z\n");
	journal_seal_pending(&b, ID, sv_make(b.p, b.len));
	CHECK(journal_sync_pending(sv_make(b.p, b.len), ID) == -1);
	/* A changed directory line breaks the seal: the batch counts for nothing. */
	char *d = strstr(text, "#D /tmp/");
	d[4] = 'X';
	CHECK_STR(parse(text), "");
}

int main(void)
{
	RUN(test_table);
	RUN(test_tampered);
	RUN(test_pending);
	RUN(test_pending_dirs);
	return unit_report("journal_seal");
}
