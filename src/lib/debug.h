/* Debug output selected by -d[+name-name...], with Exim's selector names.
 * Output goes to stderr, each line prefixed as Exim does ("<pid> ") when pid is selected. */
#ifndef POSTERN_LIB_DEBUG_H
#define POSTERN_LIB_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/str.h"

enum {
	D_ACL = 1u << 0, D_AUTH = 1u << 1, D_CONFIG = 1u << 2, D_CONTEXT = 1u << 3, D_DELIVER = 1u << 4,
	D_DNS = 1u << 5, D_DNSBL = 1u << 6, D_EXEC = 1u << 7, D_EXPAND = 1u << 8, D_FILTER = 1u << 9,
	D_HINTS_LOOKUP = 1u << 10, D_HOST_LOOKUP = 1u << 11, D_IDENT = 1u << 12, D_INTERFACE = 1u << 13,
	D_LISTS = 1u << 14, D_LOAD = 1u << 15, D_LOCAL_SCAN = 1u << 16, D_LOOKUP = 1u << 17,
	D_MEMORY = 1u << 18, D_NOUTF8 = 1u << 19, D_PID = 1u << 20, D_PROCESS_INFO = 1u << 21,
	D_QUEUE_RUN = 1u << 22, D_RECEIVE = 1u << 23, D_RESOLVER = 1u << 24, D_RETRY = 1u << 25,
	D_REWRITE = 1u << 26, D_ROUTE = 1u << 27, D_TIMESTAMP = 1u << 28, D_TLS = 1u << 29,
	D_TRANSPORT = 1u << 30, D_UID = 1u << 31,
};
/* Plain -d: everything except the noisy ones, as Exim's default. */
#define D_DEFAULT (~(uint32_t)(D_EXPAND | D_FILTER | D_INTERFACE | D_LOAD | D_MEMORY | D_NOUTF8 | \
	D_PID | D_TIMESTAMP | D_RESOLVER))

extern uint32_t debug_selector; /* 0: debugging off */

/* Parse the text after "-d" ("" = default set, "+expand-all", "=0x..."); false + err. */
bool debug_parse(const char *spec, uint32_t *out, xbuf *err);
void debug_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define DEBUG(sel) if (debug_selector & (sel))

#endif
