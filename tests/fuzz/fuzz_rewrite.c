/* Fuzz the parsers of message data in the writer and rewriting: header lines through the
 * header rewriter (src/core/rewrite_headers.c) with a fixed rule set, rewrite rule text
 * (rewrite_parse), and the writer's line rules (tp_write_internal.h) over arbitrary bytes.
 *
 * Invariants: a rewritten header keeps its name and colon and ends with a newline when the input
 * did; a header whose name is not an address header is never rewritten; the line rules give the
 * same bytes whether the input comes in one piece or split where the input says; with no rule
 * in force the output is the input; with CRLF every LF is preceded by CR and the number of LFs
 * is unchanged; with dot-stuffing no line starts with a single dot followed by a non-dot where
 * the input had none. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rewrite.h"
#include "core/tp_write_internal.h"
#include "fuzz_check.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static const char rules_text[] =
	"*@*.hitch.example $1@hitch.example : "
	"fp42@hitch.example Ford.Prefect@hitch.example f : "
	"*@whole.example \"The Whole <whole@rewritten.example>\" w : "
	"\\N^(.*)@regex\\.example$\\N $1-r@regex.example";

static void xform_run(const uint8_t *data, size_t size, bool crlf, bool dot, const char *check,
	size_t split, xbuf *out)
{
	tp_write_opts o = { 0 };
	o.check_string = sv_cstr(check);
	o.escape_string = SV_LIT(">>");
	tpw_xform x;
	tpw_xform_init(&x, &o, crlf, dot);
	tpw_xform_section(&x, true);
	tpw_xform_feed(&x, (const char *)data, split, out);
	tpw_xform_feed(&x, (const char *)data + split, size - split, out);
	tpw_xform_flush(&x, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static arena *a;
	static const conf_rewrite_rule *rules;
	static xp_env env;
	if (!a) {
		arena_init_pools();
		a = arena_new("fuzz_rewrite");
		xbuf err;
		xbuf_init(&err, a);
		rules = rewrite_parse(pool_perm, rules_text, &err);
		if (!rules)
			abort();
		xp_env_init(&env, pool_scratch);
	}
	arena_mark mark = arena_getmark(a);
	arena_mark smark = arena_getmark(pool_scratch);
	if (size < 1)
		return 0;
	unsigned mode = data[0] % 3;
	const uint8_t *in = data + 1;
	size_t n = size - 1;

	if (mode == 0) {
		sv text = sv_make((const char *)in, n);
		sv out;
		const char *colon = memchr(in, ':', n);
		if (rewrite_header_line(a, rules, ' ', text, &env, &out)) {
			CHECK(colon != NULL);
			size_t nl = (size_t)(colon - (const char *)in) + 1;
			CHECK(out.len >= nl && memcmp(out.p, in, nl) == 0);
			CHECK(rewrite_header_flag(sv_make((const char *)in, nl - 1)) != 0);
			if (n && in[n - 1] == '\n')
				CHECK(out.len && out.p[out.len - 1] == '\n');
		}
	} else if (mode == 1) {
		xbuf err;
		xbuf_init(&err, a);
		char *text = arena_strndup(a, (const char *)in, n);
		const conf_rewrite_rule *r = rewrite_parse(a, text, &err);
		for (; r; r = r->next)
			CHECK(r->pattern && r->replacement);
	} else if (n >= 2) {
		unsigned opts = in[0];
		size_t split = in[1] % (n - 1);
		const uint8_t *body = in + 2;
		size_t bn = n - 2;
		if (split > bn)
			split = bn;
		const char *check = (opts & 4) ? "From " : (opts & 8) ? "." : "";
		xbuf one, two;
		xbuf_init(&one, a);
		xbuf_init(&two, a);
		xform_run(body, bn, opts & 1, opts & 2, check, 0, &one);
		xform_run(body, bn, opts & 1, opts & 2, check, split, &two);
		CHECK(one.len == two.len && memcmp(one.p, two.p, one.len) == 0);
		size_t lf_in = 0, lf_out = 0;
		for (size_t i = 0; i < bn; i++)
			lf_in += body[i] == '\n';
		for (size_t i = 0; i < one.len; i++) {
			lf_out += one.p[i] == '\n';
			if ((opts & 1) && one.p[i] == '\n')
				CHECK(i > 0 && one.p[i - 1] == '\r');
		}
		CHECK(lf_in == lf_out);
		if (!(opts & 3) && !*check)
			CHECK(one.len == bn && memcmp(one.p, body, bn) == 0);
	}
	arena_reset(a, mark);
	arena_reset(pool_scratch, smark);
	return 0;
}
