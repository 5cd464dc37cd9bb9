/* Fuzz list matching (match_isinlist): a subject against a domain, local part, address, host or
 * plain string list. Input: one byte choosing the kind (low 3 bits) and caselessness (bit 3),
 * then the subject, a NUL, and the list. The built-in default configuration is loaded (so
 * "+local_domains" exists) and the sandbox refuses file items and lookups' files.
 *
 * Invariants, from the rule that the first matching item decides and an unmatched subject is in
 * the list only when the last item was negated: a deferral has a message; and, for a list with
 * the default separator, if L gives OK then "L : *" gives OK, if L gives FAIL then "L : !*"
 * gives FAIL, and if L defers then so does "L : *" (not for an address list and a subject
 * without '@', where no item can match and only the negation rule decides, as in Exim; nor for
 * plain string lists, where "*" is a literal); and the answer is the same when asked again
 * (named-list and lookup caches must not change it). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"
#include "fuzz_check.h"
#include "fuzz_sandbox.h"
#include "lib/arena.h"
#include "search/match.h"
#include "search/search.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	arena_init_pools();
	arena_alloc(pool_scratch, 1);
	xbuf err;
	xbuf_init(&err, NULL);
	fuzz_sandbox_enter();
	bool ok = conf_load(NULL, NULL, 0, &err);
	fuzz_sandbox_leave();
	if (!ok) {
		fprintf(stderr, "fuzz_match: default configuration failed: %s\n", xbuf_cstr(&err));
		abort();
	}
	xbuf_free(&err);
	return 0;
}

static int match(sv subject, sv list, enum match_kind kind, bool caseless, xbuf *err)
{
	match_ctx ctx = { .primary_hostname = "mail.example.com", .host_name = "host.example.com" };
	xbuf_reset(err);
	int rc = match_isinlist(subject, list, 0, kind, caseless, &ctx, err);
	match_tidyup();
	search_tidyup();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 8192)
		return 0;
	static const enum match_kind kinds[8] = { MATCH_DOMAIN, MATCH_LOCALPART, MATCH_ADDRESS, MATCH_HOST,
		MATCH_STRING, MATCH_DOMAIN, MATCH_ADDRESS, MATCH_HOST };
	enum match_kind kind = kinds[data[0] & 7];
	bool caseless = data[0] & 8;
	const char *body = (const char *)data + 1;
	size_t blen = size - 1;
	const char *nul = memchr(body, 0, blen);
	if (!nul)
		return 0;
	sv subject = sv_make(body, (size_t)(nul - body));
	sv list = sv_make(nul + 1, blen - subject.len - 1);

	fuzz_sandbox_enter();
	arena_mark mark = arena_getmark(pool_scratch);
	xbuf err, err2, longer;
	xbuf_init(&err, NULL);
	xbuf_init(&err2, NULL);
	xbuf_init(&longer, NULL);

	int rc = match(subject, list, kind, caseless, &err);
	CHECK(rc == SEARCH_OK || rc == SEARCH_FAIL || rc == SEARCH_DEFER);
	CHECK(rc != SEARCH_DEFER || err.len > 0);
	CHECK(match(subject, list, kind, caseless, &err2) == rc);

	sv t = sv_trim(list);
	bool plain = t.len && t.p[0] != '<' && t.p[t.len - 1] != ':' && !memchr(list.p, 0, list.len) &&
		kind != MATCH_STRING && !(kind == MATCH_ADDRESS && !memchr(subject.p, '@', subject.len));
	if (plain) {
		xbuf_putsv(&longer, list);
		xbuf_puts(&longer, rc == SEARCH_FAIL ? " : !*" : " : *");
		int rc2 = match(subject, xbuf_sv(&longer), kind, caseless, &err2);
		CHECK(rc2 == rc);
	}
	xbuf_free(&err);
	xbuf_free(&err2);
	xbuf_free(&longer);
	arena_reset(pool_scratch, mark);
	fuzz_sandbox_leave();
	return 0;
}
