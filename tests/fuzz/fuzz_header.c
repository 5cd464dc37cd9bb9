/* Fuzz the header-field helpers (src/mail/header.h) and the message reader that feeds them
 * (src/core/receive_data.h; pure: the body goes to a memory sink).
 *
 * Invariants: the field splitter makes progress and its fields concatenate back to the block;
 * a field's name and body lie inside it; unfolding leaves no line break followed by a blank.
 * The reader gives the same header block, body, counts and stopping point whether the input
 * comes in one piece or split at a point the input chooses; every header field it collects
 * starts like a header (or continues one) and ends with a newline; the body line count is the
 * number of newlines in the body; every size counted is the sum of what was produced. The
 * MIME walker over the same text ends, stays within MIME_MAX_PARTS and MIME_MAX_DEPTH, and
 * every part's header and body views lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/receive_data.h"
#include "fuzz_check.h"
#include "mail/header.h"
#include "mail/mime.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

typedef struct membuf {
	char *p;
	size_t n, cap;
} membuf;

static bool mem_sink(void *ctx, const char *p, size_t n)
{
	membuf *b = ctx;
	if (b->n + n > b->cap) {
		size_t cap = (b->n + n) * 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return true;
}

typedef struct run {
	membuf body;
	rx_reader r;
	size_t consumed;
	receive_status st;
} run;

static void read_all(run *out, arena *a, receive_input how, const rx_limits *lim, const uint8_t *data,
	size_t size, size_t split)
{
	memset(out, 0, sizeof *out);
	rx_init(&out->r, a, how, lim, mem_sink, &out->body);
	const char *p = (const char *)data;
	size_t pos = 0, used = 0;
	receive_status st = RECV_MORE;
	if (split > 0 && split < size) {
		st = rx_feed(&out->r, p, split, &used);
		pos = used;
	}
	if (st == RECV_MORE && pos < size) {
		st = rx_feed(&out->r, p + pos, size - pos, &used);
		pos += used;
	}
	if (st == RECV_MORE && how != RECV_SMTP_DATA)
		st = rx_finish(&out->r);
	out->consumed = pos;
	out->st = st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static arena *a;
	if (!a) {
		arena_init_pools();
		a = arena_new("fuzz");
	}
	arena_mark mk = arena_getmark(a);

	/* The field helpers over the raw input. */
	sv block = sv_make((const char *)data + 2, size - 2);
	size_t pos = 0, prev = 0, total = 0, n = 0;
	sv f;
	while (hdr_next_field(block, &pos, &f)) {
		CHECK(pos > prev);
		CHECK(f.p == block.p + prev && f.len == pos - prev);
		total += f.len;
		prev = pos;
		sv name = hdr_field_name(f), body = hdr_field_body(f);
		CHECK(name.len == 0 || (name.p == f.p && name.len < f.len));
		CHECK(body.p >= f.p && body.p + body.len <= f.p + f.len);
		xbuf u;
		xbuf_init(&u, a);
		hdr_unfold(body, &u);
		for (size_t i = 0; i + 1 < u.len; i++)
			CHECK(!(u.p[i] == '\n' && (u.p[i + 1] == ' ' || u.p[i + 1] == '\t')));
		if (++n > 64)
			break;
		xbuf addrs;
		xbuf_init(&addrs, a);
		size_t bad = 0, k = hdr_addresses(body, &addrs, &bad);
		size_t nuls = 0;
		for (size_t i = 0; i < addrs.len; i++)
			nuls += addrs.p[i] == '\0';
		CHECK(nuls == k);
	}
	CHECK(n > 64 || total == block.len);

	/* The MIME walker: the input split at its first empty line into headers and body. */
	{
		const char *blank = memmem(block.p, block.len, "\n\n", 2);
		sv mh = blank ? sv_make(block.p, (size_t)(blank - block.p) + 1) : block;
		sv mb = blank ? sv_make(blank + 2, block.len - (size_t)(blank + 2 - block.p)) : sv_make(block.p + block.len, 0);
		mime_iter it;
		mime_begin(&it, a, mh, mb);
		mime_part part;
		int parts = 0;
		while (mime_next(&it, &part)) {
			CHECK(++parts <= MIME_MAX_PARTS);
			CHECK(part.depth < MIME_MAX_DEPTH);
			CHECK(part.part_count >= 0);
			CHECK(part.body.len == 0 || (part.body.p >= block.p && part.body.p + part.body.len <= block.p + block.len));
			CHECK(part.headers.len == 0 || (part.headers.p >= block.p && part.headers.p + part.headers.len <= block.p + block.len));
		}
	}

	/* The reader: mode and split point from the first two bytes. */
	static const receive_input modes[] = { RECV_SMTP_DATA, RECV_SMTP_BDAT, RECV_LOCAL_DOT, RECV_LOCAL_EOF };
	receive_input how = modes[data[0] & 3];
	rx_limits lim = { 0, 0, 0 };
	if (data[0] & 4)
		lim.size_limit = 64;
	if (data[0] & 8)
		lim.header_line_max = 16;
	if (data[0] & 16)
		lim.header_maxsize = 32;
	size_t split = data[1] % (size - 1);
	const uint8_t *in = data + 2;
	size_t inlen = size - 2;
	run one, two;
	read_all(&one, a, how, &lim, in, inlen, 0);
	read_all(&two, a, how, &lim, in, inlen, split);
	bool local_big = (how == RECV_LOCAL_DOT || how == RECV_LOCAL_EOF) && one.st == RECV_TOO_BIG;
	CHECK(one.st == two.st);
	if (!local_big) {
		CHECK(one.consumed == two.consumed);
		CHECK(one.r.size == two.r.size);
	}
	CHECK(one.consumed <= inlen);
	if (one.st == RECV_END) {
		CHECK(one.r.headers.len == two.r.headers.len);
		CHECK(one.r.headers.len == 0 || memcmp(one.r.headers.p, two.r.headers.p, one.r.headers.len) == 0);
		CHECK(one.body.n == two.body.n);
		CHECK(one.body.n == 0 || memcmp(one.body.p, two.body.p, one.body.n) == 0);
		CHECK(one.r.body_linecount == two.r.body_linecount);
		CHECK(one.r.max_linelength == two.r.max_linelength);
		long long nl = 0, zeros = 0;
		for (size_t i = 0; i < one.body.n; i++) {
			nl += one.body.p[i] == '\n';
			zeros += one.body.p[i] == '\0';
		}
		/* A first line that is not a header moves to the body as ONE line even when bare CRs
		 * in it became "\n " continuations (Exim 4.96's count, receive_data.c
		 * end_header_block), so the body may hold more newlines than it counts. */
		CHECK(one.r.body_linecount <= nl && zeros == one.r.body_zerocount);
		CHECK(one.body.n == 0 || one.body.p[one.body.n - 1] == '\n');
		CHECK((long long)one.body.n == one.r.body_size);
		sv hb = xbuf_sv(&one.r.headers);
		CHECK(hb.len == 0 || hb.p[hb.len - 1] == '\n');
		size_t hp = 0;
		sv hf;
		bool first = true;
		while (hdr_next_field(hb, &hp, &hf)) {
			CHECK(hdr_is_field_start(hf.p, hf.len) || (!first && (hf.p[0] == ' ' || hf.p[0] == '\t')));
			first = false;
		}
		/* Size: header block, the blank line when there was a body or one was read, body. */
		CHECK(one.r.size >= (long long)(hb.len + one.body.n));
		CHECK(one.r.size <= (long long)(hb.len + one.body.n) + 1);
	}
	free(one.body.p);
	free(two.body.p);
	arena_reset(a, mk);
	return 0;
}
