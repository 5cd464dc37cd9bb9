/* Fuzz lib/debug: any text as the argument of -d.
 *
 * The target computes the expected selector set itself, from its own table of Exim's selector
 * names and the bits debug.h gives them: a "+a-b+c" spec applies each name's bits in order to
 * the default set, and "=N" is strtoul(N, 0) (a bare "=" is malformed). debug_parse must agree, and fail (with Exim's
 * message) exactly when some item is not a name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "lib/debug.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static const struct { const char *name; uint32_t bits; } model_names[] = {
	{ "acl", D_ACL }, { "all", 0xffffffffu }, { "auth", D_AUTH }, { "config", D_CONFIG },
	{ "context", D_CONTEXT }, { "deliver", D_DELIVER }, { "dns", D_DNS }, { "dnsbl", D_DNSBL },
	{ "exec", D_EXEC }, { "expand", D_EXPAND }, { "filter", D_FILTER },
	{ "hints_lookup", D_HINTS_LOOKUP }, { "host_lookup", D_HOST_LOOKUP }, { "ident", D_IDENT },
	{ "interface", D_INTERFACE }, { "lists", D_LISTS }, { "load", D_LOAD },
	{ "local_scan", D_LOCAL_SCAN }, { "lookup", D_LOOKUP }, { "memory", D_MEMORY },
	{ "noutf8", D_NOUTF8 }, { "pid", D_PID }, { "process_info", D_PROCESS_INFO },
	{ "queue_run", D_QUEUE_RUN }, { "receive", D_RECEIVE }, { "resolver", D_RESOLVER },
	{ "retry", D_RETRY }, { "rewrite", D_REWRITE }, { "route", D_ROUTE },
	{ "timestamp", D_TIMESTAMP }, { "tls", D_TLS }, { "transport", D_TRANSPORT }, { "uid", D_UID },
};

static bool model_bits(const char *s, size_t n, uint32_t *bits)
{
	for (size_t i = 0; i < sizeof model_names / sizeof model_names[0]; i++)
		if (strlen(model_names[i].name) == n && memcmp(model_names[i].name, s, n) == 0) {
			*bits = model_names[i].bits;
			return true;
		}
	return false;
}

static bool starts(const xbuf *b, const char *prefix)
{
	return strncmp(xbuf_cstr(b), prefix, strlen(prefix)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	char *spec = malloc(size + 1);
	memcpy(spec, data, size);
	spec[size] = 0; /* the argument is a C string: it ends at the first NUL */
	xbuf err;
	xbuf_init(&err, NULL);
	uint32_t got = 0x12345678;
	bool ok = debug_parse(spec, &got, &err);

	if (spec[0] == '=') {
		char *end;
		uint32_t want = (uint32_t)strtoul(spec + 1, &end, 0);
		CHECK(ok == (*end == 0)); /* Exim accepts a bare "=" (selector 0) */
		if (ok)
			CHECK(got == want);
	} else {
		uint32_t want = D_DEFAULT;
		bool mok = true;
		const char *s = spec;
		while (*s && mok) {
			if (*s != '+' && *s != '-') {
				mok = false;
				break;
			}
			char op = *s++;
			size_t n = strcspn(s, "+-");
			uint32_t bits = 0;
			mok = model_bits(s, n, &bits);
			want = op == '+' ? want | bits : want & ~bits;
			s += n;
		}
		CHECK(ok == mok);
		if (ok)
			CHECK(got == want);
	}
	if (ok) {
		CHECK(err.len == 0);
	} else {
		CHECK(got == 0x12345678);
		CHECK(starts(&err, "exim: malformed numeric debug_selector setting: ") ||
			starts(&err, "exim: malformed debug_selector setting: + or - expected but found \"") ||
			starts(&err, "exim: unknown debug_selector setting: "));
	}
	free(spec);
	xbuf_free(&err);
	return 0;
}
