/* The ACL engine: contexts and their variables, running statements with Exim 4.96's verb
 * semantics, message/log_message timing and folding, nesting ("acl =", ${acl}) with
 * $acl_arg1..9. Finding and parsing ACLs is in acl_source.c and acl_parse.c; conditions are in
 * acl_conds.c and its siblings. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/acl_internal.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "lib/printing.h"

#define ACL_MAX_DEPTH 20               /* Exim's limit on nested ACLs */

static const char *const where_names[ACL_WHERE_COUNT] = {
	[ACL_WHERE_RCPT] = "RCPT", [ACL_WHERE_MAIL] = "MAIL", [ACL_WHERE_PREDATA] = "PREDATA",
	[ACL_WHERE_MIME] = "MIME", [ACL_WHERE_DKIM] = "DKIM", [ACL_WHERE_DATA] = "DATA",
	[ACL_WHERE_PRDR] = "PRDR", [ACL_WHERE_NOTSMTP] = "non-SMTP", [ACL_WHERE_AUTH] = "AUTH",
	[ACL_WHERE_CONNECT] = "connection", [ACL_WHERE_ETRN] = "ETRN", [ACL_WHERE_EXPN] = "EXPN",
	[ACL_WHERE_HELO] = "EHLO or HELO", [ACL_WHERE_MAILAUTH] = "MAILAUTH",
	[ACL_WHERE_NOTSMTP_START] = "non-SMTP-start", [ACL_WHERE_NOTQUIT] = "NOTQUIT",
	[ACL_WHERE_QUIT] = "QUIT", [ACL_WHERE_STARTTLS] = "STARTTLS", [ACL_WHERE_VRFY] = "VRFY",
	[ACL_WHERE_DELIVERY] = "delivery", [ACL_WHERE_UNKNOWN] = "unknown",
};

const char *acl_where_name(acl_where w)
{
	return w < ACL_WHERE_COUNT ? where_names[w] : "unknown";
}

/* ---- engine state and its variables ---- */

static bool engine_vars(void *ctx, sv name, xbuf *out)
{
	acl_engine *e = ctx;
	if (sv_eq_cstr(name, "acl_narg")) {
		xbuf_printf(out, "%d", e->nargs);
		return true;
	}
	if (name.len == 8 && sv_starts(name, "acl_arg") && name.p[7] >= '1' && name.p[7] <= '9') {
		int i = name.p[7] - '1';
		if (i < e->nargs)
			xbuf_putsv(out, e->args[i]);
		return true;
	}
	if (e->have_rate && sv_starts(name, "sender_rate")) {
		sv rest = sv_sub(name, 11, name.len);
		if (!rest.len)
			xbuf_putsv(out, e->sender_rate);
		else if (sv_eq_cstr(rest, "_limit"))
			xbuf_putsv(out, e->sender_rate_limit);
		else if (sv_eq_cstr(rest, "_period"))
			xbuf_putsv(out, e->sender_rate_period);
		else
			return false;
		return true;
	}
	if (name.len == 6 && sv_starts(name, "regex") && name.p[5] >= '1' && name.p[5] <= '9') {
		int i = name.p[5] - '1';
		if (i < e->nregex)
			xbuf_putsv(out, e->regex[i]);
		return true;
	}
	if (sv_starts(name, "dnslist_") && e->ctx) {
		const acl_ctx *c = e->ctx;
		sv rest = sv_sub(name, 8, name.len);
		const sv *v = sv_eq_cstr(rest, "domain") ? &c->dnslist_domain : sv_eq_cstr(rest, "matched")
			? &c->dnslist_matched : sv_eq_cstr(rest, "text") ? &c->dnslist_text
			: sv_eq_cstr(rest, "value") ? &c->dnslist_value : NULL;
		if (!v)
			return false;
		xbuf_putsv(out, *v);
		return true;
	}
	if (e->ctx && (sv_eq_cstr(name, "domain_data") || sv_eq_cstr(name, "local_part_data"))) {
		sv v = name.p[0] == 'd' ? e->ctx->domain_data : e->ctx->local_part_data;
		if (!v.p)
			return false;
		xbuf_putsv(out, v);
		return true;
	}
	if (acl_mime_var(e, name, out))
		return true;
	if (sv_eq_cstr(name, "csa_status") && e->csa_status.p) {
		xbuf_putsv(out, e->csa_status);
		return true;
	}
	if (sv_eq_cstr(name, "acl_verify_message")) {
		if (e->have_verify_message)
			xbuf_putsv(out, e->verify_message);
		return true;
	}
	return false;
}

acl_engine *acl_engine_of(acl_ctx *c)
{
	if (!c->engine) {
		acl_engine *e = arena_calloc(c->user_msg.a, 1, sizeof *e);
		e->a = c->user_msg.a;
		/* Temporaries of one top-level run live apart, so a long connection does not grow. */
		e->tmp = arena_new("acl-tmp");
		e->vars.get = engine_vars;
		e->vars.ctx = e;
		c->engine = e;
	}
	acl_engine *e = c->engine;
	e->ctx = c;
	if (!e->pushed && c->env) {
		xp_env_push_provider(c->env, &e->vars);
		e->pushed = true;
	}
	return e;
}

void acl_ctx_init(acl_ctx *c, arena *a, acl_where where, xp_env *env)
{
	memset(c, 0, sizeof *c);
	c->where = where;
	c->env = env;
	xbuf_init(&c->user_msg, a);
	xbuf_init(&c->log_msg, a);
	c->log_reject_target = LOG_MAIN | LOG_REJECT;
	c->smtp_session = true;
}

void acl_ctx_begin(acl_ctx *c, acl_where where)
{
	c->where = where;
	xbuf_reset(&c->user_msg);
	xbuf_reset(&c->log_msg);
	c->delay_seconds = 0;
	c->log_reject_target = LOG_MAIN | LOG_REJECT;   /* log_reject_target lasts for one ACL run */
	c->user_msg_details = 0;
	c->dnslist_domain = c->dnslist_matched = c->dnslist_text = c->dnslist_value = SV_NULL;
	c->domain_data = c->local_part_data = SV_NULL;
	if (c->engine)
		((acl_engine *)c->engine)->rl_cmd = NULL; /* a new command: per-command ratelimit results go */
}

void acl_ctx_release(acl_ctx *c)
{
	acl_engine *e = c->engine;
	if (e && e->tmp) {
		arena_free(e->tmp);
		e->tmp = NULL;
	}
	c->engine = NULL;
}

void acl_ctx_warned_reset(acl_ctx *c)
{
	acl_engine *e = c->engine;
	if (e)
		e->nwarned = 0;
}

void acl_ctx_message_done(acl_ctx *c)
{
	acl_engine *e = c->engine;
	if (e) {
		e->nwarned = 0;
		e->rl_mail = NULL;
		e->sender_verified = NULL;
		e->mime_count_set = false;
		for (size_t i = 0; i < e->nmvars && c->env; i++)
			xp_env_set_aclvar(c->env, e->mvars[i], SV_LIT(""));
		e->nmvars = 0;
	}
	acl_controls *k = &c->controls;
	k->submission = k->suppress_local_fixups = k->freeze = k->freeze_no_tell = false;
	k->queue = k->queue_only = k->no_mbox_unspool = k->fakedefer = k->fakereject = false;
	k->cutthrough_delivery = k->caseful_local_part = k->caselower_local_part = false;
	k->utf8_downconvert = k->dkim_disable_verify = k->dmarc_disable_verify = false;
	k->dmarc_enable_forensic = false;
	k->submission_domain = k->submission_name = k->fake_message = k->queue_name = SV_NULL;
	k->fake_folded = false;
	k->submission_sender_retain = false;
	c->add_headers = NULL;
	c->remove_headers = SV_NULL;
	c->queue = SV_NULL;
	c->discarded = false;
}

void acl_log(acl_ctx *c, unsigned which, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if ((c->ops && c->ops->log) || c->host_checking) {
		xbuf text;
		xbuf_init(&text, acl_engine_of(c)->tmp);
		xbuf_vprintf(&text, fmt, ap);
		if (c->ops && c->ops->log) {
			c->ops->log(c->ops_ctx, which, xbuf_cstr(&text));
		} else {
			fflush(stdout); /* after the replies so far, as Exim's -bh shows it */
			fprintf(stderr, "LOG: %s\n", xbuf_cstr(&text));
			fflush(stderr);
		}
	} else {
		log_vwrite(which, fmt, ap);
	}
	va_end(ap);
}

acl_result acl_error(acl_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	xbuf_reset(&c->log_msg);
	xbuf_vprintf(&c->log_msg, fmt, ap);
	va_end(ap);
	return ACL_ERROR;
}

sv acl_log_text(const acl_ctx *c)
{
	if (!c->log_msg.len && c->log_msg_none)
		return SV_NULL;
	return c->log_msg.len ? xbuf_sv(&c->log_msg) : xbuf_sv(&c->user_msg);
}

/* ---- running statements ---- */

/* Whether log_selector has the item (on when no configuration is loaded). */
static bool log_selected(logsel_id id)
{
	const log_config *lc = log_current_config();
	return !lc || logsel_has(&lc->selector, id);
}

/* The hooks the env has while an ACL runs: ${acl} inside it nests in this context. */
typedef struct hook_save {
	const xp_hooks *old;
	xp_hooks mine;
} hook_save;

static void hooks_install(acl_ctx *c, hook_save *s)
{
	s->old = c->env->hooks;
	if (s->old)
		s->mine = *s->old;
	else
		memset(&s->mine, 0, sizeof s->mine);
	s->mine.acl = acl_expand_hook;
	s->mine.acl_cond = acl_cond_hook;
	s->mine.ctx = c;
	c->env->hooks = &s->mine;
}

/* Expand message / log_message text; $acl_verify_message holds `previous` while it expands.
 * Empty or failed expansions leave *dst as it was (false). */
static bool expand_message(acl_ctx *c, sv raw, sv previous, xbuf *dst)
{
	acl_engine *e = acl_engine_of(c);
	e->verify_message = sv_copy(e->tmp, previous);
	e->have_verify_message = previous.len > 0;
	xbuf out, err;
	xbuf_init(&out, e->tmp);
	xbuf_init(&err, e->tmp);
	int rc = xp_expand(c->env, raw, &out, &err);
	e->have_verify_message = false;
	if (rc == XP_ERROR)
		acl_log(c, LOG_MAIN, "failed to expand ACL message \"" SV_FMT "\": %s", SV_ARG(raw), xbuf_cstr(&err));
	if (rc != XP_OK || !out.len)
		return false;
	xbuf_reset(dst);
	xbuf_putsv(dst, xbuf_sv(&out));
	return true;
}

/* Which condition outcomes make a verb take up its message/log_message (Exim's rule): the
 * outcomes for which the statement ends the ACL, plus a failing accept or discard (whose text
 * is then kept for a later implicit deny). */
static bool takes_messages(int verb, acl_result cond)
{
	switch (verb) {
	case V_ACCEPT:
	case V_DISCARD:
		return cond == ACL_OK || cond == ACL_FAIL;
	case V_REQUIRE:
		return cond == ACL_FAIL;
	default:
		return cond == ACL_OK;
	}
}

/* Set the statement's messages: for warn, and for an accept or discard that accepts, texts
 * from conditions (verify, nested ACLs) are dropped first; only this statement's own count.
 * True when log_message gave a text. */
static bool set_messages(acl_ctx *c, int verb, acl_result cond, sv msg_raw, sv log_raw)
{
	/* The dropped texts are still $acl_verify_message while this statement's expand (Exim
	 * 4.96: "accept acl = x" with "message = ... $acl_verify_message" passes x's text on). */
	acl_engine *e = acl_engine_of(c);
	sv old_user = sv_copy(e->tmp, xbuf_sv(&c->user_msg));
	sv old_log = c->log_msg.len ? sv_copy(e->tmp, xbuf_sv(&c->log_msg)) : old_user;
	if (verb == V_WARN || (cond == ACL_OK && (verb == V_ACCEPT || verb == V_DISCARD))) {
		xbuf_reset(&c->user_msg);
		xbuf_reset(&c->log_msg);
	}
	if (msg_raw.p) {
		expand_message(c, msg_raw, old_user, &c->user_msg);
		c->msg_empty_given = false;
	}
	return log_raw.p && expand_message(c, log_raw, old_log, &c->log_msg);
}

void acl_log_prefix(acl_ctx *c, xbuf *out)
{
	if (c->log_prefix) {
		xbuf_puts(out, c->log_prefix);
		return;
	}
	const msg_origin *o = c->origin;
	if (o && o->host_address.len) {
		xbuf_puts(out, "H=");
		if (o->host_name.len)
			xbuf_printf(out, SV_FMT " ", SV_ARG(o->host_name));
		if (o->helo_name.len)
			xbuf_printf(out, "(" SV_FMT ") ", SV_ARG(o->helo_name));
		xbuf_printf(out, "[" SV_FMT "]", SV_ARG(o->host_address));
	} else if (o && o->login.len) {
		xbuf_printf(out, "U=" SV_FMT, SV_ARG(o->login));
	}
}

/* A true warn statement, its messages already set: log_message is logged once per message,
 * message becomes a header (deprecated usage). */
static void warn_action(acl_ctx *c, bool have_msg, bool have_log)
{
	acl_engine *e = acl_engine_of(c);
	if (have_log && c->log_msg.len) {
		sv text = xbuf_sv(&c->log_msg);
		xbuf line;
		xbuf_init(&line, e->tmp);
		acl_log_prefix(c, &line);
		if (line.len)
			xbuf_putc(&line, ' ');
		/* Exim shows the text with non-printing characters escaped (tabs stay). */
		xbuf_puts(&line, "Warning: ");
		printing_escape(text, PRINT_TAB_LITERAL, &line);
		/* The same line is logged once: the host part counts (a HELO name set since makes it
		 * another line; Exim 4.96, observed). */
		sv whole = xbuf_sv(&line);
		bool seen = false;
		for (size_t i = 0; i < e->nwarned && !seen; i++)
			seen = sv_eq(e->warned[i], whole);
		if (!seen) {
			if (e->nwarned == e->warned_cap) {
				size_t ncap = e->warned_cap ? 2 * e->warned_cap : 4;
				e->warned = arena_realloc(e->a, e->warned, e->warned_cap * sizeof *e->warned,
					ncap * sizeof *e->warned);
				e->warned_cap = ncap;
			}
			e->warned[e->nwarned++] = sv_copy(acl_msg_arena(c), whole);
			acl_log(c, LOG_MAIN, "%s", xbuf_cstr(&line));
		}
	}
	if (!have_msg || !c->user_msg.len)
		return;
	if (!(ACL_BIT(c->where) & (ACL_BIT(ACL_WHERE_MAIL) | ACL_BIT(ACL_WHERE_RCPT)
		| ACL_BIT(ACL_WHERE_PREDATA) | ACL_BIT(ACL_WHERE_DATA) | ACL_BIT(ACL_WHERE_PRDR)
		| ACL_BIT(ACL_WHERE_MIME) | ACL_BIT(ACL_WHERE_NOTSMTP) | ACL_BIT(ACL_WHERE_DKIM)))) {
		acl_log(c, LOG_MAIN | LOG_PANIC, "ACL \"warn\" with \"message\" setting found in a non-message (%s) "
			"ACL: cannot specify header lines here: message ignored", acl_where_name(c->where));
		return;
	}
	sv text = xbuf_sv(&c->user_msg);
	xbuf hdr;
	xbuf_init(&hdr, e->tmp);
	size_t i = 0;
	while (i < text.len && text.p[i] > ' ' && text.p[i] < 127 && text.p[i] != ':')
		i++;
	if (!(i < text.len && text.p[i] == ':'))   /* ": x" too, as for add_header */
		xbuf_puts(&hdr, "X-ACL-Warn: ");
	xbuf_putsv(&hdr, text);
	acl_add_header(c, xbuf_sv(&hdr));
}

/* Where "discard" may be used (elsewhere it is an error, logged as Exim does). */
#define DISCARD_WHERES (ACL_BIT(ACL_WHERE_MAIL) | ACL_BIT(ACL_WHERE_RCPT) | ACL_BIT(ACL_WHERE_DATA) \
	| ACL_BIT(ACL_WHERE_MIME) | ACL_BIT(ACL_WHERE_DKIM) | ACL_BIT(ACL_WHERE_PRDR) | ACL_BIT(ACL_WHERE_NOTSMTP) \
	| ACL_BIT(ACL_WHERE_UNKNOWN))
/* (Not QUIT or not-QUIT: a nested ACL's discard reaching their top level through accept is
 * logged as not allowed there, Exim 4.96 observed; their own discard verb is refused as a
 * failing top-level verb first.) */

/* Run statements. Returns the ACL's result. */
static acl_result run(acl_ctx *c, const acl_stmt *st)
{
	acl_engine *e = acl_engine_of(c);
	bool last_took = false;   /* the last statement set its messages (see the implicit deny) */
	for (; st; st = st->next) {
		sv msg_raw = SV_NULL, log_raw = SV_NULL;
		bool endpass = false, drop = false;
		acl_result cond = ACL_OK;
		/* Each statement starts without texts: what an earlier one left (its message, a failed
		 * verify's text, a nested ACL's) does not reach a later refusal, and the implicit deny
		 * at the end has only the last statement's (observed with Exim 4.96). */
		xbuf_reset(&c->user_msg);
		xbuf_reset(&c->log_msg);
		c->log_msg_none = false;
		c->msg_empty_given = false;
		for (const acl_cond *cd = st->conds; cd; cd = cd->next) {
			const acl_cond_def *def = acl_cond_def_get(cd->id);
			/* Exim expands an argument that is expanded as a whole before it checks
			 * whether the item may be used here (an expansion error wins). */
			if (!def->expand && (def->forbids & ACL_BIT(c->where)))
				return acl_error(c, "cannot %s %s condition in %s ACL", def->modifier ? "use" : "test",
					def->name, acl_where_name(c->where));
			if (cd->id == C_MESSAGE) {
				msg_raw = cd->arg;
				continue;
			}
			if (cd->id == C_LOG_MESSAGE) {
				log_raw = cd->arg;
				continue;
			}
			if (cd->id == C_ENDPASS) {
				endpass = true;
				continue;
			}
			sv arg = cd->arg;
			if (def->expand) {
				xbuf out, err;
				xbuf_init(&out, e->tmp);
				xbuf_init(&err, e->tmp);
				int rc = xp_expand(c->env, cd->arg, &out, &err);
				if (rc == XP_FORCEFAIL)
					continue; /* a forced failure makes the condition be ignored */
				if (rc != XP_OK)
					return acl_error(c, "failed to expand ACL string \"" SV_FMT "\": %s", SV_ARG(cd->arg),
						xbuf_cstr(&err));
				arg = xbuf_sv(&out);
			}
			if (def->expand && (def->forbids & ACL_BIT(c->where)))
				return acl_error(c, "cannot %s %s condition in %s ACL", def->modifier ? "use" : "test",
					def->name, acl_where_name(c->where));
			acl_result r = acl_cond_run(c, cd, arg, st->verb);
			if (r == ACL_FAIL_DROP) {
				/* A negated "!acl =" turns a nested drop into a true condition and drops
				 * nothing (Exim 4.96, observed: the deny refuses, the session goes on). */
				if (!cd->negated)
					drop = true;
				r = ACL_FAIL;
			}
			if (r == ACL_DISCARD) {
				if (st->verb != V_ACCEPT && st->verb != V_DISCARD)
					return acl_error(c, "nested ACL returned \"discard\" for \"%s\" command (only allowed with \"accept\" or \"discard\")",
						acl_verb_name(st->verb));
				cond = ACL_DISCARD;
				break;
			}
			if (cd->negated && (r == ACL_OK || r == ACL_FAIL))
				r = r == ACL_OK ? ACL_FAIL : ACL_OK;
			if (r != ACL_OK) {
				cond = r;
				break;
			}
		}
		if (cond == ACL_ERROR) {
			/* A warn's texts never become the reply: not even a nested ACL's message set
			 * before the error (Exim 4.96, observed in the not-QUIT ACL's reply). */
			if (st->verb == V_WARN)
				xbuf_reset(&c->user_msg);
			return ACL_ERROR;
		}
		acl_result result = ACL_OK;
		bool terminal = false;
		switch (st->verb) {
		case V_ACCEPT:
		case V_DISCARD:
			if (cond == ACL_OK || cond == ACL_DISCARD) {
				result = st->verb == V_ACCEPT && cond == ACL_OK ? ACL_OK : ACL_DISCARD;
				terminal = true;
			} else if (cond == ACL_DEFER) {
				result = ACL_DEFER;
				terminal = true;
			} else if (endpass) {
				result = drop ? ACL_FAIL_DROP : ACL_FAIL;
				terminal = true;
			}
			break;
		case V_DEFER:
			if (cond == ACL_OK || cond == ACL_DEFER) {
				result = ACL_DEFER;
				terminal = true;
			}
			break;
		case V_DENY:
		case V_DROP:
			if (cond == ACL_OK) {
				result = st->verb == V_DROP || drop ? ACL_FAIL_DROP : ACL_FAIL;
				terminal = true;
			} else if (cond == ACL_DEFER) {
				result = ACL_DEFER;
				terminal = true;
			}
			break;
		case V_REQUIRE:
			if (cond == ACL_FAIL) {
				result = drop ? ACL_FAIL_DROP : ACL_FAIL;
				terminal = true;
			} else if (cond == ACL_DEFER) {
				result = ACL_DEFER;
				terminal = true;
			}
			break;
		case V_WARN:
			if (cond == ACL_OK) {
				set_messages(c, st->verb, cond, msg_raw, log_raw);
				warn_action(c, msg_raw.p != NULL, log_raw.p != NULL);
				xbuf_reset(&c->user_msg);
				xbuf_reset(&c->log_msg);
			} else if (cond == ACL_DEFER && log_selected(LS_ACL_WARN_SKIPPED)) {
				xbuf line;
				xbuf_init(&line, e->tmp);
				acl_log_prefix(c, &line);
				if (line.len)
					xbuf_putc(&line, ' ');
				/* The log text only: a reply text an earlier condition left (verify = csa's,
				 * which stays when it holds) is not the deferral's reason (Exim 4.96, observed:
				 * a host list naming an unknown list defers without one). */
				sv why = xbuf_sv(&c->log_msg);
				acl_log(c, LOG_MAIN, "%sWarning: ACL \"warn\" statement skipped: condition test deferred%s" SV_FMT,
					xbuf_cstr(&line), why.len ? ": " : "", SV_ARG(why));
			}
			/* Whatever its outcome, a warn leaves no text behind for an implicit deny after it
			 * (Exim 4.96: a failed "verify = certificate" in a warn does not become the reply). */
			xbuf_reset(&c->user_msg);
			xbuf_reset(&c->log_msg);
			break;
		}
		last_took = st->verb != V_WARN && takes_messages(st->verb, cond);
		/* A refusal's log_message comes before the text its own conditions logged (a failed
		 * verify's): "log_message: verify text" (Exim 4.96, observed with deny and require). */
		sv cond_log = SV_NULL;
		if (last_took && terminal && log_raw.p && (result == ACL_FAIL || result == ACL_FAIL_DROP) && c->log_msg.len)
			cond_log = sv_copy(e->tmp, xbuf_sv(&c->log_msg));
		/* With endpass, an accept's (discard's) message is for the refusal only: not even
		 * expanded when it accepts (Exim 4.96 logs no expansion failure then, observed). */
		bool endpass_ok = endpass && cond == ACL_OK && (st->verb == V_ACCEPT || st->verb == V_DISCARD);
		/* A log_message that expands to nothing (forced failure) leaves the conditions' text
		 * alone, not put twice (Exim 4.96, observed). */
		bool log_given = last_took && set_messages(c, st->verb, cond, endpass_ok ? SV_NULL : msg_raw, log_raw);
		if (cond_log.len && log_given)
			xbuf_printf(&c->log_msg, ": " SV_FMT, SV_ARG(cond_log));
		if (endpass_ok)
			xbuf_reset(&c->user_msg);
		/* Only accept and warn belong there; an accept failing after endpass is not an error,
		 * nor is a deferred condition (Exim 4.96 ends the ACL with DEFER and says nothing). */
		if (terminal && result != ACL_OK && cond != ACL_DEFER && e->depth == 1 && st->verb != V_ACCEPT
			&& (c->where == ACL_WHERE_QUIT || c->where == ACL_WHERE_NOTQUIT))
			return acl_error(c, "QUIT or not-QUIT toplevel ACL may not fail ('%s' verb used incorrectly)",
				acl_verb_name(st->verb));
		/* A "discard" result where it is not allowed is an error, found when the top-level ACL
		 * ends with it (a nested ACL's discard reaches that far through accept; Exim tests the
		 * statement's conditions first, their own errors coming before it). The statement's
		 * texts are set by then: the refusal's log line shows them. */
		if (terminal && result == ACL_DISCARD && e->depth == 1 && !(ACL_BIT(c->where) & DISCARD_WHERES)) {
			acl_log(c, LOG_MAIN | LOG_PANIC, "\"discard\" verb not allowed in %s ACL", acl_where_name(c->where));
			return ACL_ERROR;
		}
		/* So is "drop" in the MAILAUTH ACL (Exim 4.96, observed: logged, and the AUTH=
		 * deferred with the statement's texts). */
		if (terminal && result == ACL_FAIL_DROP && e->depth == 1 && c->where == ACL_WHERE_MAILAUTH) {
			acl_log(c, LOG_MAIN | LOG_PANIC, "\"drop\" verb not allowed in %s ACL", acl_where_name(c->where));
			return ACL_ERROR;
		}
		if (terminal)
			return result;
	}
	/* Implicit deny at the end: the last statement's texts are the reply and the log reason; a
	 * text its failed condition left behind without the statement taking messages (a deny
	 * whose verify failed) reaches the reply only (observed with verify = certificate). */
	if (e->depth == 1 && !last_took)
		c->log_msg_none = true;
	return ACL_FAIL;
}

static acl_result run_spec(acl_ctx *c, sv spec)
{
	acl_engine *e = acl_engine_of(c);
	if (e->depth >= ACL_MAX_DEPTH)
		return acl_error(c, "ACL nested too deep: possible loop");
	hook_save hs;
	hooks_install(c, &hs);
	/* The name (or text) is expanded at every level, as Exim does: a forced failure accepts,
	 * an error is an error, and a tainted result is refused. */
	xbuf name, err;
	xbuf_init(&name, e->tmp);
	xbuf_init(&err, e->tmp);
	int rc = xp_expand(c->env, spec, &name, &err);
	acl_result r;
	if (rc == XP_FORCEFAIL) {
		r = ACL_OK;
	} else if (rc != XP_OK) {
		r = acl_error(c, "failed to expand ACL string \"" SV_FMT "\": %s", SV_ARG(spec), xbuf_cstr(&err));
	} else if (name.taint) {
		acl_log(c, LOG_MAIN | LOG_PANIC, "attempt to use tainted ACL text \"%s\"", xbuf_cstr(&name));
		r = acl_error(c, "internal configuration error");
	} else {
		bool ok;
		acl_stmt *st = acl_resolve(c, xbuf_sv(&name), &ok);
		if (!ok) {
			r = ACL_ERROR;
		} else {
			e->depth++;
			r = run(c, st);
			e->depth--;
		}
	}
	c->env->hooks = hs.old;
	return r;
}

/* Long replies are folded as Exim folds them: a line longer than 75 characters is broken at a
 * space no further right than column 75 and no further left than column 36, preferring one just
 * after a colon, else the rightmost; without such a space, at the first space or newline after
 * the limit; a word that cannot be broken stays whole. */
void acl_fold_message(xbuf *msg)
{
	if (msg->len <= 75)
		return;
	char *p = msg->p;
	size_t n = msg->len, line = 0; /* start of the current line */
	for (;;) {
		size_t i = line;
		while (i < n && i - line < 75 && p[i] != '\n')
			i++;
		if (i >= n)
			return;
		if (p[i] == '\n') {
			line = i + 1;
			continue;
		}
		size_t cut = 0;
		bool found = false;
		for (size_t t = i; t > line + 35; t--) {
			if (p[t] != ' ')
				continue;
			if (p[t - 1] == ':') {
				cut = t;
				found = true;
				break;
			}
			if (!found) {
				cut = t;
				found = true;
			}
		}
		if (!found) {
			for (size_t t = i + 1; t < n; t++)
				if (p[t] == ' ' || p[t] == '\n') {
					cut = t;
					found = true;
					break;
				}
		}
		if (!found)
			return;
		p[cut] = '\n';
		line = cut + 1;
	}
}

acl_result acl_check(acl_ctx *c, sv spec)
{
	acl_engine *e = acl_engine_of(c);
	/* MAIL was discarded: every recipient goes the same way, with or without a RCPT ACL. */
	if (c->discarded && c->where == ACL_WHERE_RCPT)
		return ACL_DISCARD;
	if (!spec.len) {
		switch (c->where) {
		case ACL_WHERE_RCPT:
		case ACL_WHERE_VRFY:
		case ACL_WHERE_EXPN:
			return ACL_FAIL; /* these commands are refused when no ACL is configured */
		default:
			return ACL_OK;
		}
	}
	if (e->depth == 0) {
		e->rl_cmd = NULL; /* one top-level ACL per command: per-command ratelimit results go */
		arena_clear(e->tmp);
	}
	acl_result r = run_spec(c, spec);
	if (r == ACL_DISCARD && c->where == ACL_WHERE_MAIL)
		c->discarded = true;
	if (e->depth == 0 && (r == ACL_FAIL || r == ACL_FAIL_DROP || r == ACL_DEFER || r == ACL_ERROR))
		acl_verify_report_sender(c, r);
	/* A discarding ACL's texts are not folded (Exim 4.96, observed: the DATA ACL's discard
	 * message and a fake reject text set there are sent on one line). */
	if (e->depth == 0 && r != ACL_DISCARD && c->user_msg.len > 75) {
		/* The log keeps the text as it was written (when no log_message replaced it, and
		 * unless the refusal logs no reason: an implicit deny after sender verify details). */
		if (!c->log_msg.len && !c->log_msg_none)
			xbuf_putsv(&c->log_msg, xbuf_sv(&c->user_msg));
		acl_fold_message(&c->user_msg);
	}
	if (e->depth == 0 && r != ACL_DISCARD && (c->controls.fakereject || c->controls.fakedefer))
		c->controls.fake_folded = true;
	return r;
}

acl_result acl_run_nested(acl_ctx *c, sv spec, const sv *args, int nargs)
{
	acl_engine *e = acl_engine_of(c);
	sv saved[ACL_MAX_ARGS];
	int nsaved = e->nargs;
	memcpy(saved, e->args, sizeof saved);
	/* $acl_argN last this nested run (restored below): temporaries, not the engine's
	 * connection-long arena (a copy per "acl =" with arguments, each message). */
	for (int i = 0; i < ACL_MAX_ARGS; i++)
		e->args[i] = i < nargs ? sv_copy(e->tmp, args[i]) : SV_NULL;
	e->nargs = nargs;
	acl_result r = run_spec(c, spec);
	memcpy(e->args, saved, sizeof saved);
	e->nargs = nsaved;
	return r;
}

/* Run an ACL for an expansion item or condition: its messages belong to this call only; the
 * user message (accept or deny) goes to out. Returns the ACL's result; > ACL_MAX_ARGS arguments
 * give ACL_ERROR with err set. */
static acl_result run_for_expansion(acl_ctx *c, sv name, const sv *args, int nargs, xbuf *out, xbuf *err)
{
	if (nargs > ACL_MAX_ARGS) {
		xbuf_printf(err, "Too many arguments passed to ACL \"" SV_FMT "\"", SV_ARG(name));
		return ACL_ERROR;
	}
	xbuf saved_user = c->user_msg, saved_log = c->log_msg;
	xbuf_init(&c->user_msg, saved_user.a);
	xbuf_init(&c->log_msg, saved_log.a);
	acl_result r = acl_run_nested(c, name, args, nargs);
	sv user = xbuf_sv(&c->user_msg);
	c->user_msg = saved_user;
	c->log_msg = saved_log;
	if (r == ACL_OK || r == ACL_FAIL)
		xbuf_putsv(out, user);
	else {
		static const char *const names[] = { "OK", "FAIL", "DEFER", "ERROR", "DISCARD", "FAIL_DROP" };
		xbuf_printf(err, "%s from acl \"" SV_FMT "\"", names[r], SV_ARG(name));
	}
	return r;
}

int acl_expand_hook(void *ctx, sv name, const sv *args, int nargs, xbuf *out, xbuf *err)
{
	acl_result r = run_for_expansion(ctx, name, args, nargs, out, err);
	if (r == ACL_OK || r == ACL_FAIL)
		return XP_OK;
	return r == ACL_DEFER ? XP_FORCEFAIL : XP_ERROR;  /* ${acl}: defer is a forced failure */
}

/* ${if acl{{name}{args...}}}: accept is true and deny false, with the ACL's message as $value in
 * both cases; anything else (defer, error) makes the expansion fail, as in Exim. */
int acl_cond_hook(void *ctx, sv name, const sv *args, int nargs, bool *accepted, xbuf *out, xbuf *err)
{
	acl_result r = run_for_expansion(ctx, name, args, nargs, out, err);
	*accepted = r == ACL_OK;
	return r == ACL_OK || r == ACL_FAIL ? XP_OK : XP_ERROR;
}
