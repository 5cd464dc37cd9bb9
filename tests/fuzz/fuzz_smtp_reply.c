/* Fuzz the SMTP client against arbitrary server bytes: the reply-line parser on every line, the
 * bounded reply reader on the whole input, and a complete conversation (greeting, EHLO with
 * the extensions it offers, AUTH without authenticators, MAIL/RCPT/DATA or BDAT, QUIT) whose
 * server side is the input, through a memory layer under the engine's buffers.
 *
 * Invariants: a parsed code is three digits; a reply's text is tainted, no longer than its
 * limits allow, and made of well-formed lines; every recipient ends OK, DEFER or FAIL, with a
 * text; a connection that failed is not usable. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "lib/arena.h"
#include "smtp/client.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

typedef struct mem {
	const uint8_t *p;
	size_t n, off;
} mem;

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	mem *m = ctx;
	size_t k = m->n - m->off;
	if (k > n) k = n;
	if (k > 300) k = 300;  /* several reads per reply */
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

static ssize_t mem_write(void *ctx, const void *buf, size_t n)
{
	(void)ctx;
	(void)buf;
	return (ssize_t)n;
}

/* Always "something pending": at the end, read() returns 0 and the engine sees EOF at once
 * instead of waiting on a descriptor. */
static size_t mem_pending(void *ctx)
{
	(void)ctx;
	return 1;
}

static ssize_t body_read(void *ctx, char *buf, size_t n)
{
	const char **p = ctx;
	size_t k = strlen(*p);
	if (k > n) k = n;
	memcpy(buf, *p, k);
	*p += k;
	return (ssize_t)k;
}

static bool body_rewind(void *ctx)
{
	const char **p = ctx;
	*p = "Subject: x\n\n.dot\nbody\n";
	return true;
}

static arena *fa;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536) return 0;
	if (!fa) {
		arena_init_pools();
		fa = arena_new("fuzz");
	}

	/* Each line on its own. */
	size_t start = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n') continue;
		sv line = sv_make((const char *)data + start, i - start);
		int code = -1;
		bool last = false;
		if (smtpc_parse_reply_line(line, &code, &last)) {
			CHECK(code >= 0 && code <= 999);
			CHECK(line.len >= 3);
			CHECK(last == (line.len == 3 || line.p[3] == ' '));
		}
		start = i + 1;
	}

	/* The reader over the whole input. */
	mem m = { data, size, 0 };
	bio_layer layer = { mem_read, mem_write, mem_pending, &m };
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0) return 0;
	bio io;
	bio_init(&io, fd, fd);
	bio_set_layer(&io, &layer);
	smtpc_reply r;
	xbuf_init(&r.text, fa);
	for (int n = 0; n < 1000; n++) {
		smtpc_read_rc rc = smtpc_read_reply(&io, &r, 1000);
		if (rc != SMTPC_READ_OK) break;
		CHECK(r.text.taint == 1);
		CHECK(r.code >= 0 && r.code <= 999);
		CHECK(r.text.len <= (size_t)(SMTPC_LINE_MAX + 2) * (SMTPC_REPLY_LINES_MAX + 1));
		int code;
		bool last;
		CHECK(smtpc_parse_reply_line(xbuf_sv(&r.text), &code, &last) && code == r.code);
	}
	close(fd);

	/* A whole conversation with the input as the server. */
	m.off = 0;
	smtpc_options o = { .helo_name = SV_LIT("client.test"), .connect_timeout = 1, .command_timeout = 1,
		.data_timeout = 1, .final_timeout = 1, .try_chunking = size & 1, .try_auth = true,
		.max_rcpt = 1 + (size & 2 ? 1 : 0), .size_addition = 1024, .lmtp = (size % 7) == 0, .layer = &layer };
	smtpc_host h = { SV_LIT("mx.test"), SV_LIT("192.0.2.1"), 25 };
	fd = open("/dev/null", O_RDWR);
	if (fd < 0) return 0;
	smtpc_conn *c = smtpc_connect_fd(fa, &o, &h, fd);
	CHECK(c->status == SMTPC_OK || (!c->usable && c->message.len > 0));
	const char *body = "Subject: x\n\n.dot\nbody\n";
	smtpc_message msg = { .sender = SV_LIT("s@a.test"), .size = 21, .linecount = 3, .read = body_read,
		.rewind = body_rewind, .read_ctx = &body, .smtputf8 = (size % 5) == 0 };
	smtpc_rcpt rc[3] = { { .address = SV_LIT("a@b") }, { .address = SV_LIT("c@d"), .dsn_flags = MSG_DSN_NEVER },
		{ .address = SV_LIT("e@f"), .orcpt = SV_LIT("rfc822;e@f") } };
	smtpc_send(c, &msg, rc, 3);
	for (int i = 0; i < 3; i++) {
		CHECK(rc[i].status == SMTPC_OK || rc[i].status == SMTPC_DEFER || rc[i].status == SMTPC_FAIL);
		CHECK(rc[i].message.len > 0 || rc[i].status == SMTPC_OK);
	}
	smtpc_close(c);
	CHECK(!c->usable);
	arena_clear(fa);
	return 0;
}
