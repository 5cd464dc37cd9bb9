/* Fuzz the -H reader (spool_parse_header_ex) and the writer on what it accepts.
 *
 * Invariants: a rejected file gets a message naming the line ("<file>: line N: ..."); an
 * accepted one re-formats (spool_format_header) into a file that is accepted again with the
 * same envelope: sender, recipient count, non-recipients, ACL variables (names and values) and
 * header texts and types. (The byte order of ACL variables may change on the first rewrite, as
 * it does when Exim rewrites a file: both re-insert them into a balanced tree in file order.) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/spool.h"
#include "fuzz_check.h"
#include "lib/arena.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static arena *A;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	arena_init_pools();
	A = arena_new("fuzz-spool");
	arena_alloc(A, 1);
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
	arena_reset(A, mark);
	return 0;
}
