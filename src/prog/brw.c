/* -brw ADDRESS: how the main rewrite rules treat an address in each place it can appear
 * (Exim 4.96's output: one line per place, the label right-aligned in eight columns: the four
 * address headers, Bcc and Reply-To with the address as the whole header value, then the
 * envelope sender and recipient with the working address only). */
#include <stdio.h>
#include <string.h>

#include "conf/conf_dump.h"
#include "core/rewrite.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "mail/address.h"
#include "prog/cmdline.h"
#include "prog/log_setup.h"

int brw_main(const cmdline *cl)
{
	if (cl->nargs == 0) {
		fprintf(stderr, "-brw needs an address argument\n");
		return 1;
	}
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!log_setup_from_config(LOG_ECHO_PANIC, NULL, &err)) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	xp_env env;
	xp_env_init(&env, pool_scratch);
	env.state = pool_perm;

	/* An address without a domain is qualified first, as text (so "<>" becomes "<>@domain"). */
	xbuf input;
	xbuf_init(&input, pool_perm);
	xbuf_puts(&input, cl->args[0]);
	if (!strchr(cl->args[0], '@')) {
		xbuf_putc(&input, '@');
		xp_expand(&env, SV_LIT("$qualify_recipient"), &input, &err);
	}
	xbuf addr;
	xbuf_init(&addr, pool_perm);
	addr_parsed info;
	const char *why = NULL;
	if (!addr_extract(xbuf_sv(&input), NULL, &addr, &info, &why) || info.empty) {
		printf("Syntax error in %s\n%s\n", xbuf_cstr(&input), why ? why : "Missing or malformed local part");
		return 0;
	}
	const conf_rewrite_rule *rules = conf_rewrite_rules();
	static const struct { const char *label, *header; } headers[] = {
		{ "sender", "Sender" }, { "from", "From" }, { "to", "To" }, { "cc", "Cc" },
		{ "bcc", "Bcc" }, { "reply-to", "Reply-To" },
	};
	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
		xbuf h;
		xbuf_init(&h, pool_perm);
		xbuf_printf(&h, "%s: %s\n", headers[i].header, xbuf_cstr(&input));
		sv out;
		sv shown = xbuf_sv(&input);
		if (rewrite_header_line(pool_perm, rules, ' ', xbuf_sv(&h), &env, &out)) {
			size_t skip = strlen(headers[i].header) + 1;
			shown = sv_trim(sv_sub(out, skip, out.len - skip));
		}
		printf("%8s: " SV_FMT "\n", headers[i].label, SV_ARG(shown));
	}
	sv a = xbuf_sv(&addr);
	sv f = rewrite_address(pool_perm, rules, a, CONF_REWRITE_SENDER, &env);
	printf("%8s: " SV_FMT "\n", "env-from", SV_ARG(f));
	sv t = rewrite_address(pool_perm, rules, a, CONF_REWRITE_RECIPIENT, &env);
	printf("%8s: " SV_FMT "\n", "env-to", SV_ARG(t));
	return 0;
}
