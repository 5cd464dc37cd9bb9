/* Address rewriting (Exim 4.96 "Address rewriting"), as observed from Exim 4.96 (-brw and the -H
 * files it writes): rules are tried in order; a rule applies when its flags include the kind of
 * address and its pattern (expanded, then matched as a one-item address list, or a regex
 * against the whole address) matches. "*" as replacement stops without rewriting; otherwise
 * the replacement is expanded with $local_part, $domain and $0.. set, must give a qualified
 * address (Q: qualify with qualify_recipient), forced failure skips the rule (q: stops), other
 * failures stop and are logged to the main and panic logs. R repeats a rule up to ten times,
 * w replaces a header's whole address item.
 *
 * Flag letters and conf bits (conf_dump.h names them the other way round): 'Q' sets
 * CONF_REWRITE_QUIT and means "may yield an unqualified local part"; 'q' sets
 * CONF_REWRITE_QUALIFY and means "stop after this rule". */
#include "core/rewrite.h"

#include <ctype.h>
#include <string.h>

#include "core/rewrite_internal.h"
#include "lib/log.h"
#include "mail/address.h"
#include "search/match.h"
#include "search/search.h"

#define RW_MAY_UNQUALIFY CONF_REWRITE_QUIT
#define RW_STOP CONF_REWRITE_QUALIFY
#define RW_REPEAT_MAX 10

/* ---- headers_rewrite text ---- */

/* The next white-space separated token, or a "quoted" one with backslash escapes. */
static bool next_token(sv *rest, xbuf *tok)
{
	size_t i = 0;
	while (i < rest->len && isspace((unsigned char)rest->p[i]))
		i++;
	if (i == rest->len) {
		*rest = sv_sub(*rest, i, 0);
		return false;
	}
	xbuf_reset(tok);
	if (rest->p[i] == '"') {
		for (i++; i < rest->len && rest->p[i] != '"'; i++) {
			char c = rest->p[i];
			if (c == '\\' && i + 1 < rest->len) {
				c = rest->p[++i];
				c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
			}
			xbuf_putc(tok, c);
		}
		if (i < rest->len)
			i++;
	} else {
		while (i < rest->len && !isspace((unsigned char)rest->p[i]))
			xbuf_putc(tok, rest->p[i++]);
	}
	*rest = sv_sub(*rest, i, rest->len - i);
	return true;
}

bool rewrite_parse_rule(arena *a, sv line, bool transport, conf_rewrite_rule **out, xbuf *err)
{
	static const struct { char c; unsigned bits; } flags[] = {
		{ 'E', CONF_REWRITE_ENVELOPE }, { 'F', CONF_REWRITE_SENDER }, { 'T', CONF_REWRITE_RECIPIENT },
		{ 'b', CONF_REWRITE_BCC }, { 'c', CONF_REWRITE_CC }, { 'f', CONF_REWRITE_FROM },
		{ 'h', CONF_REWRITE_HEADERS }, { 'r', CONF_REWRITE_REPLYTO }, { 's', CONF_REWRITE_SENDERHDR },
		{ 't', CONF_REWRITE_TO }, { 'S', CONF_REWRITE_SMTP }, { 'Q', CONF_REWRITE_QUIT },
		{ 'q', CONF_REWRITE_QUALIFY }, { 'R', CONF_REWRITE_REPEAT }, { 'w', CONF_REWRITE_WILDLP },
	};
	xbuf tok;
	xbuf_init(&tok, a);
	sv rest = line;
	if (!next_token(&rest, &tok)) {
		xbuf_puts(err, "missing rewrite pattern");
		return false;
	}
	conf_rewrite_rule *r = arena_calloc(a, 1, sizeof *r);
	r->pattern = sv_dup(a, xbuf_sv(&tok));
	if (!next_token(&rest, &tok)) {
		xbuf_puts(err, "missing rewrite replacement string");
		return false;
	}
	r->replacement = sv_dup(a, xbuf_sv(&tok));
	unsigned bits = 0;
	for (size_t i = 0; i < rest.len; i++) {
		char c = rest.p[i];
		if (isspace((unsigned char)c))
			continue;
		size_t k = 0;
		while (k < sizeof flags / sizeof flags[0] && flags[k].c != c)
			k++;
		if (k == sizeof flags / sizeof flags[0]) {
			xbuf_printf(err, "unknown rewrite flag character '%c' (could be missing quotes round replacement item)", c);
			return false;
		}
		bits |= flags[k].bits;
	}
	if (transport) {
		/* Envelope and SMTP-time flags mean nothing at transport time; no header flag means all. */
		bits &= ~(CONF_REWRITE_ENVELOPE | CONF_REWRITE_SMTP);
		if (!(bits & CONF_REWRITE_HEADERS))
			bits |= CONF_REWRITE_HEADERS;
	} else if (!(bits & (CONF_REWRITE_ENVELOPE | CONF_REWRITE_HEADERS | CONF_REWRITE_SMTP))) {
		bits |= CONF_REWRITE_ENVELOPE | CONF_REWRITE_HEADERS;
	}
	r->flags = bits;
	*out = r;
	return true;
}

const conf_rewrite_rule *rewrite_parse(arena *a, const char *text, xbuf *err)
{
	conf_rewrite_rule *first = NULL, **tail = &first;
	list_iter it;
	list_iter_init(&it, sv_cstr(text), -':');
	xbuf item;
	xbuf_init(&item, a);
	while (list_next(&it, &item)) {
		if (!item.len)
			continue;
		conf_rewrite_rule *r;
		if (!rewrite_parse_rule(a, xbuf_sv(&item), true, &r, err))
			return NULL;
		*tail = r;
		tail = &r->next;
	}
	return first;
}

/* ---- matching ---- */

/* $local_part and $domain of the address being rewritten, ahead of everything else. */
typedef struct lpdom {
	xp_provider p;
	sv lp, dom;
} lpdom;

static bool lpdom_get(void *ctx, sv name, xbuf *out)
{
	lpdom *v = ctx;
	if (sv_eq_cstr(name, "local_part")) {
		xbuf_putsv(out, v->lp);
		return true;
	}
	if (sv_eq_cstr(name, "domain")) {
		xbuf_putsv(out, v->dom);
		return true;
	}
	return false;
}

static void set_numeric(xp_env *env, const sv *vars, size_t n)
{
	if (n > XP_MAX_NUMERIC)
		n = XP_MAX_NUMERIC;
	for (size_t i = 0; i < n; i++)
		env->numeric[i] = vars[i];
	env->nnumeric = (int)n;
}

/* Does the (expanded) pattern match subject ("lp@domain")? Sets $0.. as Exim does for the kind
 * of pattern. 1 yes, 0 no, -1 a lookup could not complete. */
static int pattern_match(arena *a, sv pattern, sv subject, xp_env *env)
{
	xbuf err;
	xbuf_init(&err, a);
	sv vars[XP_MAX_NUMERIC];
	if (pattern.len && pattern.p[0] == '^') {
		if (!match_string_item(subject, pattern, false, &err))
			return 0;
		size_t n = match_last_numeric(vars, XP_MAX_NUMERIC);
		for (size_t i = 0; i < n; i++)
			vars[i] = sv_copy(a, vars[i]);
		if (n == 0) {
			vars[0] = subject;
			n = 1;
		}
		set_numeric(env, vars, n);
		return 1;
	}
	/* One item: a separator that cannot occur in it. */
	int rc = match_isinlist(subject, pattern, '\x01', MATCH_ADDRESS, false, NULL, &err);
	if (rc == SEARCH_DEFER)
		return -1;
	if (rc != SEARCH_OK)
		return 0;
	size_t n = 0;
	vars[n++] = subject;
	/* "*lp@*domain": $1 is what the local part's asterisk matched, then the domain's. */
	const char *at = memchr(pattern.p, '@', pattern.len);
	const char *sat = NULL;
	for (size_t i = subject.len; i > 0; i--)
		if (subject.p[i - 1] == '@') {
			sat = subject.p + i - 1;
			break;
		}
	if (at && sat) {
		sv plp = sv_make(pattern.p, (size_t)(at - pattern.p));
		sv pdom = sv_make(at + 1, pattern.len - plp.len - 1);
		sv slp = sv_make(subject.p, (size_t)(sat - subject.p));
		sv sdom = sv_make(sat + 1, subject.len - slp.len - 1);
		if (plp.len && plp.p[0] == '*' && slp.len >= plp.len - 1)
			vars[n++] = sv_sub(slp, 0, slp.len - (plp.len - 1));
		if (pdom.len && pdom.p[0] == '*' && !memchr(pdom.p, ';', pdom.len) && sdom.len >= pdom.len - 1)
			vars[n++] = sv_sub(sdom, 0, sdom.len - (pdom.len - 1));
	}
	set_numeric(env, vars, n);
	return 1;
}

/* ---- one address ---- */

static void split(sv addr, sv *lp, sv *dom)
{
	for (size_t i = addr.len; i > 0; i--)
		if (addr.p[i - 1] == '@') {
			*lp = sv_sub(addr, 0, i - 1);
			*dom = sv_sub(addr, i, addr.len - i);
			return;
		}
	*lp = addr;
	*dom = SV_NULL;
}

sv rewrite_one(arena *a, const conf_rewrite_rule *rules, sv subject, unsigned flag, xp_env *env,
	sv *whole)
{
	if (whole)
		*whole = SV_NULL;
	if (!subject.len || !env)
		return subject;
	/* The numeric variables and the provider chain are restored afterwards. */
	sv save_num[XP_MAX_NUMERIC];
	int save_n = env->nnumeric;
	memcpy(save_num, env->numeric, sizeof save_num);
	xp_provider *save_prov = env->providers;
	lpdom vars = { .p = { lpdom_get, NULL, NULL } };
	vars.p.ctx = &vars;
	xp_env_push_provider(env, &vars.p);

	xbuf pat, val, err;
	xbuf_init(&pat, a);
	xbuf_init(&val, a);
	xbuf_init(&err, a);
	const conf_rewrite_rule *r = rules;
	int repeat = 0;
	while (r) {
		if (!(r->flags & flag) || (r->flags & CONF_REWRITE_SMTP)) {
			r = r->next;
			continue;
		}
		split(subject, &vars.lp, &vars.dom);
		xbuf_reset(&pat);
		xbuf_reset(&err);
		if (xp_expand(env, sv_cstr(r->pattern), &pat, &err) != XP_OK) {
			r = r->next;
			continue;
		}
		int m = pattern_match(a, xbuf_sv(&pat), subject, env);
		if (m <= 0) {
			r = r->next;
			repeat = 0;
			continue;
		}
		if (strcmp(r->replacement, "*") == 0)
			break;
		xbuf_reset(&val);
		xbuf_reset(&err);
		int xr = xp_expand(env, sv_cstr(r->replacement), &val, &err);
		if (xr == XP_FORCEFAIL) {
			if (r->flags & RW_STOP)
				break;
			r = r->next;
			continue;
		}
		if (xr != XP_OK) {
			log_write(LOG_MAIN | LOG_PANIC, "Expansion of %s failed while rewriting: %s", r->replacement,
				xbuf_cstr(&err));
			break;
		}
		/* The result must be one address; with w the whole item is kept for headers. */
		sv text = sv_trim(xbuf_sv(&val));
		xbuf addr;
		xbuf_init(&addr, a);
		addr_parsed info;
		const char *why = NULL;
		if (!text.len)
			why = "empty address";
		if (!why && !addr_extract(text, NULL, &addr, &info, &why))
			why = why ? why : "malformed address";
		if (why) {
			log_write(LOG_MAIN | LOG_PANIC, "Rewrite of " SV_FMT " yielded unparseable address: %s in address " SV_FMT,
				SV_ARG(subject), why, SV_ARG(text));
			break;
		}
		sv newaddr = xbuf_sv(&addr);
		newaddr.taint |= val.taint;
		if (!info.has_domain) {
			if (!(r->flags & RW_MAY_UNQUALIFY)) {
				log_write(LOG_MAIN | LOG_PANIC, "Rewrite of " SV_FMT " yielded unqualified address \"" SV_FMT "\"",
					SV_ARG(subject), SV_ARG(text));
				break;
			}
			xbuf q;
			xbuf_init(&q, a);
			xbuf_putsv(&q, newaddr);
			xbuf_putc(&q, '@');
			xbuf_reset(&err);
			xp_expand(env, SV_LIT("$qualify_recipient"), &q, &err);
			newaddr = xbuf_sv(&q);
		}
		subject = sv_copy(a, newaddr);
		if (whole)
			*whole = (r->flags & CONF_REWRITE_WILDLP) ? sv_copy(a, text) : SV_NULL;
		if ((r->flags & CONF_REWRITE_REPEAT) && repeat < RW_REPEAT_MAX) {
			repeat++;
			continue;        /* the same rule again, on the new address */
		}
		repeat = 0;
		if (r->flags & RW_STOP)
			break;
		r = r->next;
	}
	env->providers = save_prov;
	memcpy(env->numeric, save_num, sizeof save_num);
	env->nnumeric = save_n;
	return subject;
}

sv rewrite_address(arena *a, const conf_rewrite_rule *rules, sv address, unsigned which,
	xp_env *env)
{
	return rewrite_one(a, rules, address, which, env, NULL);
}

bool rewrite_smtp_address(arena *a, sv data, xp_env *env, sv *out)
{
	bool changed = false;
	xbuf pat, val, err;
	xbuf_init(&pat, a);
	xbuf_init(&val, a);
	xbuf_init(&err, a);
	sv save_num[XP_MAX_NUMERIC];
	int save_n = env->nnumeric;
	memcpy(save_num, env->numeric, sizeof save_num);
	*out = data;
	for (const conf_rewrite_rule *r = conf_rewrite_rules(); r; r = r->next) {
		if (!(r->flags & CONF_REWRITE_SMTP))
			continue;
		xbuf_reset(&pat);
		xbuf_reset(&err);
		if (xp_expand(env, sv_cstr(r->pattern), &pat, &err) != XP_OK) {
			log_write(LOG_MAIN | LOG_PANIC, "failed to expand \"%s\" while checking for SMTP rewriting: %s",
				r->pattern, xbuf_cstr(&err));
			continue;
		}
		if (pattern_match(a, xbuf_sv(&pat), *out, env) <= 0)
			continue;
		if (strcmp(r->replacement, "*") == 0)
			break;
		xbuf_reset(&val);
		xbuf_reset(&err);
		int xr = xp_expand(env, sv_cstr(r->replacement), &val, &err);
		if (xr == XP_FORCEFAIL) {
			if (r->flags & RW_STOP)
				break;
			continue;
		}
		if (xr != XP_OK) {
			log_write(LOG_MAIN | LOG_PANIC, "Expansion of %s failed while rewriting: %s", r->replacement,
				xbuf_cstr(&err));
			break;
		}
		*out = sv_copy(a, xbuf_sv(&val));
		changed = true;
		if (r->flags & RW_STOP)
			break;
	}
	memcpy(env->numeric, save_num, sizeof save_num);
	env->nnumeric = save_n;
	return changed;
}
