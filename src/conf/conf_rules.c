/* Retry rules and rewrite rules: parsed into structs with Exim 4.96's error messages.
 *
 *   retry:   <address pattern> <error> [senders=<list>] [<rule>[; <rule>]...]
 *            rule = F,<cutoff>,<interval> | G,<cutoff>,<interval>,<multiplier> | H,... (as G)
 *   rewrite: <pattern> <replacement> [<flags>]   (pattern/replacement may be quoted)
 */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <string.h>

static sv skip_ws(sv v)
{
	while (v.len && isspace((unsigned char)*v.p)) {
		v.p++;
		v.len--;
	}
	return v;
}

/* One item: a quoted string (with escapes) or a run of non-space characters. */
static sv next_item(sv *rest, xbuf *buf)
{
	*rest = skip_ws(*rest);
	xbuf_reset(buf);
	if (!rest->len)
		return SV_NULL;
	size_t i = 0;
	if (rest->p[0] == '"') {
		i = 1;
		while (i < rest->len && rest->p[i] != '"') {
			if (rest->p[i] == '\\' && i + 1 < rest->len)
				i++;
			xbuf_putc(buf, rest->p[i++]);
		}
		if (i < rest->len)
			i++;
	} else {
		while (i < rest->len && !isspace((unsigned char)rest->p[i]))
			xbuf_putc(buf, rest->p[i++]);
	}
	*rest = sv_sub(*rest, i, rest->len);
	return xbuf_sv(buf);
}

/* Error names a retry rule may name (after Exim's list); digits or 'x' in the 4xx forms. */
static bool retry_error_ok(sv e)
{
	static const char *const plain[] = {
		"*", "auth_failed", "lookup", "lost_connection", "quota", "refused", "refused_A",
		"refused_MX", "timeout", "timeout_A", "timeout_MX", "timeout_connect", "timeout_connect_A",
		"timeout_connect_MX", "timeout_DNS", "tls_required",
	};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (sv_eq_cstr(e, plain[i]))
			return true;
	int t;
	if (sv_starts(e, "quota_") && conf_parse_time(sv_sub(e, 6, e.len), &t))
		return true;
	static const char *const smtp[] = { "mail_4", "rcpt_4", "data_4" };
	for (size_t i = 0; i < 3; i++) {
		if (e.len == 8 && sv_starts(e, smtp[i])) {
			bool ok = true;
			for (size_t j = 6; j < 8; j++)
				ok = ok && (isdigit((unsigned char)e.p[j]) || e.p[j] == 'x');
			if (ok)
				return true;
		}
	}
	return false;
}

static bool parse_retry_item(conf_reader *r, sv *rest, conf_retry_item *it)
{
	*rest = skip_ws(*rest);
	char letter = rest->p[0];
	if (letter != 'F' && letter != 'G' && letter != 'H') {
		conf_fail(r, "unknown retry rule letter");
		return false;
	}
	it->letter = letter;
	*rest = sv_sub(*rest, 1, rest->len);
	int nparams = letter == 'F' ? 2 : 3;
	for (int p = 0; p < nparams; p++) {
		*rest = skip_ws(*rest);
		if (!rest->len || rest->p[0] != ',') {
			conf_fail(r, "comma expected");
			return false;
		}
		*rest = skip_ws(sv_sub(*rest, 1, rest->len));
		size_t n = 0;
		while (n < rest->len && rest->p[n] != ',' && rest->p[n] != ';' && !isspace((unsigned char)rest->p[n]))
			n++;
		sv param = sv_sub(*rest, 0, n);
		bool ok;
		if (p < 2) {
			int t;
			ok = conf_parse_time(param, &t);
			if (p == 0)
				it->cutoff = t;
			else
				it->interval = t;
		} else {
			conf_reader quiet = { .failed = false };
			xbuf_init(&quiet.err, NULL);
			ok = conf_parse_fixed(&quiet, param, "", &it->multiplier);
			xbuf_free(&quiet.err);
		}
		if (!ok) {
			conf_fail(r, "bad parameters for retry rule");
			return false;
		}
		*rest = sv_sub(*rest, n, rest->len);
	}
	return true;
}

bool conf_retry_parse(conf_reader *r, sv line, conf_retry_rule **out)
{
	xbuf buf;
	xbuf_init(&buf, NULL);
	sv rest = line;
	conf_retry_rule *rule = arena_calloc(pool_config, 1, sizeof *rule);
	bool ok = false;
	sv pattern = next_item(&rest, &buf);
	rule->pattern = sv_dup(pool_config, pattern);
	sv error = next_item(&rest, &buf);
	if (sv_is_null(error)) {
		conf_fail(r, "missing error type in retry rule");
		goto done;
	}
	if (!retry_error_ok(error)) {
		conf_fail(r, "unknown or malformed retry error \"" SV_FMT "\"", SV_ARG(error));
		goto done;
	}
	rule->error = sv_dup(pool_config, error);
	rest = skip_ws(rest);
	if (sv_starts(rest, "senders=")) {
		sv s = next_item(&rest, &buf);
		rule->senders = sv_dup(pool_config, sv_sub(s, 8, s.len));
	}
	size_t cap = 0;
	while ((rest = skip_ws(rest)).len) {
		if (rule->nitems == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			rule->items = arena_realloc(pool_config, rule->items, cap * sizeof *rule->items,
				ncap * sizeof *rule->items);
			cap = ncap;
		}
		if (!parse_retry_item(r, &rest, &rule->items[rule->nitems]))
			goto done;
		rule->nitems++;
		rest = skip_ws(rest);
		if (!rest.len)
			break;
		if (rest.p[0] != ';') {
			conf_fail(r, "semicolon expected");
			goto done;
		}
		rest = sv_sub(rest, 1, rest.len);
	}
	*out = rule;
	ok = true;
done:
	xbuf_free(&buf);
	return ok;
}

bool conf_rewrite_parse(conf_reader *r, sv line, conf_rewrite_rule **out)
{
	static const struct { char c; unsigned bits; } flags[] = {
		{ 'E', CONF_REWRITE_ENVELOPE }, { 'F', CONF_REWRITE_SENDER }, { 'T', CONF_REWRITE_RECIPIENT },
		{ 'b', CONF_REWRITE_BCC }, { 'c', CONF_REWRITE_CC }, { 'f', CONF_REWRITE_FROM },
		{ 'h', CONF_REWRITE_HEADERS }, { 'r', CONF_REWRITE_REPLYTO }, { 's', CONF_REWRITE_SENDERHDR },
		{ 't', CONF_REWRITE_TO }, { 'S', CONF_REWRITE_SMTP }, { 'Q', CONF_REWRITE_QUIT },
		{ 'q', CONF_REWRITE_QUALIFY }, { 'R', CONF_REWRITE_REPEAT }, { 'w', CONF_REWRITE_WILDLP },
	};
	xbuf buf;
	xbuf_init(&buf, NULL);
	sv rest = line;
	conf_rewrite_rule *rule = arena_calloc(pool_config, 1, sizeof *rule);
	rule->pattern = sv_dup(pool_config, next_item(&rest, &buf));
	sv repl = next_item(&rest, &buf);
	if (sv_is_null(repl)) {
		conf_fail(r, "missing rewrite replacement string");
		xbuf_free(&buf);
		return false;
	}
	rule->replacement = sv_dup(pool_config, repl);
	xbuf_free(&buf);
	rest = skip_ws(rest);
	unsigned bits = 0;
	for (size_t i = 0; i < rest.len; i++) {
		char c = rest.p[i];
		if (isspace((unsigned char)c))
			continue;
		size_t k = 0;
		while (k < sizeof flags / sizeof flags[0] && flags[k].c != c)
			k++;
		if (k == sizeof flags / sizeof flags[0]) {
			conf_fail(r, "unknown rewrite flag character '%c' (could be missing quotes round replacement item)", c);
			return false;
		}
		bits |= flags[k].bits;
	}
	/* No envelope or header flag means all of them, as Exim documents. */
	if (!(bits & (CONF_REWRITE_ENVELOPE | CONF_REWRITE_HEADERS | CONF_REWRITE_SMTP)))
		bits |= CONF_REWRITE_ENVELOPE | CONF_REWRITE_HEADERS;
	/* The pattern is expanded before use, so "\N^...\N" (the regex protected from expansion)
	 * is a regular expression too, as Exim 4.96 accepts it. */
	const char *pat = rule->pattern;
	if (pat[0] == '\\' && pat[1] == 'N')
		pat += 2;
	if ((bits & CONF_REWRITE_SMTP) && pat[0] != '^') {
		conf_fail(r, "rewrite rule has the S flag but is not a regular expression");
		return false;
	}
	rule->flags = bits;
	*out = rule;
	return true;
}
