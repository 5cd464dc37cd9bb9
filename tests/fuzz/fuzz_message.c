/* Fuzz message reading (xp_message_parse, as -bem) and the header and body variables that
 * expose message text to expansions ($h_, $rh_, $bh_, $message_headers, $message_body...), with
 * the decoding they do (RFC 2047 words, charsets, address lists).
 *
 * Invariants: every header name is non-empty text without ':' or white space and, like every
 * header text and the body, a piece of the input in order; the body is the input's tail; and
 * everything an expansion takes from the message is tainted (Exim 4.96 treats message data as
 * tainted, and postern's taint checks depend on that). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"
#include "expand/expand.h"
#include "expand/message.h"
#include "fuzz_check.h"
#include "fuzz_sandbox.h"
#include "lib/arena.h"
#include "search/search.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static arena *A;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	arena_init_pools();
	A = arena_new("fuzz-message");
	arena_alloc(A, 1);
	xbuf err;
	xbuf_init(&err, NULL);
	fuzz_sandbox_enter();
	bool ok = conf_load(NULL, NULL, 0, &err);
	fuzz_sandbox_leave();
	if (!ok) {
		fprintf(stderr, "fuzz_message: default configuration failed: %s\n", xbuf_cstr(&err));
		abort();
	}
	xbuf_free(&err);
	return 0;
}

static bool inside(sv v, const uint8_t *data, size_t size)
{
	return v.len == 0 || ((const uint8_t *)v.p >= data && (const uint8_t *)v.p + v.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Expansions whose every non-empty result comes from the message. */
	static const char *const from_message[] = {
		"$h_subject:", "$rh_subject:", "$bh_subject:", "$h_from:", "$rh_to:", "$header_x-custom:",
		"${addresses:$h_to:}", "${address:$h_from:}", "${domain:$h_from:}", "$message_headers",
		"$message_headers_raw", "$message_body", "$message_body_end", "${rfc2047d:$rh_subject:}",
		"${lc:$h_subject:}", "${extract{1}{,}{$h_cc:}}",
	};
	if (size > 65536)
		return 0;
	arena_mark mark = arena_getmark(A);
	fuzz_sandbox_enter();
	xp_message m;
	xp_message_parse(A, sv_make((const char *)data, size), &m);

	const char *prev_end = (const char *)data;
	for (size_t i = 0; i < m.nheaders; i++) {
		sv name = m.headers[i].name, text = m.headers[i].text;
		CHECK(name.len > 0 && inside(name, data, size) && inside(text, data, size));
		CHECK(name.p >= prev_end);
		CHECK(name.p + name.len + 1 == text.p); /* "name:" then the text */
		for (size_t k = 0; k < name.len; k++)
			CHECK(name.p[k] != ':' && (unsigned char)name.p[k] > ' ');
		CHECK(name.taint && text.taint);
		prev_end = text.p + text.len;
	}
	CHECK(inside(m.body, data, size) && m.body.taint);
	CHECK(m.body.len == 0 || m.body.p + m.body.len == (const char *)data + size);
	CHECK(m.size == (long long)size);

	xbuf out, err;
	xbuf_init(&out, A);
	xbuf_init(&err, A);
	for (size_t i = 0; i < sizeof from_message / sizeof from_message[0]; i++) {
		xp_env env;
		xp_env_init(&env, A);
		env.forbid = RDO_LOOKUP | RDO_READFILE | RDO_READSOCK | RDO_RUN | RDO_PERL | RDO_DLFUNC | RDO_EXISTS;
		env.msg = &m;
		xbuf_reset(&out);
		xbuf_reset(&err);
		int rc = xp_expand(&env, sv_cstr(from_message[i]), &out, &err);
		CHECK(rc == XP_OK || rc == XP_FORCEFAIL || rc == XP_ERROR);
		if (rc == XP_OK && out.len > 0 && !out.taint) {
			fprintf(stderr, "untainted result of %s: \"%s\"\n", from_message[i], xbuf_cstr(&out));
			CHECK(out.taint);
		}
		xp_env_release(&env);
	}
	search_tidyup();
	fuzz_sandbox_leave();
	arena_reset(A, mark);
	return 0;
}
