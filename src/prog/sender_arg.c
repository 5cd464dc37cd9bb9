/* The -f argument as Exim 4.96 reads it (sender_arg.h). */
#include "prog/sender_arg.h"

#include <stdio.h>
#include <string.h>

#include "conf/main_options.h"
#include "mail/address.h"
#include "mail/smtp_cmd.h"

#define BAD_F "exim: bad -f address \"%s\": %s"

static const char *refuse(const char *shown, const char *why)
{
	fprintf(stderr, BAD_F "\n", shown, why);
	return NULL;
}

/* The syntax, judged alike on the command line and after the configuration: NULL when text
 * parses (into out), else the reason. */
static const char *syntax_refusal(sv text, xbuf *out, xbuf *reason, bool *is_null, bool *has_domain)
{
	if (!sv_trim(text).len)
		return "empty address";
	/* The parser of MAIL and RCPT arguments gives Exim's reasons; a trailing dot is taken here
	 * and judged by sender_arg_parse. */
	if (!smtp_parse_address_opts(text, true, true, true, true, out, is_null, has_domain, reason))
		return reason->len ? xbuf_cstr(reason) : "malformed address";
	return NULL;
}

bool sender_arg_syntax_ok(const char *given, char *msg, size_t msglen)
{
	if (!*given)
		return true;
	xbuf out, reason;
	xbuf_init(&out, NULL);
	xbuf_init(&reason, NULL);
	bool is_null = false, has_domain = false;
	const char *why = syntax_refusal(sv_cstr(given), &out, &reason, &is_null, &has_domain);
	if (why)
		snprintf(msg, msglen, BAD_F, given, why);
	xbuf_free(&out);
	xbuf_free(&reason);
	return !why;
}

const char *sender_arg_parse(arena *a, const char *given, const char *qualify_domain)
{
	if (!*given)
		return "";
	sv text = sv_cstr(given);
	xbuf out, reason;
	xbuf_init(&out, a);
	xbuf_init(&reason, a);
	bool is_null = false, has_domain = false;
	const char *why = syntax_refusal(text, &out, &reason, &is_null, &has_domain);
	if (why)
		return refuse(given, why);
	if (is_null)
		return "";
	/* Judged after parsing, and shown as parsed (observed: "<a@[1.2.3.4]>" is reported as
	 * "a@[1.2.3.4]"). */
	const char *at = has_domain ? memrchr(out.p, '@', out.len) : NULL;
	if (at && at[1] == '[' && !conf_main.allow_domain_literals)
		return refuse(xbuf_cstr(&out), "domain literals not allowed");
	/* A dot at the end of the argument, white space after it aside ("a@b. " and "a@b ." are
	 * refused as "a@b.", "a@b.(c)" and "<a@b.>" are taken). */
	sv trimmed = sv_trim(text);
	if (trimmed.p[trimmed.len - 1] == '.' && !conf_main.strip_trailing_dot) {
		const char *shown = arena_printf(a, "%s.", xbuf_cstr(&out));
		return refuse(shown, "domain is malformed (trailing dot not allowed)");
	}
	if (!has_domain) {
		/* Qualified with the local part as ${quote_local_part:} gives it (observed: '.a' is
		 * '".a"@qd', '"a b"' is '"\\"a b\\""@qd', 'a\\b' is '"a\\\\b"@qd'). */
		xbuf q;
		xbuf_init(&q, a);
		addr_quote_local_part(xbuf_sv(&out), &q);
		xbuf_printf(&q, "@%s", qualify_domain);
		return xbuf_cstr(&q);
	}
	return xbuf_cstr(&out);
}
