/* Debug selectors and output; see debug.h. */
#include "lib/debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t debug_selector;

static const struct { const char *name; uint32_t bit; } names[] = {
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

bool debug_parse(const char *spec, uint32_t *out, xbuf *err)
{
	uint32_t sel = D_DEFAULT;
	const char *s = spec;
	if (*s == '=') {
		char *end;
		sel = (uint32_t)strtoul(s + 1, &end, 0);
		if (*end) {
			xbuf_printf(err, "exim: malformed numeric debug_selector setting: %s", spec);
			return false;
		}
		*out = sel;
		return true;
	}
	while (*s) {
		char op = *s;
		if (op != '+' && op != '-') {
			xbuf_printf(err, "exim: malformed debug_selector setting: + or - expected but found \"%s\"", s);
			return false;
		}
		s++;
		size_t n = strcspn(s, "+-");
		bool found = false;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strlen(names[i].name) == n && strncmp(names[i].name, s, n) == 0) {
				sel = op == '+' ? sel | names[i].bit : sel & ~names[i].bit;
				found = true;
				break;
			}
		}
		if (!found) {
			xbuf_printf(err, "exim: unknown debug_selector setting: %c%.*s", op, (int)n, s);
			return false;
		}
		s += n;
	}
	*out = sel;
	return true;
}

void debug_printf(const char *fmt, ...)
{
	va_list ap;
	if (debug_selector & D_PID)
		fprintf(stderr, "%5d ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
