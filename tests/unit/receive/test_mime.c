/* The MIME part walker (src/mail/mime.h): order, counts, flags and values as Exim 4.96's MIME
 * ACL showed them for the same messages (logwrite of the $mime_* variables). */
#include "mail/mime.h"
#include "../unit.h"

typedef struct want {
	const char *type, *charset, *filename, *boundary, *disp, *cte, *cid, *desc;
	int multipart, rfc822, cover, count;
} want;

static void walk(const char *headers, const char *body, const want *w, size_t n)
{
	mime_iter it;
	mime_begin(&it, pool_scratch, sv_cstr(headers), sv_cstr(body));
	mime_part p;
	size_t i = 0;
	while (mime_next(&it, &p)) {
		if (i >= n) {
			i++;
			continue;
		}
		CHECK_STR(sv_dup(pool_scratch, p.content_type), w[i].type);
		CHECK_STR(sv_dup(pool_scratch, p.charset), w[i].charset);
		CHECK_STR(sv_dup(pool_scratch, p.filename), w[i].filename);
		CHECK_STR(sv_dup(pool_scratch, p.boundary), w[i].boundary);
		CHECK_STR(sv_dup(pool_scratch, p.disposition), w[i].disp);
		CHECK_STR(sv_dup(pool_scratch, p.transfer_encoding), w[i].cte);
		CHECK_STR(sv_dup(pool_scratch, p.content_id), w[i].cid);
		CHECK_STR(sv_dup(pool_scratch, p.description), w[i].desc);
		CHECK_INT(p.is_multipart, w[i].multipart);
		CHECK_INT(p.is_rfc822, w[i].rfc822);
		CHECK_INT(p.is_coverletter, w[i].cover);
		CHECK_INT(p.part_count, w[i].count);
		i++;
	}
	CHECK_INT(i, n);
}

static void test_nested(void)
{
	static const want w[] = {
		{ "multipart/mixed", "", "", "XYZ", "", "", "", "", 1, 0, 1, 0 },
		{ "text/plain", "UTF-8", "", "", "", "quoted-printable", "", "", 0, 0, 1, 1 },
		{ "application/octet-stream", "", "a.bin", "", "attachment", "base64", "<cid1@x>", "somedata", 0, 0, 0, 2 },
		{ "message/rfc822", "", "", "", "", "", "", "", 0, 0, 0, 3 },
		{ "text/plain", "", "", "", "", "", "", "", 0, 0, 0, 4 },
		/* Exim walks the attached message after the whole outer one. */
		{ "text/plain", "", "", "", "", "", "", "", 0, 1, 1, 0 },
	};
	walk("Subject: m\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n",
		"preamble\n--XYZ\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
		"hello =C3=A9\n--XYZ\nContent-Type: application/octet-stream; name=\"a.bin\"\n"
		"Content-Disposition: attachment; filename=\"a.bin\"\nContent-Transfer-Encoding: base64\n"
		"Content-ID: <cid1@x>\nContent-Description: some data\n\nAAECAwQ=\n--XYZ\nContent-Type: message/rfc822\n\n"
		"Subject: inner\nContent-Type: text/plain\n\ninner body\n--XYZ\nContent-Type: text/plain\n\nafter\n--XYZ--\nepilogue\n",
		w, sizeof w / sizeof w[0]);
}

static void test_normalising(void)
{
	static const want w[] = {
		{ "multipart/mixed", "", "", "abc", "", "", "", "", 1, 0, 1, 0 },
		{ "text/plain", "ISO-8859-1 (c)", "my file.txt", "", "inline", "quoted-printable", "", "\"quoteddesc\"x", 0, 0, 1, 1 },
		{ "application/pdf", "", "r\xc3\xa9sum\xc3\xa9.pdf", "", "attachment", "", "", "", 0, 0, 0, 2 },
		{ "multipart/alternative", "", "", "inner", "", "", "", "", 1, 0, 0, 3 },
		{ "text/plain", "", "", "", "", "", "", "", 0, 0, 0, 4 },
		{ "text/html", "", "", "", "", "", "", "", 0, 0, 0, 5 },
		{ "", "", "na\xc3\xafve.txt", "", "attachment", "", "", "", 0, 0, 0, 6 },
	};
	walk("Subject: m\nContent-Type: Multipart/Mixed (comment); Boundary=abc\n",
		"--abc\nContent-Type: TEXT/Plain; Charset=\"ISO-8859-1\" (c)\nContent-Transfer-Encoding: Quoted-Printable\n"
		"Content-Description: \"quoted desc\" (cmt) x\nContent-Disposition: INLINE; filename=\"my file.txt\"\n\nx\n"
		"--abc\nContent-Type: application/pdf; name=\"=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?=\"\nContent-Disposition: attachment\n\ny\n"
		"--abc\nContent-Type: multipart/alternative; boundary=\"inner\"\n\n--inner\nContent-Type: text/plain\n\na\n"
		"--inner\nContent-Type: text/html\n\nb\n--inner--\n--abc\n"
		"Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve.txt\n\nz\n--abc--\n",
		w, sizeof w / sizeof w[0]);
}

/* Alternative parts of a cover letter are cover letters; a part's body excludes the line end
 * before the next boundary. */
static void test_alternative_and_bodies(void)
{
	mime_iter it;
	mime_begin(&it, pool_scratch, sv_cstr("Content-Type: multipart/alternative; boundary=b\n"),
		sv_cstr("--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n"));
	mime_part p;
	int n = 0;
	const char *bodies[] = { NULL, "plain", "<p>x</p>" };
	while (mime_next(&it, &p)) {
		CHECK(p.is_coverletter);
		if (n > 0 && n < 3)
			CHECK_STR(sv_dup(pool_scratch, p.body), bodies[n]);
		n++;
	}
	CHECK_INT(n, 3);
}

/* A boundary line only has to start with "--boundary" (Exim 4.96 takes "--b12" for b1). */
static void test_boundary_prefix(void)
{
	mime_iter it;
	mime_begin(&it, pool_scratch, sv_cstr("Content-Type: multipart/mixed; boundary=b1\n"),
		sv_cstr("--b1\nContent-Type: text/plain\n\none\n--b12\nContent-Type: text/html\n\ntwo\n--b1 \n"
			"Content-Type: image/png\n\nthree\n--b1--\n"));
	mime_part p;
	const char *types[] = { "multipart/mixed", "text/plain", "text/html", "image/png" };
	int n = 0;
	while (mime_next(&it, &p)) {
		if (n < 4)
			CHECK_STR(sv_dup(pool_scratch, p.content_type), types[n]);
		n++;
	}
	CHECK_INT(n, 4);
}

/* Bounds: deep nesting is not entered past MIME_MAX_DEPTH; a multipart without its boundary
 * has no parts. */
static void test_bounds(void)
{
	xbuf h, b;
	xbuf_init(&h, pool_scratch);
	xbuf_init(&b, pool_scratch);
	xbuf_puts(&h, "Content-Type: multipart/mixed; boundary=b000\n");
	for (int i = 1; i < 60; i++)
		xbuf_printf(&b, "--b%03d\nContent-Type: multipart/mixed; boundary=b%03d\n\n", i - 1, i);
	mime_iter it;
	mime_begin(&it, pool_scratch, xbuf_sv(&h), xbuf_sv(&b));
	mime_part p;
	int n = 0, maxdepth = 0;
	while (mime_next(&it, &p)) {
		n++;
		if (p.depth > maxdepth)
			maxdepth = p.depth;
	}
	CHECK(maxdepth < MIME_MAX_DEPTH);
	CHECK(n <= MIME_MAX_DEPTH + 1);
	mime_begin(&it, pool_scratch, sv_cstr("Content-Type: multipart/mixed\n"), sv_cstr("--x\n\nbody\n"));
	n = 0;
	while (mime_next(&it, &p))
		n++;
	CHECK_INT(n, 1);
}

int main(void)
{
	arena_init_pools();
	RUN(test_nested);
	RUN(test_normalising);
	RUN(test_alternative_and_bodies);
	RUN(test_boundary_prefix);
	RUN(test_bounds);
	return unit_report("test_mime");
}
