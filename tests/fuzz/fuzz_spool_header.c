/* Fuzz the -H reader (spool_parse_header_ex) and the writer on what it accepts.
 *
 * Invariants: a rejected file gets a message naming the line ("<file>: line N: ..."); an
 * accepted one re-formats (spool_format_header) into a file that is accepted again with the
 * same envelope: sender, recipient count, non-recipients, ACL variables (names and values) and
 * header texts and types. (The byte order of ACL variables may change on the first rewrite, as
 * it does when Exim rewrites a file: both re-insert them into a balanced tree in file order.)
 *
 * The integrity line (core/spool_integrity.h): whatever the input, the check decides without
 * crashing (NONE exactly when there is no line; BAD always says why); and the re-formatted file
 * with a line for a -D (here: the input bytes) is, read in another boot, OK against that -D. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/spool.h"
#include "core/spool_integrity.h"
#include "lib/crc64.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static arena *A;
static int dfd = -1; /* stands for the -D file */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	arena_init_pools();
	A = arena_new("fuzz-spool");
	arena_alloc(A, 1);
	dfd = memfd_create("fuzz-spool-D", 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	arena_mark mark = arena_getmark(A);
	message m, m2;
	msg_origin o, o2;
	spool_parse_info info;
	xbuf err, out;
	xbuf_init(&err, A);
	xbuf_init(&out, A);
	if (!spool_parse_header_ex(A, "f", NULL, sv_make((const char *)data, size), &m, &o, &info, &err)) {
		CHECK(strncmp(xbuf_cstr(&err), "f: line ", 8) == 0);
		arena_reset(A, mark);
		return 0;
	}
	CHECK(info.envelope_read);
	if (dfd >= 0 && ftruncate(dfd, 0) == 0 && pwrite(dfd, data, size, 0) == (ssize_t)size) {
		xbuf why;
		xbuf_init(&why, A);
		spool_integrity r = spool_integrity_check(&info, dfd, &why);
		CHECK((r == SPOOL_INTEGRITY_NONE) == (info.sum_len == 0));
		CHECK(r != SPOOL_INTEGRITY_BAD || why.len > 0);
	}
	spool_format_header(&m, &out);
	xbuf_reset(&err);
	bool ok = spool_parse_header_ex(A, "g", NULL, xbuf_sv(&out), &m2, &o2, NULL, &err);
	if (!ok)
		fprintf(stderr, "reparse: %s\n", xbuf_cstr(&err));
	CHECK(ok);
	CHECK(strcmp(m.id, m2.id) == 0);
	CHECK(sv_eq(m.sender, m2.sender) || memchr(m.sender.p, '\n', m.sender.len));
	CHECK(m.nrcpt == m2.nrcpt);
	CHECK(m.nnonrcpt == m2.nnonrcpt);
	for (size_t i = 0; i < m.nnonrcpt; i++) /* same tree shape: same pre-order */
		CHECK(sv_eq(m.nonrcpt[i], m2.nonrcpt[i]));
	size_t nv = 0;
	for (const msg_aclvar *v = m.aclvars; v; v = v->next, nv++) {
		const msg_aclvar *w = message_get_aclvar(&m2, v->name);
		CHECK(w && sv_eq(w->value, v->value) && w->value.taint == v->value.taint);
	}
	for (const msg_aclvar *v = m2.aclvars; v; v = v->next)
		nv--;
	CHECK(nv == 0);
	const msg_header *h = m.headers, *h2 = m2.headers;
	for (; h && h2; h = h->next, h2 = h2->next)
		CHECK(h->type == h2->type && sv_eq(h->text, h2->text));
	CHECK(!h && !h2);
	CHECK(m.size == m2.size);
	/* With a line for the input as -D, read "after a restart": OK. */
	if (dfd >= 0 && !memchr(m.sender.p, '\n', m.sender.len) &&
		spool_integrity_insert(&out, size, crc64(data, size))) {
		char *line = memmem(out.p, out.len, "\n-postern_sum ", 14);
		CHECK(line != NULL);
		memcpy(line + 14, "00000000-1111-2222-3333-444444444444", 36);
		xbuf_reset(&err);
		spool_parse_info info3;
		message m3;
		msg_origin o3;
		CHECK(spool_parse_header_ex(A, "h", NULL, xbuf_sv(&out), &m3, &o3, &info3, &err));
		xbuf why;
		xbuf_init(&why, A);
		CHECK(spool_integrity_check(&info3, dfd, &why) == SPOOL_INTEGRITY_OK);
	}
	arena_reset(A, mark);
	return 0;
}
