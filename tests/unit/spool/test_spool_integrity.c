/* The spool's integrity line (core/spool_integrity.h) and CRC-64 (lib/crc64.h): what a reader
 * after a restart decides for files as written, and for each way a crash can leave them. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/spool.h"
#include "core/spool_integrity.h"
#include "lib/crc64.h"
#include "unit.h"

static void test_crc64(void)
{
	static const struct { const char *in; unsigned long long want; } t[] = {
		{ "123456789", 0x995dc9bbdf1939faULL }, /* the catalogue's check value */
		{ "", 0 },
		{ "a", 0x330284772e652b05ULL },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		CHECK(crc64(t[i].in, strlen(t[i].in)) == t[i].want);
	/* In pieces of every length = in one piece (the slice-by-8 path and the byte path). */
	char buf[1000];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 7 + 3);
	uint64_t whole = crc64(buf, sizeof buf);
	int bad = 0;
	for (size_t cut = 0; cut <= sizeof buf; cut += 13) {
		uint64_t c = crc64_update(crc64_init(), buf, cut);
		c = crc64_update(c, buf + cut, sizeof buf - cut);
		bad += crc64_final(c) != whole;
	}
	CHECK_INT(bad, 0);
}

static const char header_text[] =
	"1xV1zS-0001Vg-2b-H\n"
	"mail 8 8\n"
	"<a@b.example>\n"
	"1795332478 0\n"
	"-received_time_usec .807516\n"
	"-ident mail\n"
	"XX\n"
	"1\n"
	"d@e.example\n"
	"\n"
	"012  Subject: hi\n";

static const char data_text[] = "1xV1zS-0001Vg-2b-D\nbody line\n";

typedef struct {
	char hpath[64], dpath[64];
	int dfd;
	xbuf h;
} files;

/* -H text with the line (for this boot, or with the boot id replaced by `boot`), and -D. */
static void make(files *f, const char *boot, const char *data)
{
	snprintf(f->dpath, sizeof f->dpath, "/tmp/postern-integrity-%d-D", (int)getpid());
	xbuf_init(&f->h, NULL);
	xbuf_puts(&f->h, header_text);
	CHECK(spool_integrity_insert(&f->h, strlen(data_text), crc64(data_text, strlen(data_text))));
	if (boot) {
		char *p = strstr(f->h.p, "-postern_sum ");
		CHECK(p != NULL);
		if (p)
			memcpy(p + 13, boot, 36);
	}
	f->dfd = open(f->dpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(f->dfd >= 0);
	CHECK(write(f->dfd, data, strlen(data)) == (ssize_t)strlen(data));
}

static spool_integrity check(files *f, char *why, size_t why_size)
{
	message m;
	msg_origin o;
	spool_parse_info info;
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = spool_parse_header_ex(pool_msg, "f", "1xV1zS-0001Vg-2b", xbuf_sv(&f->h), &m, &o, &info, &err);
	CHECK_STR(ok ? "" : xbuf_cstr(&err), "");
	xbuf w;
	xbuf_init(&w, NULL);
	spool_integrity r = spool_integrity_check(&info, f->dfd, &w);
	snprintf(why, why_size, "%s", xbuf_cstr(&w));
	/* The line does not change what is read: the recipients and the header are all there. */
	CHECK_INT(m.nrcpt, 1);
	xbuf_free(&w);
	xbuf_free(&err);
	return r;
}

static void done(files *f)
{
	close(f->dfd);
	unlink(f->dpath);
	xbuf_free(&f->h);
}

static const char other_boot[] = "00000000-1111-2222-3333-444444444444";

static void test_decisions(void)
{
	CHECK(spool_boot_id() != NULL);
	char why[200];
	files f;

	/* The line is the fifth line; this boot: nothing to check, whatever -D holds. */
	make(&f, NULL, "garbage");
	CHECK(strncmp(strstr(f.h.p, "-postern_sum "), "-postern_sum ", 13) == 0);
	CHECK(strstr(f.h.p, "1795332478 0\n-postern_sum ") != NULL);
	CHECK_INT(check(&f, why, sizeof why), SPOOL_INTEGRITY_SAME);
	done(&f);

	/* After a restart, both files as written. */
	make(&f, other_boot, data_text);
	CHECK_INT(check(&f, why, sizeof why), SPOOL_INTEGRITY_OK);
	done(&f);

	/* -D shorter (its data never reached the disk, the size did not either). */
	make(&f, other_boot, "1xV1zS-0001Vg-2b-D\nbody");
	CHECK_INT(check(&f, why, sizeof why), SPOOL_INTEGRITY_BAD);
	CHECK(strstr(why, "-D size") != NULL);
	done(&f);

	/* -D of the right size with zeros or older bytes. */
	make(&f, other_boot, "1xV1zS-0001Vg-2b-D\nbody lime\n");
	CHECK_INT(check(&f, why, sizeof why), SPOOL_INTEGRITY_BAD);
	CHECK_STR(why, "-D content differs from what was written");
	done(&f);

	/* -H itself not as written (a recipient changed). */
	make(&f, other_boot, data_text);
	char *r = strstr(f.h.p, "d@e.example");
	r[0] = 'x';
	CHECK_INT(check(&f, why, sizeof why), SPOOL_INTEGRITY_BAD);
	CHECK_STR(why, "-H content differs from what was written");
	done(&f);

	/* A damaged line. */
	make(&f, other_boot, data_text);
	char *s = strstr(f.h.p, "-postern_sum ");
	s[13 + 36 + 1] = 'x';
	CHECK_INT(check(&f, why, sizeof why), SPOOL_INTEGRITY_BAD);
	CHECK_STR(why, "malformed integrity line");
	done(&f);

	/* No line (Exim wrote it, or a rewrite): nothing to check. */
	files g = { .dfd = -1 };
	xbuf_init(&g.h, NULL);
	xbuf_puts(&g.h, header_text);
	CHECK_INT(check(&g, why, sizeof why), SPOOL_INTEGRITY_NONE);
	xbuf_free(&g.h);

	/* Too short a text gets no line (the caller commits in Exim's order). */
	xbuf t;
	xbuf_init(&t, NULL);
	xbuf_puts(&t, "a\nb\nc\n");
	CHECK(!spool_integrity_insert(&t, 0, 0));
	CHECK_STR(xbuf_cstr(&t), "a\nb\nc\n");
	xbuf_free(&t);
}

int main(void)
{
	arena_init_pools();
	RUN(test_crc64);
	RUN(test_decisions);
	return unit_report("test_spool_integrity");
}
