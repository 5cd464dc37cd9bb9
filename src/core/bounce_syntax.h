/* The report a redirect router's syntax_errors_to receives when skip_syntax_errors skipped
 * addresses (Exim 4.96's "error(s) in forwarding or filtering" message). */
#ifndef POSTERN_CORE_BOUNCE_SYNTAX_H
#define POSTERN_CORE_BOUNCE_SYNTAX_H

#include <stdbool.h>

#include "core/message.h"
#include "core/spool.h"
#include "lib/str.h"

/* Send the report about message m to to: intro (expanded syntax_errors_text; null: none), then
 * "The <router> router encountered the following error(s):" and errors (the router's list, each
 * error "  <reason> in the address\n  \"<item>\"\n\n"). false: err says why. */
bool bounce_send_syntax_errors(const spool_config *sc, const message *m, const char *router, sv to,
	sv intro, sv errors, xbuf *err);

#endif
