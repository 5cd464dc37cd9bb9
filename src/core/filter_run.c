/* Interpreting a parsed Exim filter against one message: conditions, commands, $n0..$n9,
 * $sn0..$sn9, $thisaddress, and the action list of filter.h. No I/O happens here. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/filter_internal.h"
#include "expand/message.h"
#include "lib/printing.h"
#include "mail/address.h"

typedef struct run {
	filter_ctx *ctx;
	filter_result *res;
	arena *a;
	bool system;
	bool stop;           /* finish, fail, freeze, defer or an error */
	sv thisaddress;
	const char *mail_cmd;  /* "mail" or "vacation", for error messages */
	xp_provider prov;
} run;

static void run_error(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_error(run *r, const char *fmt, ...)
{
	if (r->res->outcome == FILTER_ERROR)
		return;
	xbuf b;
	xbuf_init(&b, r->a);
	va_list ap;
	va_start(ap, fmt);
	xbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	r->res->error = xbuf_sv(&b);
	r->res->outcome = FILTER_ERROR;
	r->stop = true;
}

/* $n0..$n9, $sn0..$sn9 and $thisaddress. */
static bool filter_vars(void *vctx, sv name, xbuf *out)
{
	run *r = vctx;
	if (sv_eq_cstr(name, "thisaddress")) {
		xbuf_putsv(out, r->thisaddress);
		return true;
	}
	if (name.len == 2 && name.p[0] == 'n' && isdigit((unsigned char)name.p[1])) {
		xbuf_printf(out, "%lld", r->res->n[name.p[1] - '0']);
		return true;
	}
	if (name.len == 3 && name.p[0] == 's' && name.p[1] == 'n' && isdigit((unsigned char)name.p[2])) {
		xbuf_printf(out, "%lld", r->ctx->sn[name.p[2] - '0']);
		return true;
	}
	return false;
}

/* Expand src; on failure records Exim's error naming the command (where: "testprint command",
 * "filter file"). */
static bool expand(run *r, sv src, const char *where, sv *out)
{
	xbuf o, e;
	xbuf_init(&o, r->a);
	xbuf_init(&e, r->a);
	int rc = xp_expand(r->ctx->env, src, &o, &e);
	if (rc != XP_OK) {
		run_error(r, "failed to expand \"" SV_FMT "\" in %s: %s", SV_ARG(src), where, xbuf_cstr(&e));
		return false;
	}
	*out = xbuf_sv(&o);
	return true;
}

static filter_action *add_action(run *r, filter_action_kind k, const fcmd *c)
{
	filter_action *act = arena_alloc(r->a, sizeof *act);
	memset(act, 0, sizeof *act);
	act->kind = k;
	act->mode = -1;
	if (c) {
		act->seen = c->seen > 0;
		act->unseen = c->seen < 0;
		act->noerror = c->noerror;
	}
	if (r->res->tail)
		r->res->tail->next = act;
	else
		r->res->actions = act;
	r->res->tail = act;
	return act;
}

/* Exim's numbers for "is above"/"is below" and add: optional sign, digits, optional K or M,
 * with the arithmetic of a C int as Exim has it (observed: 2147483648 is below 1, an overflowing
 * number reads as -1, 3000M wraps). */
static int32_t wrap32(long long v)
{
	return (int32_t)(uint32_t)(unsigned long long)v;
}

static bool parse_number(sv s, bool suffix, long long *out)
{
	size_t i = 0;
	while (i < s.len && isspace((unsigned char)s.p[i]))
		i++;
	bool neg = false;
	if (i < s.len && (s.p[i] == '-' || s.p[i] == '+'))
		neg = s.p[i++] == '-';
	size_t start = i;
	unsigned long long v = 0;
	bool overflow = false;
	while (i < s.len && isdigit((unsigned char)s.p[i])) {
		if (v > (unsigned long long)LLONG_MAX / 10)
			overflow = true;
		else
			v = v * 10 + (unsigned)(s.p[i] - '0');
		i++;
	}
	if (i == start)
		return false;
	/* strtol's saturation, then the conversion to int */
	long long sv_ = overflow || v > (unsigned long long)LLONG_MAX ? (neg ? LLONG_MIN : LLONG_MAX)
		: (neg ? -(long long)v : (long long)v);
	int32_t n = wrap32(sv_);
	if (!suffix) {
		/* add takes a plain number */
	} else if (i < s.len && (s.p[i] == 'k' || s.p[i] == 'K')) {
		n = wrap32((long long)n * 1024);
		i++;
	} else if (i < s.len && (s.p[i] == 'm' || s.p[i] == 'M')) {
		n = wrap32((long long)n * 1024 * 1024);
		i++;
	}
	if (i != s.len)
		return false;
	*out = n;
	return true;
}

static bool contains_ci(sv hay, sv needle, bool caseful)
{
	if (needle.len == 0)
		return caseful; /* as Exim: CONTAINS "" is true (strstr), contains "" is false */
	for (size_t i = 0; i + needle.len <= hay.len; i++) {
		sv part = sv_make(hay.p + i, needle.len);
		if (caseful ? sv_eq(part, needle) : sv_eqi(part, needle))
			return true;
	}
	return false;
}

static bool regex_match(run *r, sv subject, sv pattern, bool caseful, bool *result)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)(pattern.p ? pattern.p : ""), pattern.len,
		caseful ? 0 : PCRE2_CASELESS, &ec, &eo, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		run_error(r, "error while compiling regular expression \"" SV_FMT "\": %s at offset %zu",
			SV_ARG(pattern), (const char *)msg, (size_t)eo);
		return false;
	}
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
	int rc = pcre2_match(code, (PCRE2_SPTR)(subject.p ? subject.p : ""), subject.len, 0, 0, md, NULL);
	*result = rc >= 0;
	if (rc >= 0) {
		/* A successful match sets $0, $1...; they stay set after the if (Exim's rule). */
		xp_env *env = r->ctx->env;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		int n = rc == 0 ? XP_MAX_NUMERIC : rc;
		if (n > XP_MAX_NUMERIC)
			n = XP_MAX_NUMERIC;
		for (int i = 0; i < n; i++)
			env->numeric[i] = ov[2 * i] == PCRE2_UNSET ? SV_NULL
				: sv_copy(r->a, sv_sub(subject, ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
		env->nnumeric = n;
	}
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	return true;
}

static bool eval_cond(run *r, const fcond *c, bool *result);

/* For each address in list (header syntax, groups allowed) set $thisaddress and test sub. */
static bool for_any_address(run *r, sv list, const fcond *sub, bool *result)
{
	*result = false;
	addr_group_state groups = { .allow = true };
	size_t pos = 0;
	sv itemv;
	while (addr_next_item(list, &pos, &itemv)) {
		xbuf out;
		xbuf_init(&out, r->a);
		addr_parsed info;
		const char *why;
		if (!addr_extract(itemv, &groups, &out, &info, &why) || info.empty)
			continue;
		r->thisaddress = xbuf_sv(&out);
		if (!eval_cond(r, sub, result))
			return false;
		if (*result)
			return true;
	}
	return true;
}

static bool header_value(run *r, const char *var, sv *out)
{
	return expand(r, sv_cstr(var), "filter file", out);
}

/* The personal condition (the spec's "basic personal test", plus alias addresses). */
static bool personal(run *r, const fcond *c, bool *result)
{
	*result = false;
	/* Exim's personal is never true in a system filter (observed with -bF). */
	if (r->ctx->error_message || r->system)
		return true;
	/* Mailing-list headers, by name (the first header counts too). */
	static const char *const lists[] = { "List-Id", "List-Help", "List-Subscribe",
		"List-Unsubscribe", "List-Post", "List-Owner", "List-Archive" };
	const xp_message *msg = r->ctx->env->msg;
	for (size_t h = 0; msg && h < msg->nheaders; h++)
		for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
			if (sv_eqi(msg->headers[h].name, sv_cstr(lists[i])))
				return true;
	sv autosub, prec, to, from;
	if (!header_value(r, "${if def:h_auto-submitted:{present}{absent}}", &autosub) ||
		!header_value(r, "$h_auto-submitted:", &prec))
		return false;
	if (sv_eq_cstr(autosub, "present") && !sv_eqi(prec, SV_LIT("no")))
		return true;
	if (!header_value(r, "$h_precedence:", &prec))
		return false;
	if (contains_ci(prec, SV_LIT("bulk"), false) || contains_ci(prec, SV_LIT("list"), false) ||
		contains_ci(prec, SV_LIT("junk"), false))
		return true;
	xbuf me;
	xbuf_init(&me, r->a);
	xbuf_putsv(&me, r->ctx->local_part);
	xbuf_putc(&me, '@');
	xbuf_putsv(&me, r->ctx->domain);
	/* The user's own addresses: local_part@domain, the same with prefix and suffix, and each
	 * alias. */
	int nme = 2 + c->naliases;
	sv *mine = arena_alloc(r->a, (size_t)nme * sizeof *mine);
	mine[0] = xbuf_sv(&me);
	xbuf full;
	xbuf_init(&full, r->a);
	xbuf_putsv(&full, r->ctx->prefix);
	xbuf_putsv(&full, r->ctx->local_part);
	xbuf_putsv(&full, r->ctx->suffix);
	xbuf_putc(&full, '@');
	xbuf_putsv(&full, r->ctx->domain);
	mine[1] = xbuf_sv(&full);
	for (int i = 0; i < c->naliases; i++)
		mine[i + 2] = c->aliases[i]; /* used as written: Exim does not expand them */
	if (!header_value(r, "$h_to:", &to) || !header_value(r, "$h_from:", &from))
		return false;
	addr_group_state groups = { .allow = true };
	size_t pos = 0;
	sv itemv;
	bool to_me = false;
	while (!to_me && addr_next_item(to, &pos, &itemv)) {
		xbuf out;
		xbuf_init(&out, r->a);
		addr_parsed info;
		const char *why;
		if (!addr_extract(itemv, &groups, &out, &info, &why) || info.empty)
			continue;
		for (int i = 0; i < nme && !to_me; i++)
			to_me = sv_eqi(xbuf_sv(&out), mine[i]);
	}
	if (!to_me)
		return true;
	/* Senders that are robots, by local part (observed: equality, not "contains"). */
	static const char *const robots[] = { "server", "daemon", "root", "listserv", "majordomo" };
	groups = (addr_group_state){ .allow = true };
	pos = 0;
	while (addr_next_item(from, &pos, &itemv)) {
		xbuf out;
		xbuf_init(&out, r->a);
		addr_parsed info;
		const char *why;
		if (!addr_extract(itemv, &groups, &out, &info, &why) || info.empty)
			continue;
		sv a = xbuf_sv(&out);
		for (int i = 0; i < nme; i++)
			if (sv_eqi(a, mine[i]))
				return true;
		sv local = sv_make(a.p, info.local_len);
		for (size_t i = 0; i < sizeof robots / sizeof robots[0]; i++)
			if (sv_eqi(local, sv_cstr(robots[i])))
				return true;
		if (local.len >= 8 && sv_eqi(sv_make(local.p + local.len - 8, 8), SV_LIT("-request")))
			return true;
		if (local.len > 6 && sv_eqi(sv_make(local.p, 6), SV_LIT("owner-")))
			return true;
	}
	*result = true;
	return true;
}

static bool eval_cond(run *r, const fcond *c, bool *result)
{
	bool l;
	switch (c->kind) {
	case FC_AND:
		if (!eval_cond(r, c->left, &l))
			return false;
		if (!l) {
			*result = false;
			return true;
		}
		return eval_cond(r, c->right, result);
	case FC_OR:
		if (!eval_cond(r, c->left, &l))
			return false;
		if (l) {
			*result = true;
			return true;
		}
		return eval_cond(r, c->right, result);
	case FC_NOT:
		if (!eval_cond(r, c->left, &l))
			return false;
		*result = !l;
		return true;
	case FC_DELIVERED:
		*result = r->res->significant;
		return true;
	case FC_ERROR_MESSAGE:
		*result = r->ctx->error_message;
		return true;
	case FC_FIRST_DELIVERY:
		*result = r->ctx->first_delivery;
		return true;
	case FC_MANUALLY_THAWED:
		*result = r->ctx->manually_thawed;
		return true;
	case FC_PERSONAL:
		return personal(r, c, result);
	case FC_FORANYADDRESS: {
		sv list;
		if (!expand(r, c->a, "filter file", &list))
			return false;
		return for_any_address(r, list, c->left, result);
	}
	default:
		break;
	}
	sv a, b;
	if (!expand(r, c->a, "filter file", &a) || !expand(r, c->b, "filter file", &b))
		return false;
	switch (c->kind) {
	case FC_IS:
		*result = c->caseful ? sv_eq(a, b) : sv_eqi(a, b);
		return true;
	case FC_CONTAINS:
		*result = contains_ci(a, b, c->caseful);
		return true;
	case FC_BEGINS:
		*result = b.len <= a.len && (c->caseful ? sv_eq(sv_make(a.p, b.len), b)
			: sv_eqi(sv_make(a.p, b.len), b));
		return true;
	case FC_ENDS:
		*result = b.len <= a.len && (c->caseful ? sv_eq(sv_make(a.p + a.len - b.len, b.len), b)
			: sv_eqi(sv_make(a.p + a.len - b.len, b.len), b));
		return true;
	case FC_MATCHES:
		return regex_match(r, a, b, c->caseful, result);
	case FC_ABOVE:
	case FC_BELOW: {
		long long x, y;
		if (!parse_number(a, true, &x)) {
			run_error(r, "malformed numerical string \"" SV_FMT "\"", SV_ARG(a));
			return false;
		}
		if (!parse_number(b, true, &y)) {
			run_error(r, "malformed numerical string \"" SV_FMT "\"", SV_ARG(b));
			return false;
		}
		*result = c->kind == FC_ABOVE ? x > y : x < y;
		return true;
	}
	default:
		run_error(r, "internal error: unknown condition");
		return false;
	}
}

/* The address a deliver command names: extracted from header syntax, qualified. */
static bool deliver_address(run *r, sv text, sv *out)
{
	xbuf b;
	xbuf_init(&b, r->a);
	addr_parsed info = { 0 };
	const char *why = NULL;
	if (sv_trim(text).len == 0) {
		run_error(r, "malformed address \"\" in filter file: empty address");
		return false;
	}
	if (!addr_extract(text, NULL, &b, &info, &why) || info.empty || info.local_len == 0) {
		why = info.empty ? "missing or malformed local part" : filter_address_error(text, r->a);
		xbuf pr;
		xbuf_init(&pr, r->a);
		printing_escape(text, 0, &pr);
		run_error(r, "malformed address \"%s\" in filter file: %s", xbuf_cstr(&pr), why);
		return false;
	}
	if (info.has_domain && info.local_len + 1 < b.len && b.p[info.local_len + 1] == '[') {
		xbuf pr;
		xbuf_init(&pr, r->a);
		printing_escape(text, 0, &pr);
		run_error(r, "malformed address \"%s\" in filter file: domain literals not allowed",
			xbuf_cstr(&pr));
		return false;
	}
	if (!info.has_domain) {
		xbuf_putc(&b, '@');
		xbuf_putsv(&b, r->ctx->qualify_domain.len ? r->ctx->qualify_domain : r->ctx->domain);
	}
	*out = xbuf_sv(&b);
	return true;
}

/* Header-like mail fields may contain a newline only as folding. */
static bool check_folding(run *r, sv v)
{
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\n' && (i + 1 >= v.len || (v.p[i + 1] != ' ' && v.p[i + 1] != '\t'))) {
			xbuf pr;
			xbuf_init(&pr, r->a);
			printing_escape(v, 0, &pr);
			run_error(r, "\\n not followed by space in \"%s\" in %s command", xbuf_cstr(&pr),
				r->mail_cmd);
			return false;
		}
	}
	return true;
}

/* extra_headers: after a newline, a blank (folding) or a header name and its colon. */
static bool check_extra_headers(run *r, sv v)
{
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] != '\n')
			continue;
		size_t k = i + 1;
		bool ok = k < v.len && (v.p[k] == ' ' || v.p[k] == '\t');
		if (!ok) {
			while (k < v.len && v.p[k] > ' ' && v.p[k] < 127 && v.p[k] != ':')
				k++;
			ok = k > i + 1 && k < v.len && v.p[k] == ':';
		}
		if (!ok) {
			xbuf pr;
			xbuf_init(&pr, r->a);
			printing_escape(v, 0, &pr);
			run_error(r, "\\n not followed by space or valid header name in \"%s\" in %s command",
				xbuf_cstr(&pr), r->mail_cmd);
			return false;
		}
	}
	return true;
}

/* file, log, once and once_repeat: printing characters and tabs only (observed). */
static bool check_printing(run *r, sv v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char ch = (unsigned char)v.p[i];
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) {
			xbuf pr;
			xbuf_init(&pr, r->a);
			printing_escape(v, 0, &pr);
			run_error(r, "non-printing character in \"%s\" in %s command", xbuf_cstr(&pr),
				r->mail_cmd);
			return false;
		}
	}
	return true;
}

static void do_mail(run *r, const fcmd *c)
{
	filter_mail *m = arena_alloc(r->a, sizeof *m);
	memset(m, 0, sizeof *m);
	m->vacation = c->kind == FK_VACATION;
	r->mail_cmd = m->vacation ? "vacation" : "mail";
	sv *fields[FM_COUNT] = { &m->to, &m->cc, &m->bcc, &m->from, &m->reply_to, &m->subject,
		&m->extra_headers, &m->text, &m->file, &m->log, &m->once, &m->once_repeat };
	for (int i = 0; i < FM_COUNT; i++) {
		if (sv_is_null(c->mail[i]))
			continue;
		if (!expand(r, c->mail[i], m->vacation ? "vacation command" : "mail command", fields[i]))
			return;
		if (i <= FM_SUBJECT && !check_folding(r, *fields[i]))
			return;
		if (i == FM_EXTRA_HEADERS && !check_extra_headers(r, *fields[i]))
			return;
		if (i >= FM_FILE && !check_printing(r, *fields[i]))
			return;
	}
	m->expand_file = c->expand_file;
	m->return_message = c->return_message;
	if (m->vacation) {
		/* The traditional vacation program's names; an explicit file is expanded only on request. */
		if (sv_is_null(m->subject))
			m->subject = SV_LIT("On vacation");
		if (sv_is_null(m->file)) {
			m->file = SV_LIT(".vacation.msg");
			m->expand_file = true;
		}
		if (sv_is_null(m->log))
			m->log = SV_LIT(".vacation.log");
		if (sv_is_null(m->once))
			m->once = SV_LIT(".vacation");
		if (sv_is_null(m->once_repeat))
			m->once_repeat = SV_LIT("7d");
	}
	filter_action *act = add_action(r, FA_MAIL, c);
	act->mail = m;
	act->significant = c->seen > 0;
}

static void header_add_one(arena *a, xp_message *msg, sv text)
{
	size_t colon = 0;
	while (colon < text.len && text.p[colon] != ':')
		colon++;
	if (colon == text.len)
		return;
	/* Leading blanks go; blanks before the colon stay part of the name (as in Exim, where such
	 * a header is listed but matches no $h_ variable). */
	size_t s = 0;
	while (s < colon && (text.p[s] == ' ' || text.p[s] == '\t'))
		s++;
	sv name = sv_make(text.p + s, colon - s);
	xbuf body;
	xbuf_init(&body, a);
	xbuf_putsv(&body, sv_sub(text, colon + 1, text.len));
	if (body.len == 0 || body.p[body.len - 1] != '\n')
		xbuf_putc(&body, '\n');
	xp_message_add_header(a, msg, sv_dup(a, name), xbuf_cstr(&body));
}

/* The text may hold several header lines: a newline not followed by white space starts the next. */
static void headers_add_to(arena *a, xp_message *msg, sv text)
{
	if (!msg)
		return;
	size_t start = 0;
	for (size_t i = 0; i <= text.len; i++) {
		if (i == text.len || (text.p[i] == '\n' && (i + 1 >= text.len ||
				(text.p[i + 1] != ' ' && text.p[i + 1] != '\t')))) {
			if (i > start)
				header_add_one(a, msg, sv_make(text.p + start, i - start));
			start = i + 1;
		}
	}
}

static void headers_remove_from(xp_message *msg, sv list)
{
	if (!msg)
		return;
	size_t pos = 0;
	while (pos <= list.len) {
		size_t e = pos;
		while (e < list.len && list.p[e] != ':')
			e++;
		sv name = sv_trim(sv_make(list.p + pos, e - pos));
		if (name.len) {
			size_t k = 0;
			for (size_t i = 0; i < msg->nheaders; i++)
				if (!sv_eqi(msg->headers[i].name, name))
					msg->headers[k++] = msg->headers[i];
			msg->nheaders = k;
		}
		pos = e + 1;
	}
}

static void headers_add(run *r, sv text)
{
	headers_add_to(r->a, r->ctx->msg, text);
}

static void headers_remove(run *r, sv list)
{
	headers_remove_from(r->ctx->msg, list);
}

void filter_apply_headers_view(xp_message *msg, const filter_result *res, arena *a)
{
	for (const filter_action *act = res->actions; act; act = act->next) {
		if (act->kind == FA_HEADERS_ADD)
			headers_add_to(a, msg, act->arg);
		else if (act->kind == FA_HEADERS_REMOVE)
			headers_remove_from(msg, act->arg);
	}
}

static void exec_cmds(run *r, const fcmd *c);

static void exec_one(run *r, const fcmd *c)
{
	filter_action *act;
	sv v;
	switch (c->kind) {
	case FK_IF: {
		/* $thisaddress is restored at the end of the if command. */
		sv saved = r->thisaddress;
		const fcmd *branch = c;
		while (branch && branch->kind == FK_IF) {
			bool ok;
			if (!eval_cond(r, branch->cond, &ok))
				return;
			if (ok) {
				exec_cmds(r, branch->then_cmds);
				branch = NULL;
				break;
			}
			/* An elif is an if standing alone as the else part. */
			const fcmd *e = branch->else_cmds;
			if (e && e->is_elif) {
				branch = e;
				continue;
			}
			exec_cmds(r, e);
			branch = NULL;
		}
		r->thisaddress = saved;
		return;
	}
	case FK_DELIVER: {
		sv text, addr;
		if (!expand(r, c->arg, "deliver command", &text) || !deliver_address(r, text, &addr))
			return;
		sv errors_to = SV_NULL;
		if (c->has_arg2) {
			sv et;
			if (!expand(r, c->arg2, "deliver command", &et) || !deliver_address(r, et, &errors_to))
				return;
			/* A user's filter may only name its own address; the system filter any (observed
			 * with Exim 4.96: "deliver x errors_to eto@vm" in a system filter sends x's
			 * failure report to eto@vm). */
			xbuf me;
			xbuf_init(&me, r->a);
			xbuf_putsv(&me, r->ctx->local_part);
			xbuf_putc(&me, '@');
			xbuf_putsv(&me, r->ctx->domain);
			if (!r->system && !sv_eqi(errors_to, xbuf_sv(&me))) {
				run_error(r, "errors_to must point to the caller's address");
				return;
			}
		}
		act = add_action(r, FA_DELIVER, c);
		act->arg = addr;
		act->errors_to = errors_to;
		act->significant = c->seen >= 0;
		break;
	}
	case FK_SAVE:
		if (!expand(r, c->arg, "save command", &v))
			return;
		act = add_action(r, FA_SAVE, c);
		act->arg = v;
		act->mode = c->mode;
		act->significant = c->seen >= 0;
		break;
	case FK_PIPE:
		act = add_action(r, FA_PIPE, c);
		act->arg = c->arg; /* expanded by the pipe transport after splitting */
		act->significant = c->seen >= 0;
		break;
	case FK_MAIL:
	case FK_VACATION:
		if (r->ctx->null_return_path) {
			/* Autoreplies are never sent for a message without a return path. */
			act = add_action(r, FA_MAIL_IGNORED, c);
			act->arg = c->kind == FK_MAIL ? SV_LIT("mail") : SV_LIT("vacation");
		} else {
			do_mail(r, c);
		}
		break;
	case FK_LOGFILE:
		if (!expand(r, c->arg, "logfile command", &v))
			return;
		act = add_action(r, FA_LOGFILE, c);
		act->arg = v;
		act->mode = c->mode;
		break;
	case FK_LOGWRITE: {
		if (r->ctx->forbid_logwrite) {
			run_error(r, "logwrite command forbidden");
			return;
		}
		if (!expand(r, c->arg, "logwrite command", &v))
			return;
		act = add_action(r, FA_LOGWRITE, c);
		act->arg = v;
		break;
	}
	case FK_TESTPRINT:
		if (!expand(r, c->arg, "testprint command", &v))
			return;
		act = add_action(r, FA_TESTPRINT, c);
		act->arg = v;
		break;
	case FK_FINISH:
		add_action(r, FA_FINISH, c);
		r->stop = true;
		break;
	case FK_FAIL:
	case FK_FREEZE:
	case FK_DEFER:
		v = SV_LIT("");
		if (!sv_is_null(c->arg) && !expand(r, c->arg,
				c->kind == FK_FAIL ? "fail command" : c->kind == FK_FREEZE ? "freeze command"
				: "defer command", &v))
			return;
		act = add_action(r, c->kind == FK_FAIL ? FA_FAIL : c->kind == FK_FREEZE ? FA_FREEZE : FA_DEFER, c);
		act->arg = v;
		r->res->outcome = c->kind == FK_FAIL ? FILTER_FAIL : c->kind == FK_FREEZE ? FILTER_FREEZE
			: FILTER_DEFER;
		r->stop = true;
		break;
	case FK_HEADERS_ADD:
	case FK_HEADERS_REMOVE:
	case FK_HEADERS_CHARSET:
		if (!expand(r, c->arg, "headers command", &v))
			return;
		act = add_action(r, c->kind == FK_HEADERS_ADD ? FA_HEADERS_ADD
			: c->kind == FK_HEADERS_REMOVE ? FA_HEADERS_REMOVE : FA_HEADERS_CHARSET, c);
		act->arg = v;
		if (c->kind == FK_HEADERS_ADD)
			headers_add(r, v);
		else if (c->kind == FK_HEADERS_REMOVE)
			headers_remove(r, v);
		break;
	case FK_ADD: {
		sv amount, var;
		long long n;
		if (!expand(r, c->arg, "add command", &amount) || !expand(r, c->arg2, "add command", &var))
			return;
		if (!parse_number(amount, false, &n)) {
			run_error(r, "malformed number \"" SV_FMT "\" in \"add\" command", SV_ARG(amount));
			return;
		}
		if (var.len != 2 || var.p[0] != 'n' || !isdigit((unsigned char)var.p[1])) {
			run_error(r, "unknown variable \"" SV_FMT "\" in \"add\" command", SV_ARG(var));
			return;
		}
		act = add_action(r, FA_ADD, c);
		act->var = var.p[1] - '0';
		act->amount = n;
		r->res->n[act->var] = wrap32(r->res->n[act->var] + n);
		break;
	}
	}
	/* "seen" makes any command significant. */
	if (c->seen > 0)
		r->res->significant = true;
	else if (r->res->tail && r->res->tail->significant)
		r->res->significant = true;
}

static void exec_cmds(run *r, const fcmd *c)
{
	for (; c && !r->stop; c = c->next)
		exec_one(r, c);
}

filter_outcome filter_run(const filter *f, filter_ctx *ctx, arena *a, filter_result *res)
{
	memset(res, 0, sizeof *res);
	res->outcome = FILTER_NOT_DELIVERED;
	run r = { .ctx = ctx, .res = res, .a = a, .system = f->system };
	r.prov.get = filter_vars;
	r.prov.ctx = &r;
	xp_provider *saved = ctx->env->providers;
	xp_env_push_provider(ctx->env, &r.prov);
	exec_cmds(&r, f->cmds);
	ctx->env->providers = saved;
	if (res->outcome == FILTER_NOT_DELIVERED && res->significant)
		res->outcome = FILTER_DELIVERED;
	return res->outcome;
}
