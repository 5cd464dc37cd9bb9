/* Fuzz the failure report builder (src/core/bounce*.c) over the parts that come from the
 * network: the original message's References and Message-ID headers, a remote server's reply,
 * greeting and EHLO response, the error text, ORCPT and ENVID. The input is split at NUL bytes
 * into those fields.
 *
 * Invariants: a report is always produced; it ends with the closing boundary; the References
 * header is one line; in the message/delivery-status part every line is empty, a "Name: value"
 * field or a continuation line (nothing from the network can start a field of its own); the
 * extra-information values are at most 900 bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bounce.h"
#include "fuzz_check.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

enum { F_REFS, F_MSGID, F_MESSAGE, F_REPLY, F_GREETING, F_HELO, F_ORCPT, F_ENVID, F_ADDRESS, F_COUNT };

static bool field_line(const char *p, size_t n)
{
	if (n == 0 || p[0] == ' ')
		return true;
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] == ':' && p[i + 1] == ' ')
			return i > 0;
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == '-'))
			return false;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		arena_init_pools();
		init = true;
	}
	sv f[F_COUNT];
	memset(f, 0, sizeof f);
	size_t start = 0;
	int k = 0;
	for (size_t i = 0; i <= size && k < F_COUNT; i++) {
		if (i == size || data[i] == 0) {
			f[k++] = (sv){ (const char *)data + start, i - start, 1, 0 };
			start = i + 1;
		}
	}
	arena_mark mark = arena_getmark(pool_msg);
	message *m = message_new(pool_msg);
	memcpy(m->id, "1xUjVI-0006zw-1N", MSG_ID_LEN + 1);
	m->sender = sv_cstr("alice@example.org");
	m->dsn_envid = f[F_ENVID];
	xbuf h;
	xbuf_init(&h, pool_msg);
	xbuf_puts(&h, "References: ");
	xbuf_putsv(&h, f[F_REFS]);
	xbuf_putc(&h, '\n');
	message_add_header(m, ' ', xbuf_sv(&h));
	xbuf_init(&h, pool_msg);
	xbuf_puts(&h, "Message-ID: ");
	xbuf_putsv(&h, f[F_MSGID]);
	xbuf_putc(&h, '\n');
	message_add_header(m, 'I', xbuf_sv(&h));

	address_item *a = arena_calloc(pool_msg, 1, sizeof *a);
	a->address = f[F_ADDRESS].len ? f[F_ADDRESS] : sv_cstr("bob@example.org");
	a->message = f[F_MESSAGE];
	a->smtp_response = f[F_REPLY];
	a->smtp_greeting = f[F_GREETING];
	a->helo_response = f[F_HELO];
	a->orcpt = f[F_ORCPT];
	a->host_used_name = sv_cstr("mx.example.net");
	a->host_used_address = sv_cstr("192.0.2.1");
	a->host_used_port = 2525;

	xbuf out, err;
	xbuf_init(&out, pool_msg);
	xbuf_init(&err, pool_msg);
	CHECK(bounce_format_failure(m, -1, a, m->sender, &out, &err));
	const char *t = xbuf_cstr(&out);
	static const char ct[] = "\nContent-Type: multipart/report; report-type=delivery-status; boundary=";
	const char *b = strstr(t, ct);
	CHECK(b != NULL);
	b += sizeof ct - 1;
	size_t blen = strcspn(b, "\n");
	char closing[96];
	int cl = snprintf(closing, sizeof closing, "\n--%.*s--\n", (int)blen, b);
	CHECK(out.len > (size_t)cl && memcmp(t + out.len - cl, closing, (size_t)cl) == 0);

	/* Only the report's own header block (the returned message has its own References). */
	const char *hend = strstr(t, "\n\n");
	CHECK(hend != NULL);
	const char *refs = strstr(t, "\nReferences:");
	if (refs && refs < hend) {
		const char *nl = strchr(refs + 1, '\n');
		CHECK(nl && strncmp(nl + 1, "Content-Type:", 13) == 0);
	}
	/* The part is found by its boundary line: the recipient address in the human-readable part
	 * may itself contain the part's header text. */
	char dsmark[160];
	int dl = snprintf(dsmark, sizeof dsmark, "\n--%.*s\nContent-type: message/delivery-status\n\n",
		(int)blen, b);
	CHECK(dl > 0 && (size_t)dl < sizeof dsmark);
	const char *ds = strstr(t, dsmark);
	CHECK(ds != NULL);
	ds += dl;
	const char *end = strstr(ds, "\n--");
	CHECK(end != NULL);
	for (const char *p = ds; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		CHECK(field_line(p, n));
		if (n > 26 && (strncmp(p, "X-Remote-MTA-smtp-greeting: X-str; ", 35) == 0
			|| strncmp(p, "X-Remote-MTA-helo-response: X-str; ", 35) == 0))
			CHECK(n <= 35 + 900);
		p = nl ? nl + 1 : end;
	}
	arena_reset(pool_msg, mark);
	return 0;
}
