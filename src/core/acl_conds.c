/* The simpler ACL conditions and modifiers: list matches (domains, local_parts, senders,
 * sender_domains, recipients, hosts), authenticated, encrypted, condition, set, acl, message
 * headers (add_header, remove_header), logwrite, log_reject_target, delay, queue, regex and
 * mime_regex, dnslists. verify, control, ratelimit, seen and udpsend have their own files. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/acl_internal.h"
#include "core/queue_named.h"
#include "core/dns.h"
#include "lib/arena.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/printing.h"
#include "lib/timefmt.h"
#include "mail/address.h"
#include "search/match.h"
#include "search/search.h"

#define ACL_REGEX_MAX_LINE 32768


static int expand_named(void *ectx, sv in, xbuf *out, xbuf *err)
{
	return xp_expand(ectx, in, out, err);
}

bool acl_host_list_needs_name(sv list)
{
	char sep = ':';
	if (list.len >= 2 && list.p[0] == '<' && !isalnum((unsigned char)list.p[1]) && !isspace((unsigned char)list.p[1])) {
		sep = list.p[1];
		list = sv_sub(list, 2, list.len);
	}
	size_t start = 0;
	for (size_t i = 0; i <= list.len; i++) {
		if (i < list.len && list.p[i] != sep)
			continue;
		sv item = sv_trim(sv_range(list, start, i));
		start = i + 1;
		while (item.len && (item.p[0] == '!' || isspace((unsigned char)item.p[0])))
			item = sv_sub(item, 1, item.len);
		if (!item.len)
			continue;
		if ((item.p[0] == '*' && item.len > 1) || item.p[0] == '^')   /* "*" alone matches any host */
			return true;
		const char *semi = memchr(item.p, ';', item.len);
		if (semi && !sv_starts(item, "net")) {
			/* An unknown lookup type stops the match before any name is wanted (Exim 4.96) */
			sv type = sv_sub(item, 0, (size_t)(semi - item.p));
			if (sv_starts(type, "partial")) {
				const char *dash = memchr(type.p, '-', type.len);
				if (dash)
					type = sv_sub(type, (size_t)(dash - type.p) + 1, type.len);
			}
			const char *star = memchr(type.p, '*', type.len);
			if (star)
				type.len = (size_t)(star - type.p);
			return search_driver(sv_trim(type)) != NULL;
		}
	}
	return false;
}

/* Match subject against an expanded list: ACL_OK, ACL_FAIL or ACL_DEFER (log_msg set).
 * data (may be NULL): on a match, what the list gave: the lookup's data or the matching item
 * (a named list's inner item), as Exim 4.96 sets $domain_data / $local_part_data in ACLs. */
static acl_result list_match_data(acl_ctx *c, sv subject, sv list, enum match_kind kind, bool caseless,
	sv *data)
{
	if (kind == MATCH_HOST && c->origin && !c->origin->host_name.len && c->ops && c->ops->need_host_name
		&& acl_host_list_needs_name(list))
		c->ops->need_host_name(c->ops_ctx);
	/* The match's work (an error text is copied into log_msg) is the run's temporaries: a copy
	 * of the host name in the connection's arena for each hosts condition grew it per message. */
	arena *tmp = acl_engine_of(c)->tmp;
	xbuf err;
	xbuf_init(&err, tmp);
	match_ctx m = { .expand = expand_named, .ectx = c->env };
	m.primary_hostname = conf_main_string("primary_hostname");
	if (kind == MATCH_HOST && c->origin && c->origin->host_name.len)
		m.host_name = sv_dup(tmp, c->origin->host_name);
	m.host_name_required = kind == MATCH_HOST && c->origin && c->origin->host_address.len;
	/* $domain_data / $local_part_data last one top-level ACL run (acl_ctx_begin forgets them):
	 * the run's temporaries, not the connection's arena (a copy per recipient otherwise). */
	xbuf matched;
	xbuf_init(&matched, tmp);
	if (data)
		m.matched_data = &matched;
	int rc = match_isinlist(subject, list, 0, kind, caseless, &m, &err);
	if (rc == SEARCH_OK) {
		if (data) {
			sv v = matched.p ? xbuf_sv(&matched) : subject;
			if (!v.p) v = SV_LIT("");
			*data = v;
		}
		return ACL_OK;
	}
	if (data)
		*data = SV_NULL;   /* a list that did not match leaves none (observed) */
	if (rc == SEARCH_FAIL)
		return ACL_FAIL;
	/* A list naming an undefined "+name": Exim logs that on a line of its own and defers
	 * without a reason of its own: a host list leaves none, the other lists leave the log text
	 * an earlier condition set (verify = csa's; Exim 4.96, observed). */
	sv e = xbuf_sv(&err);
	const char *un = memmem(e.p, e.len, "\": unknown named ", 17);
	if (sv_starts(e, "unable to complete match against \"") && un) {
		acl_log(c, LOG_MAIN | LOG_PANIC, "%.*s", (int)(e.len - (size_t)(un + 3 - e.p)), un + 3);
		if (kind == MATCH_HOST)
			xbuf_reset(&c->log_msg);
		xbuf_reset(&c->user_msg);   /* the client gets the default text (observed) */
		return ACL_DEFER;
	}
	xbuf_reset(&c->log_msg);
	/* A host list's lookup that cannot complete gives the lookup's own words (Exim 4.96,
	 * observed: an iplsearch key error, an unknown lookup type, which it also logs with the
	 * item on a line of its own). */
	if (kind == MATCH_HOST && sv_starts(e, "unable to complete match against \"")) {
		const char *q = memmem(e.p + 34, e.len - 34, "\": ", 3);
		if (q) {
			sv item = sv_range(e, 34, (size_t)(q - e.p));
			e = sv_sub(e, (size_t)(q + 3 - e.p), e.len);
			if (sv_starts(e, "unknown lookup type \""))
				acl_log(c, LOG_MAIN, SV_FMT " in host list item \"" SV_FMT "\"", SV_ARG(e), SV_ARG(item));
		}
	}
	xbuf_putsv(&c->log_msg, e);
	return ACL_DEFER;
}

static acl_result list_match(acl_ctx *c, sv subject, sv list, enum match_kind kind, bool caseless)
{
	return list_match_data(c, subject, list, kind, caseless, NULL);
}

static sv domain_of(sv address)
{
	for (size_t i = address.len; i > 0; i--)
		if (address.p[i - 1] == '@')
			return sv_sub(address, i, address.len);
	return sv_sub(address, address.len, address.len);
}

sv acl_local_part(arena *a, sv address)
{
	sv lp = address;
	for (size_t i = address.len; i > 0; i--)
		if (address.p[i - 1] == '@') {
			lp = sv_sub(address, 0, i - 1);
			break;
		}
	return addr_local_part_unquote(a, lp);
}

static sv sender_of(const acl_ctx *c)
{
	if (c->msg) return c->msg->sender;
	/* No message yet: whatever $sender_address is (under -bh/-bs, before the first command,
	 * the caller's address, which a not-QUIT ACL after a connect-ACL drop still sees). */
	if (!c->env) return SV_LIT("");
	xbuf out, err;
	xbuf_init(&out, c->user_msg.a);
	xbuf_init(&err, c->user_msg.a);
	if (xp_expand(c->env, SV_LIT("$sender_address"), &out, &err) != XP_OK) return SV_LIT("");
	return xbuf_sv(&out);
}

/* Split off the next word of "acl = name arg..." (a double-quoted word may contain spaces and
 * backslash escapes). */
static bool next_word(arena *a, sv *rest, sv *word)
{
	sv s = sv_trim(*rest);
	if (!s.len)
		return false;
	size_t i = 0;
	if (s.p[0] == '"') {
		xbuf w;
		xbuf_init(&w, a);
		for (i = 1; i < s.len && s.p[i] != '"'; i++) {
			if (s.p[i] == '\\' && i + 1 < s.len)
				i++;
			xbuf_putc(&w, s.p[i]);
		}
		*word = xbuf_sv(&w);
		word->taint = s.taint;
		*rest = sv_sub(s, i < s.len ? i + 1 : i, s.len);
		return true;
	}
	while (i < s.len && !isspace((unsigned char)s.p[i]))
		i++;
	*word = sv_sub(s, 0, i);
	*rest = sv_sub(s, i, s.len);
	return true;
}

static acl_result cond_acl(acl_ctx *c, sv arg)
{
	/* The expanded name and arguments serve the nested run only: temporaries of the top-level
	 * run (a copy per message in the connection's arena otherwise). */
	arena *a = acl_engine_of(c)->tmp;
	sv words[1 + ACL_MAX_ARGS];
	int n = 0;
	sv rest = arg, w;
	while (next_word(a, &rest, &w)) {
		/* Words after the ninth argument are ignored, unexpanded (Exim 4.96, observed); only
		 * ${acl} refuses too many. */
		if (n == 1 + ACL_MAX_ARGS)
			break;
		xbuf out, err;
		xbuf_init(&out, a);
		xbuf_init(&err, a);
		/* Only the words are expanded, once (a "$" a variable brings in stays a "$"). Exim
		 * names the ACL (as expanded) when one of its arguments fails. */
		if (xp_expand(c->env, w, &out, &err) != XP_OK)
			return acl_error(c, "failed to expand ACL string \"" SV_FMT "\": %s", SV_ARG(n ? words[0] : w),
				xbuf_cstr(&err));
		words[n++] = xbuf_sv(&out);
	}
	if (!n)
		return ACL_OK;
	acl_result r = acl_run_nested(c, words[0], words + 1, n - 1);
	/* A nested ACL's message is its log text too when it set none (Exim 4.96, observed: a
	 * nested "accept message = x" under "deny acl = ... message = y" logs x, replies y). */
	if (!c->log_msg.len && c->user_msg.len)
		xbuf_putsv(&c->log_msg, xbuf_sv(&c->user_msg));
	return r;
}

/* Exim 4.96's reading of a number as a condition: C's atoi, an int from strtol's long (so
 * "4294967296" is 0, false, and "99999999999" is not). */
static bool number_is_zero(sv v)
{
	char buf[64];
	bool neg = v.len && v.p[0] == '-';
	size_t i = neg ? 1 : 0;
	while (i < v.len && v.p[i] == '0') i++;   /* only digits here: leading zeros change nothing */
	if (v.len - i > 30)
		return neg;   /* strtol saturates: the low int of LONG_MAX is -1, of LONG_MIN 0 */
	snprintf(buf, sizeof buf, "%s%.*s", neg ? "-" : "", (int)(v.len - i), v.p + i);
	return (int)strtol(buf, NULL, 10) == 0;
}

static acl_result cond_condition(acl_ctx *c, sv arg)
{
	/* As Exim: the expanded value as it is (" yes" is not yes); digits, a minus and digits,
	 * or nothing are a number, true when not 0. */
	sv v = arg;
	size_t digits_from = v.len && v.p[0] == '-' ? 1 : 0, i = digits_from;
	while (i < v.len && isdigit((unsigned char)v.p[i])) i++;
	if (i == v.len)
		return number_is_zero(v) ? ACL_FAIL : ACL_OK;
	if (sv_eqi(v, SV_LIT("no")) || sv_eqi(v, SV_LIT("false")))
		return ACL_FAIL;
	if (sv_eqi(v, SV_LIT("yes")) || sv_eqi(v, SV_LIT("true")))
		return ACL_OK;
	/* A deferral in Exim, not an error: a warn statement is skipped with its line. */
	(void)acl_error(c, "invalid \"condition\" value \"" SV_FMT "\"", SV_ARG(v));
	return ACL_DEFER;
}

static acl_result cond_set(acl_ctx *c, const acl_cond *cd, sv value)
{
	xp_env_set_aclvar(c->env, cd->varname, value);
	if (sv_starts(cd->varname, "acl_m")) {
		acl_engine *e = acl_engine_of(c);
		bool known = false;
		for (size_t i = 0; i < e->nmvars && !known; i++)
			known = sv_eq(e->mvars[i], cd->varname);
		if (!known) {
			if (e->nmvars == e->mvars_cap) {
				size_t ncap = e->mvars_cap ? 2 * e->mvars_cap : 8;
				e->mvars = arena_realloc(e->a, e->mvars, e->mvars_cap * sizeof *e->mvars, ncap * sizeof *e->mvars);
				e->mvars_cap = ncap;
			}
			e->mvars[e->nmvars++] = sv_copy(acl_msg_arena(c), cd->varname);
		}
	}
	/* Onto the message too, so the spool keeps it. */
	if (c->msg)
		message_set_aclvar(c->msg, cd->varname, value);
	return ACL_OK;
}

/* Log names in "main,reject" form -> LOG_* bits; false on an unknown name. */
static bool log_names(sv list, int sep, unsigned *bits, sv *bad)
{
	*bits = 0;
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, list, sep);
	bool ok = true;
	/* Unknown names are reported (the first one) but do not stop the others. */
	while (list_next(&it, &item)) {
		sv name = sv_trim(xbuf_sv(&item));
		if (sv_eqi(name, SV_LIT("main")))
			*bits |= LOG_MAIN;
		else if (sv_eqi(name, SV_LIT("reject")))
			*bits |= LOG_REJECT;
		else if (sv_eqi(name, SV_LIT("panic")))
			*bits |= LOG_PANIC;
		else if (name.len && ok) {
			*bad = sv_copy(pool_scratch, name);
			ok = false;
		}
	}
	xbuf_free(&item);
	return ok;
}

static acl_result cond_logwrite(acl_ctx *c, sv arg)
{
	unsigned bits = LOG_MAIN;
	sv text = arg;
	if (arg.len && arg.p[0] == ':') {
		const char *end = memchr(arg.p + 1, ':', arg.len - 1);
		if (end) {
			sv names = sv_range(arg, 1, (size_t)(end - arg.p));
			sv bad = SV_NULL;
			if (!log_names(names, ',', &bits, &bad)) {
				/* Exim complains (the text escaped like any log text) and goes on without
				 * writing it. */
				xbuf shown;
				xbuf_init(&shown, acl_engine_of(c)->tmp);
				printing_escape(arg, PRINT_TAB_LITERAL, &shown);
				acl_log(c, LOG_MAIN | LOG_PANIC, "unknown log name in \"%s\" in \"logwrite\" in %s ACL",
					xbuf_cstr(&shown), acl_where_name(c->where));
				return ACL_OK;
			}
			text = sv_sub(arg, (size_t)(end - arg.p) + 1, arg.len);
		}
	}
	/* Leading white space of the expanded text goes (after the log names, or without them:
	 * Exim 4.96 logs " 0" as "0"); trailing space from an expansion stays. */
	while (text.len && isspace((unsigned char)text.p[0])) text = sv_sub(text, 1, text.len);
	if (bits) {
		/* Exim writes the text through string_printing: newlines, other controls and
		 * bytes >= 0x80 (unless print_topbitchars) become escape sequences. */
		xbuf esc;
		xbuf_init(&esc, acl_engine_of(c)->tmp);
		printing_escape(text, PRINT_TAB_LITERAL | (conf_main.print_topbitchars ? PRINT_TOPBIT : 0), &esc);
		acl_log(c, bits, "%s", xbuf_cstr(&esc));
	}
	return ACL_OK;
}

static acl_result cond_log_reject_target(acl_ctx *c, sv arg)
{
	unsigned bits;
	sv bad = SV_NULL;
	if (!log_names(arg, 0, &bits, &bad))
		acl_log(c, LOG_MAIN | LOG_PANIC, "unknown log name \"" SV_FMT "\" in \"log_reject_target\" in %s ACL",
			SV_ARG(bad), acl_where_name(c->where));
	c->log_reject_target = bits;
	return ACL_OK;
}

static acl_result cond_delay(acl_ctx *c, sv arg)
{
	int secs;
	if (!interval_parse(sv_trim(arg), &secs) || secs < 0)
		return acl_error(c, "syntax error in argument for \"delay\" modifier: \"" SV_FMT "\" is not a time value",
			SV_ARG(arg));
	c->delay_seconds += secs;
	if (c->host_checking || secs == 0)
		return ACL_OK;
	if (c->ops && c->ops->delay) {
		c->ops->delay(c->ops_ctx, secs);
		return ACL_OK;
	}
	/* Served in full (signals may interrupt nanosleep; the remainder is slept again). */
	struct timespec ts = { secs, 0 }, left;
	while (nanosleep(&ts, &left) != 0)
		ts = left;
	return ACL_OK;
}

/* Append the header gathered in text (if any, and not a duplicate), then start a new one. */
static void add_one_header(acl_ctx *c, acl_header_pos pos, xbuf *text)
{
	if (!text->len)
		return;
	sv t = xbuf_sv(text);
	acl_header **tail = &c->add_headers;
	for (; *tail; tail = &(*tail)->next)
		if (sv_eq((*tail)->text, t)) {
			xbuf_init(text, acl_msg_arena(c));
			return;
		}
	acl_header *h = arena_calloc(acl_msg_arena(c), 1, sizeof *h);
	h->pos = pos;
	h->text = t;
	*tail = h;
	xbuf_init(text, acl_msg_arena(c));   /* the text stays with the header */
}

acl_result acl_add_header(acl_ctx *c, sv arg)
{
	acl_header_pos pos = ACL_HDR_APPEND;
	static const struct { const char *tag; acl_header_pos pos; } tags[] = {
		{ ":at_start:", ACL_HDR_AT_START }, { ":at_start_rfc:", ACL_HDR_AT_START_RFC },
		{ ":after_received:", ACL_HDR_AFTER_RECEIVED }, { ":at_end:", ACL_HDR_APPEND },
	};
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
		if (sv_starts(arg, tags[i].tag)) {
			pos = tags[i].pos;
			arg = sv_sub(arg, strlen(tags[i].tag), arg.len);
			break;
		}
	if (!sv_trim(arg).len)
		return ACL_OK;
	arena *a = acl_msg_arena(c);
	/* Each line that does not continue a header and has no "name:" becomes an X-ACL-Warn header.
	 * Headers are kept one by one: one already added with the same text is not added again
	 * (Exim), e.g. a warn statement's message for each RCPT. */
	xbuf text;
	xbuf_init(&text, a);
	size_t i = 0;
	while (i < arg.len) {
		const char *nl = memchr(arg.p + i, '\n', arg.len - i);
		size_t end = nl ? (size_t)(nl - arg.p) : arg.len;
		sv line = sv_range(arg, i, end);
		i = end + 1;
		if (!line.len)
			continue;
		if (line.p[0] != ' ' && line.p[0] != '\t') {
			add_one_header(c, pos, &text);
			size_t k = 0;
			while (k < line.len && line.p[k] > ' ' && line.p[k] < 127 && line.p[k] != ':')
				k++;
			/* A line starting with ':' counts as a header too (an empty name; Exim 4.96,
			 * observed: ":bogus:X: b" is added as it is). */
			if (!(k < line.len && line.p[k] == ':'))
				xbuf_puts(&text, "X-ACL-Warn: ");
		}
		xbuf_putsv(&text, line);
		xbuf_putc(&text, '\n');
	}
	add_one_header(c, pos, &text);
	return ACL_OK;
}

static acl_result cond_remove_header(acl_ctx *c, sv arg)
{
	xbuf list;
	xbuf_init(&list, c->user_msg.a);
	xbuf_putsv(&list, c->remove_headers);
	list_iter it;
	xbuf item;
	xbuf_init(&item, c->user_msg.a);
	list_iter_init(&it, arg, 0);
	while (list_next(&it, &item))
		if (item.len)
			list_append_item(&list, ':', xbuf_sv(&item));
	c->remove_headers = xbuf_sv(&list);
	return ACL_OK;
}

/* $regex1..$regex9 after a successful regex/mime_regex: kept as acl_m-like state in the env. */
static acl_result cond_regex(acl_ctx *c, sv arg, bool mime)
{
	sv body;
	/* In the MIME ACL: the part, raw for regex, decoded for mime_regex. */
	if (acl_mime_texts(c, mime, &body))
		;
	else if (!c->ops || !c->ops->body || !c->ops->body(c->ops_ctx, &body))
		return acl_error(c, "%s: the message body is not available in this context", mime ? "mime_regex" : "regex");
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);   /* on the heap, freed on return: not a copy per message in pool_conn */
	list_iter_init(&it, arg, 0);
	while (list_next(&it, &item)) {
		int ecode;
		PCRE2_SIZE eoff;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)item.p, item.len, 0, &ecode, &eoff, NULL);
		if (!re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(ecode, msg, sizeof msg);
			acl_result r = acl_error(c, "%s error in regex '%s' at offset %zu: %s", mime ? "mime_regex" : "regex",
				xbuf_cstr(&item), (size_t)eoff, (char *)msg);
			xbuf_free(&item);
			return r;
		}
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
		/* Line by line, as Exim matches (lines of at most 32K; no match spans lines). */
		int rc = 0;
		size_t pos = 0;
		sv line = SV_NULL;
		while (rc <= 0 && pos < body.len) {
			size_t e = pos;
			while (e < body.len && body.p[e] != '\n' && e - pos < ACL_REGEX_MAX_LINE)
				e++;
			line = sv_range(body, pos, e);
			if (line.len && line.p[line.len - 1] == '\r')
				line.len--;
			pos = e < body.len && body.p[e] == '\n' ? e + 1 : e;
			rc = pcre2_match(re, (PCRE2_SPTR)line.p, line.len, 0, 0, md, NULL);
		}
		if (rc > 0) {
			acl_engine *e = acl_engine_of(c);
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			e->nregex = 0;
			for (int i = 1; i < rc && i <= 9; i++) {
				sv cap = ov[2 * i] == PCRE2_UNSET ? SV_LIT("")
					: sv_make(line.p + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
				/* each $regexN keeps one buffer, rewritten: a copy per match grew the
				 * connection's arena with every message */
				e->regex[e->nregex] = sv_tainted(acl_keep_text(e, &e->regex_texts[e->nregex], cap));
				e->nregex++;
			}
		}
		pcre2_match_data_free(md);
		pcre2_code_free(re);
		if (rc > 0) {
			xbuf_free(&item);
			return ACL_OK;
		}
	}
	xbuf_free(&item);
	return ACL_FAIL;
}

static acl_result cond_dnslists(acl_ctx *c, sv arg)
{
	/* Without a client address only items with explicit keys are looked up. */
	sv ip = c->origin ? c->origin->host_address : SV_LIT("");
	dnslist_vars v = { 0 };
	xbuf err;
	/* $dnslist_* last one top-level ACL run (acl_ctx_begin forgets them), as do the run's
	 * temporaries: not the connection's arena (a copy per message otherwise). */
	arena *tmp = acl_engine_of(c)->tmp;
	xbuf_init(&err, tmp);
	int rc = dns_dnslists(tmp, c->env, arg, ip, &v, &err);
	if (rc == 1) {
		c->dnslist_domain = v.domain;
		c->dnslist_matched = v.matched;
		c->dnslist_text = v.text;
		c->dnslist_value = v.value;
		return ACL_OK;
	}
	if (rc == 2) {
		xbuf_reset(&c->log_msg);
		xbuf_putsv(&c->log_msg, xbuf_sv(&err));
		return ACL_DEFER;
	}
	if (err.len)
		return acl_error(c, "%s", xbuf_cstr(&err));
	return ACL_FAIL;
}

acl_result acl_cond_run(acl_ctx *c, const acl_cond *cd, sv arg, int verb)
{
	(void)verb;
	const msg_origin *o = c->origin;
	switch (cd->id) {
	case C_ACL:
		return cond_acl(c, arg);
	case C_ADD_HEADER:
		return acl_add_header(c, arg);
	case C_AUTHENTICATED:
		if (!c->authenticated)
			return ACL_FAIL;
		/* the authenticator's name against a pattern list ("*", "^regex", names), caselessly */
		return list_match(c, o ? o->auth_driver : SV_LIT(""), arg, MATCH_LOCALPART, true);
	case C_CONDITION:
		return cond_condition(c, arg);
	case C_CONTINUE:
		return ACL_OK;
	case C_CONTROL:
		return acl_control(c, arg);
	case C_DELAY:
		return cond_delay(c, arg);
	case C_DECODE:
		return acl_mime_decode(c, arg);
	case C_DNSLISTS:
		return cond_dnslists(c, arg);
	case C_DOMAINS:
		return list_match_data(c, domain_of(c->recipient), arg, MATCH_DOMAIN, true, &c->domain_data);
	case C_ENCRYPTED:
		if (!o || !o->tls_cipher.len)
			return ACL_FAIL;
		return list_match(c, o->tls_cipher, arg, MATCH_LOCALPART, true);
	case C_HOSTS:
		if (!o || !o->host_address.len)
			return list_match(c, SV_LIT(""), arg, MATCH_STRING, false); /* only an empty item matches */
		return list_match(c, o->host_address, arg, MATCH_HOST, true);
	case C_LOCAL_PARTS:
		/* the unquoted local part is only the subject here: a temporary of this run */
		return list_match_data(c, acl_local_part(acl_engine_of(c)->tmp, c->recipient), arg, MATCH_LOCALPART, true,
			&c->local_part_data);
	case C_LOG_REJECT_TARGET:
		return cond_log_reject_target(c, arg);
	case C_LOGWRITE:
		return cond_logwrite(c, arg);
	case C_MIME_REGEX:
		return cond_regex(c, arg, true);
	case C_QUEUE:
		/* The message is spooled in the queue current when it is accepted (core/queue_named.h). */
		c->queue = sv_copy(acl_msg_arena(c), arg);   /* forgotten at the message's end */
		return queue_named_acl(c, arg);
	case C_RATELIMIT:
		return acl_ratelimit(c, arg);
	case C_RECIPIENTS:
		return list_match(c, c->recipient, arg, MATCH_ADDRESS, true);
	case C_REGEX:
		return cond_regex(c, arg, false);
	case C_REMOVE_HEADER:
		return cond_remove_header(c, arg);
	case C_SEEN:
		return acl_seen(c, arg);
	case C_SENDER_DOMAINS:
		return list_match(c, domain_of(sender_of(c)), arg, MATCH_DOMAIN, true);
	case C_SENDERS:
		return list_match(c, sender_of(c), arg, MATCH_ADDRESS, true);
	case C_SET:
		return cond_set(c, cd, arg);
	case C_UDPSEND:
		return acl_udpsend(c, arg);
	case C_VERIFY:
		return acl_verify(c, arg);
	default: {
		const acl_cond_def *def = acl_cond_def_get(cd->id);
		if (def && def->fn)
			return def->fn(c, arg);
		return acl_error(c, "internal error: unknown ACL condition %d", cd->id);
	}
	}
}
